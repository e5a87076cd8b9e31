package gluecatalog_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/gluecatalog"
)

// TestCurrentView registers silver.orders_current against moto_server and
// checks it is stored the way Athena's CREATE VIEW stores a view (in the
// Glue database the prefix gives, which the view's SQL names), that a
// second call replaces it, and that ListTables leaves it out.
func TestCurrentView(t *testing.T) {
	for _, tc := range []struct{ description, prefix, glueDB string }{
		{"no database prefix", "", "silver"},
		{"database prefix lake_", "lake_", "lake_silver"},
	} {
		t.Run(tc.description, func(t *testing.T) { testCurrentView(t, tc.prefix, tc.glueDB) })
	}
}

func testCurrentView(t *testing.T, prefix, glueDB string) {
	ctx := context.Background()
	client := newClient(t)
	c, err := gluecatalog.New(client, "s3://lake-bucket/prod", gluecatalog.WithDatabasePrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureDatabase(ctx, "silver"); err != nil {
		t.Fatal(err)
	}
	tbl := &catalog.Table{
		Database: "silver", Name: "orders", Location: "silver/staging/orders/", Format: catalog.FormatParquet,
		Columns: []catalog.Column{
			{Name: "order_id", Type: "bigint"}, {Name: "status", Type: "string"}, {Name: "amount", Type: "decimal(12,2)"},
			{Name: "updated_at", Type: "timestamp"}, {Name: "tags", Type: "array<string>"},
			{Name: "spent", Type: "struct<months:int,days:int,microseconds:bigint>"},
		},
		PartitionKeys: []catalog.Column{{Name: "dt", Type: "string"}},
		PrimaryKey:    []string{"order_id"}, Cursor: "updated_at",
	}
	if err := c.PutTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	for range 2 { // created, then replaced
		if err := c.PutCurrentView(ctx, tbl); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(glueDB), Name: aws.String("orders_current")})
	if err != nil {
		t.Fatal(err)
	}
	gt := out.Table
	if got, want := aws.ToString(gt.TableType), "VIRTUAL_VIEW"; got != want {
		t.Errorf("TableType = %q, want %q", got, want)
	}
	if got := gt.Parameters["presto_view"]; got != "true" {
		t.Errorf("presto_view parameter = %q, want true", got)
	}
	text := aws.ToString(gt.ViewOriginalText)
	enc, ok := strings.CutPrefix(text, "/* Presto View: ")
	if !ok || !strings.HasSuffix(enc, " */") {
		t.Fatalf("ViewOriginalText = %q, want /* Presto View: <base64> */", text)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(enc, " */"))
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		OriginalSQL string `json:"originalSql"`
		Catalog     string `json:"catalog"`
		Schema      string `json:"schema"`
		Columns     []struct{ Name, Type string }
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		t.Fatal(err)
	}
	wantSQL := `SELECT "order_id", "status", "amount", "updated_at", "tags", "spent", "dt" FROM (SELECT *, row_number() OVER (PARTITION BY "order_id" ORDER BY "updated_at" DESC NULLS LAST, "$path" DESC) AS "lake_version_rank" FROM "` + glueDB + `"."orders") WHERE "lake_version_rank" = 1`
	if view.OriginalSQL != wantSQL || view.Catalog != "awsdatacatalog" || view.Schema != glueDB {
		t.Errorf("view = %+v\nwant SQL %s", view, wantSQL)
	}
	wantTypes := []string{"bigint", "varchar", "decimal(12,2)", "timestamp(3)", "array(varchar)", "row(months integer, days integer, microseconds bigint)", "varchar"}
	if len(view.Columns) != len(wantTypes) {
		t.Fatalf("view columns = %+v, want %d", view.Columns, len(wantTypes))
	}
	for i, w := range wantTypes {
		if view.Columns[i].Type != w {
			t.Errorf("column %s: Presto type %q, want %q", view.Columns[i].Name, view.Columns[i].Type, w)
		}
	}
	tables, err := c.ListTables(ctx, "silver")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Name != "orders" {
		t.Errorf("ListTables = %d tables, want only orders (views are left out)", len(tables))
	}
	if err := c.PutCurrentView(ctx, &catalog.Table{Database: "silver", Name: "nokey"}); err == nil {
		t.Error("PutCurrentView of a table without a key and cursor succeeded")
	}
}
