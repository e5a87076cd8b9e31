package crawl_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/gluepointer"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestGlue commits into the Glue Data Catalog (moto_server) over a lake in
// an S3 bucket (versitygw), as in AWS: the tables are Iceberg tables in
// the deployment's prefixed databases, as Athena reads them, and the meta
// tables are there too.
func TestGlue(t *testing.T) {
	client := glue.New(glue.Options{
		Region:       testenv.MotoRegion(),
		BaseEndpoint: aws.String(testenv.Moto(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	s3, err := s3store.New(t.Context(), testenv.S3(t).Options("lake"))
	if err != nil {
		t.Fatal(err)
	}
	l := newLake(t)
	ice, err := pipeline.OpenIceberg(s3, "", gluepointer.New(client, "", gluepointer.WithDatabasePrefix("stack_")))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := gluecatalog.New(client, s3.URL(), gluecatalog.WithDatabasePrefix("stack_"))
	if err != nil {
		t.Fatal(err)
	}
	l.iceberg, l.crawler.Iceberg, l.crawler.Catalog, l.crawler.Store = ice, ice, meta, noSourceReads{s3}
	for _, db := range []string{"stack_silver", "stack_discarded", "stack_meta"} { // the stack creates them
		if _, err := client.CreateDatabase(t.Context(), &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String(db)}}); err != nil {
			t.Fatal(err)
		}
	}
	rec := l.routed(t, "e1", []bronzetest.Order{bronzetest.Good(1, day)}, []bronzetest.Order{bronzetest.Good(2, day)})
	if _, err := l.crawler.Crawl(t.Context(), rec); err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	for _, name := range []string{"orders", "orders_current"} {
		out, err := client.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String("stack_silver"), Name: aws.String(name)})
		if err != nil {
			t.Fatalf("stack_silver.%s: %v", name, err)
		}
		if got := out.Table.Parameters["table_type"]; got != "ICEBERG" || out.Table.Parameters["metadata_location"] == "" {
			t.Errorf("stack_silver.%s parameters %v, want an Iceberg table with its metadata location", name, out.Table.Parameters)
		}
	}
	if _, err := client.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String("stack_meta"), Name: aws.String("dq_results")}); err != nil {
		t.Errorf("stack_meta.dq_results: %v", err)
	}
	if got := l.rows(t); got["silver.orders"] != 1 || got["discarded.orders"] != 1 {
		t.Errorf("rows %v, want 1 in silver and 1 in discarded", got)
	}
}
