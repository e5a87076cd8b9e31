package crawl_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestGlueCurrentView crawls into the Glue Data Catalog (moto_server):
// the silver table gets its _current view for Athena, as an Athena view.
func TestGlueCurrentView(t *testing.T) {
	client := glue.New(glue.Options{
		Region:       testenv.MotoRegion(),
		BaseEndpoint: aws.String(testenv.Moto(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	cat, err := gluecatalog.New(client, "s3://lake-bucket")
	if err != nil {
		t.Fatal(err)
	}
	l := newLake(t)
	l.crawler.Catalog = cat
	if _, err := l.crawler.Crawl(ctx, record(t, ordersFields, "dt=2024-01-01")); err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("silver"), Name: aws.String("orders_current")})
	if err != nil {
		t.Fatalf("silver.orders_current after a crawl into Glue: %v", err)
	}
	if got := aws.ToString(out.Table.TableType); got != "VIRTUAL_VIEW" {
		t.Errorf("silver.orders_current TableType = %q, want VIRTUAL_VIEW", got)
	}
}
