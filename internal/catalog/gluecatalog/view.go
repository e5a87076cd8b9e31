package gluecatalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/layout"
)

var _ catalog.CurrentViewer = (*Catalog)(nil)

// viewType is the Glue table type of an Athena view.
const viewType = "VIRTUAL_VIEW"

// PutCurrentView implements catalog.CurrentViewer: it registers
// <table>_current as an Athena view, the way Athena's CREATE VIEW stores
// one in Glue (TableType VIRTUAL_VIEW, the view's definition as a Presto
// view in ViewOriginalText). The view keeps, for each primary key, the
// row with the greatest cursor; ties (the same version landed twice) go to
// the later object ("$path"). It is replaced whenever the table's columns
// change, so a new column shows in the view too.
func (c *Catalog) PutCurrentView(ctx context.Context, t *catalog.Table) error {
	if len(t.PrimaryKey) == 0 || t.Cursor == "" {
		return fmt.Errorf("gluecatalog: view of %s.%s: the table has no primary key and cursor: %w", t.Database, t.Name, catalog.ErrInvalid)
	}
	cols := slices.Concat(t.Columns, t.PartitionKeys)
	names := make([]string, len(cols))
	presto := make([]prestoColumn, len(cols))
	for i, col := range cols {
		names[i] = quote(col.Name)
		typ, err := prestoType(col.Type)
		if err != nil {
			return fmt.Errorf("gluecatalog: view of %s.%s: column %s: %w", t.Database, t.Name, col.Name, err)
		}
		presto[i] = prestoColumn{Name: col.Name, Type: typ}
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = quote(k)
	}
	sql := fmt.Sprintf(`SELECT %s FROM (SELECT *, row_number() OVER (PARTITION BY %s ORDER BY %s DESC NULLS LAST, "$path" DESC) AS "lake_version_rank" FROM %s.%s) WHERE "lake_version_rank" = 1`,
		strings.Join(names, ", "), strings.Join(pk, ", "), quote(t.Cursor), quote(c.DatabaseName(t.Database)), quote(t.Name))
	def, err := json.Marshal(prestoView{OriginalSQL: sql, Catalog: "awsdatacatalog", Schema: c.DatabaseName(t.Database), Columns: presto})
	if err != nil {
		return err
	}
	name := layout.CurrentName(t.Name)
	in := &types.TableInput{
		Name:             aws.String(name),
		Description:      aws.String(fmt.Sprintf("The latest version of each %s of %s.%s, by %s.", strings.Join(t.PrimaryKey, ", "), t.Database, t.Name, t.Cursor)),
		TableType:        aws.String(viewType),
		Parameters:       map[string]string{"presto_view": "true", "comment": "Presto View"},
		ViewOriginalText: aws.String("/* Presto View: " + base64.StdEncoding.EncodeToString(def) + " */"),
		ViewExpandedText: aws.String("/* Presto View */"),
		StorageDescriptor: &types.StorageDescriptor{
			Columns:   toGlueColumns(cols),
			SerdeInfo: &types.SerDeInfo{},
		},
	}
	db := aws.String(c.DatabaseName(t.Database))
	_, err = c.client.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: db, TableInput: in})
	if isA[*types.AlreadyExistsException](err) {
		_, err = c.client.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: db, TableInput: in})
	}
	if err != nil {
		return fmt.Errorf("gluecatalog: put view %s.%s: %w", t.Database, name, mapErr(err))
	}
	return nil
}

// prestoView is the view definition Athena keeps, base64-encoded, in a
// view's ViewOriginalText.
type prestoView struct {
	OriginalSQL string         `json:"originalSql"`
	Catalog     string         `json:"catalog"`
	Schema      string         `json:"schema"`
	Columns     []prestoColumn `json:"columns"`
}

type prestoColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// prestoType is the Presto/Trino name of a Hive column type, as a Presto
// view lists its columns.
func prestoType(hive string) (string, error) {
	switch hive {
	case "string":
		return "varchar", nil
	case "int":
		return "integer", nil
	case "tinyint", "smallint", "bigint", "double", "boolean", "date":
		return hive, nil
	case "float":
		return "real", nil
	case "binary":
		return "varbinary", nil
	case "timestamp":
		return "timestamp(3)", nil
	}
	if strings.HasPrefix(hive, "decimal(") || strings.HasPrefix(hive, "varchar(") || strings.HasPrefix(hive, "char(") {
		return hive, nil
	}
	if elem, ok := strings.CutPrefix(hive, "array<"); ok && strings.HasSuffix(elem, ">") {
		e, err := prestoType(elem[:len(elem)-1])
		return "array(" + e + ")", err
	}
	if fields, ok := strings.CutPrefix(hive, "struct<"); ok && strings.HasSuffix(fields, ">") {
		var out []string
		for _, f := range catalog.SplitTypeList(fields[:len(fields)-1]) {
			name, typ, ok := strings.Cut(f, ":")
			if !ok {
				return "", fmt.Errorf("hive type %q: want name:type fields", hive)
			}
			pt, err := prestoType(typ)
			if err != nil {
				return "", err
			}
			out = append(out, name+" "+pt)
		}
		return "row(" + strings.Join(out, ", ") + ")", nil
	}
	return "", fmt.Errorf("hive type %q has no Presto name here: %w", hive, catalog.ErrInvalid)
}

// quote quotes an identifier for Presto/Trino SQL.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
