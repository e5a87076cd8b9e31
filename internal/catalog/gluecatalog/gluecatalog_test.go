package gluecatalog_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

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
		if err := c.EnsureDatabase(ctx, "meta"); err != nil {
			t.Fatal(err)
		}
	}
	if err := one.PutTable(ctx, catalogtest.Watermarks()); err != nil {
		t.Fatal(err)
	}
	if got, want := one.DatabaseName("meta"), "one_meta"; got != want {
		t.Errorf("DatabaseName(meta) = %q, want %q", got, want)
	}
	for _, name := range []string{"one_meta", "two_meta"} {
		if _, err := client.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String(name)}); err != nil {
			t.Errorf("Glue database %s: %v", name, err)
		}
	}
	if _, err := client.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String("meta")}); err == nil {
		t.Error("Glue database meta exists; with a prefix no unprefixed database is made")
	}
	got, err := one.GetTable(ctx, "meta", "watermarks")
	if err != nil {
		t.Fatal(err)
	}
	if got.Database != "meta" {
		t.Errorf("table's database = %q, want the lake's name meta", got.Database)
	}
	if tables, err := two.ListTables(ctx, "meta"); err != nil || len(tables) != 0 {
		t.Errorf("the other lake's meta tables = %d (%v), want none", len(tables), err)
	}
	if _, err := gluecatalog.New(client, "s3://b", gluecatalog.WithDatabasePrefix("Lake-")); !errors.Is(err, catalog.ErrInvalid) {
		t.Errorf("prefix Lake-: %v, want an error wrapping catalog.ErrInvalid", err)
	}
}

// TestStoredShape checks what Athena reads: the S3 location, the formats,
// the SerDe and the parameters of a stored table.
func TestStoredShape(t *testing.T) {
	ctx := context.Background()
	client, _ := newMeta(t, "s3://lake-bucket/prod/", "", catalogtest.Executions())
	out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("meta"), Name: aws.String("executions")})
	if err != nil {
		t.Fatal(err)
	}
	sd := out.Table.StorageDescriptor
	for _, tc := range []struct{ description, got, want string }{
		{"location", aws.ToString(sd.Location), "s3://lake-bucket/prod/_meta/executions/"},
		{"input format", aws.ToString(sd.InputFormat), "org.apache.hadoop.mapred.TextInputFormat"},
		{"serde", aws.ToString(sd.SerdeInfo.SerializationLibrary), "org.openx.data.jsonserde.JsonSerDe"},
		{"table type", aws.ToString(out.Table.TableType), "EXTERNAL_TABLE"},
		{"classification", out.Table.Parameters["classification"], "json"},
		{"files", out.Table.Parameters["lake.files"], "execution.json"},
		{"columns", fmt.Sprint(len(sd.Columns)), "2"},
		{"partition keys", fmt.Sprint(len(out.Table.PartitionKeys)), "0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.description, tc.got, tc.want)
		}
	}
}

// TestListTablesLeavesOutViews checks that a view made in the meta
// database (an analyst's CREATE VIEW in Athena) is not listed as a table
// of the lake.
func TestListTablesLeavesOutViews(t *testing.T) {
	ctx := context.Background()
	client, c := newMeta(t, "s3://lake-bucket", "lake_", catalogtest.Watermarks())
	if _, err := client.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("lake_meta"), TableInput: &types.TableInput{
		Name:             aws.String("latest_watermarks"),
		TableType:        aws.String("VIRTUAL_VIEW"),
		Parameters:       map[string]string{"presto_view": "true"},
		ViewOriginalText: aws.String("/* Presto View: e30= */"),
		StorageDescriptor: &types.StorageDescriptor{
			Columns:   []types.Column{{Name: aws.String("table"), Type: aws.String("string")}},
			SerdeInfo: &types.SerDeInfo{},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables(ctx, "meta")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Name != "watermarks" {
		t.Errorf("ListTables = %d tables, want only watermarks (views are left out)", len(tables))
	}
}

// newMeta returns a new Glue client and the catalog on it of the lake at
// root, its databases named with prefix, with the meta database holding
// tables.
func newMeta(t *testing.T, root, prefix string, tables ...*catalog.Table) (*glue.Client, *gluecatalog.Catalog) {
	t.Helper()
	client := newClient(t)
	c, err := gluecatalog.New(client, root, gluecatalog.WithDatabasePrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureDatabase(t.Context(), "meta"); err != nil {
		t.Fatal(err)
	}
	for _, tab := range tables {
		if err := c.PutTable(t.Context(), tab); err != nil {
			t.Fatal(err)
		}
	}
	return client, c
}
