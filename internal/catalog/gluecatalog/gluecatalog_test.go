package gluecatalog_test

import (
	"context"
	"errors"
	"strconv"
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
	for _, prefix := range []string{"", "lake_"} {
		t.Run("database prefix "+strconv.Quote(prefix), func(t *testing.T) {
			catalogtest.Run(t, catalogtest.Options{}, func(t *testing.T) catalog.Catalog {
				c, err := gluecatalog.New(newClient(t), "s3://lake-bucket/prod", gluecatalog.WithDatabasePrefix(prefix))
				if err != nil {
					t.Fatal(err)
				}
				return c
			})
		})
	}
}

// TestDatabasePrefix checks that two lakes with different prefixes keep
// their databases apart in one Glue catalog, each under its own names,
// and that a prefix that would make invalid names is refused.
func TestDatabasePrefix(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	open := func(prefix string) *gluecatalog.Catalog {
		c, err := gluecatalog.New(client, "s3://lake-"+prefix+"bucket", gluecatalog.WithDatabasePrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one, two := open("one_"), open("two_")
	for _, c := range []*gluecatalog.Catalog{one, two} {
		if err := c.EnsureDatabase(ctx, "silver"); err != nil {
			t.Fatal(err)
		}
	}
	orders := catalogtest.Orders()
	if err := one.PutTable(ctx, orders); err != nil {
		t.Fatal(err)
	}
	if got, want := one.DatabaseName("silver"), "one_silver"; got != want {
		t.Errorf("DatabaseName(silver) = %q, want %q", got, want)
	}
	for _, name := range []string{"one_silver", "two_silver"} {
		if _, err := client.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String(name)}); err != nil {
			t.Errorf("Glue database %s: %v", name, err)
		}
	}
	if _, err := client.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("silver")}); err == nil {
		t.Error("Glue database silver exists; with a prefix no unprefixed database is made")
	}
	got, err := one.GetTable(ctx, "silver", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got.Database != "silver" {
		t.Errorf("table's database = %q, want the lake's name silver", got.Database)
	}
	if tables, err := two.ListTables(ctx, "silver"); err != nil || len(tables) != 0 {
		t.Errorf("the other lake's silver tables = %d (%v), want none", len(tables), err)
	}
	if _, err := gluecatalog.New(client, "s3://b", gluecatalog.WithDatabasePrefix("Lake-")); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("prefix Lake-: %v, want an error wrapping catalog.ErrInvalid", err)
	}
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
