package gluecatalog_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/catalogtest"
	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newClient returns a Glue client on moto_server in a region of its own,
// which is an empty catalog.
func newClient(t *testing.T) *glue.Client {
	endpoint := testenv.Moto(t)
	return glue.New(glue.Options{
		Region:       testenv.MotoRegion(),
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, catalogtest.Options{}, func(t *testing.T) catalog.Catalog {
		c, err := gluecatalog.New(newClient(t), "s3://lake-bucket/prod")
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// TestStoredShape checks what Athena reads: the S3 location, the SerDe and
// the parameters of a stored table and partition.
func TestStoredShape(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	c, err := gluecatalog.New(client, "s3://lake-bucket/prod/")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureDatabase(ctx, "silver"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTable(ctx, catalogtest.Orders()); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "silver", "orders", []catalog.Partition{{Values: []string{"2024-01-01"}, Location: "silver/staging/orders/dt=2024-01-01/"}}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("silver"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	sd := out.Table.StorageDescriptor
	for _, tc := range []struct{ description, got, want string }{
		{"location", aws.ToString(sd.Location), "s3://lake-bucket/prod/silver/staging/orders/"},
		{"serde", aws.ToString(sd.SerdeInfo.SerializationLibrary), "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
		{"table type", aws.ToString(out.Table.TableType), "EXTERNAL_TABLE"},
		{"primary key", out.Table.Parameters["lake.primary_key"], "order_id"},
		{"cursor", out.Table.Parameters["lake.cursor"], "updated_at"},
		{"partition key", aws.ToString(out.Table.PartitionKeys[0].Name) + " " + aws.ToString(out.Table.PartitionKeys[0].Type), "dt date"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.description, tc.got, tc.want)
		}
	}
	parts, err := client.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String("silver"), TableName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(parts.Partitions[0].StorageDescriptor.Location), "s3://lake-bucket/prod/silver/staging/orders/dt=2024-01-01/"; got != want {
		t.Errorf("partition location = %q, want %q", got, want)
	}
}
