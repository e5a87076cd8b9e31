// Package query runs SQL over the lake's catalogued tables on embedded
// DuckDB (github.com/duckdb/duckdb-go/v2). Open creates an in-memory DuckDB
// with the schemas silver, discarded and meta, and one view per catalogued
// table:
//
//   - silver.<table> and discarded.<table>: the table's Parquet objects,
//     Hive-partitioned, read with union_by_name so that objects written
//     before a column was added read it as NULL; the view selects the
//     catalogued columns, so the catalog, not whatever lies in the folder,
//     says what a table has;
//   - silver.<table>_current: the latest version of each primary key, by
//     the table's cursor; ties (the same key and cursor value) are broken
//     by the greatest object key, then the last row in that object, so the
//     answer is the same every time;
//   - meta.<table>: the JSON records of the meta tables.
//
// Nothing is downloaded at run time: Parquet and JSON are built into the
// bundled DuckDB, extension auto-install and auto-load are switched off.
// A lake in a local folder is read in place. For any other store (S3),
// DuckDB would need its httpfs extension, which is a download; instead the
// tables' objects are mirrored through the store into a local cache folder
// (only objects whose ETag changed are fetched again) and read there.
//
// Only the lake command imports this package (it links DuckDB through cgo);
// the Lambdas never do.
package query

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store"
)

// Options tune Open.
type Options struct {
	// CacheDir is where the objects of a lake that is not a local folder
	// are mirrored. Required for such lakes.
	CacheDir string
}

// Engine is an in-memory DuckDB with views over the lake's tables.
type Engine struct {
	db *sql.DB
}

// folder is implemented by stores whose objects are plain files under a
// local folder (store/filestore).
type folder interface{ Dir() string }

// Open creates the engine and its views over every table of cat's
// databases silver, discarded and meta. The views read the objects of s.
func Open(ctx context.Context, s store.Store, cat catalog.Catalog, opts Options) (*Engine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("query: open DuckDB: %w", err)
	}
	e := &Engine{db: db}
	if err := e.setup(ctx, s, cat, opts); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) setup(ctx context.Context, s store.Store, cat catalog.Catalog, opts Options) error {
	for _, stmt := range []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET TimeZone = 'UTC'",
	} {
		if _, err := e.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("query: %s: %w", stmt, err)
		}
	}
	var root string
	mirror := false
	if f, ok := s.(folder); ok {
		root = f.Dir()
	} else {
		if opts.CacheDir == "" {
			return errors.New("query: the lake is not a local folder: a cache folder is needed to mirror its tables for DuckDB")
		}
		root, mirror = opts.CacheDir, true
	}
	for _, dbName := range layout.Databases {
		if _, err := e.db.ExecContext(ctx, "CREATE SCHEMA "+ident(dbName)); err != nil {
			return fmt.Errorf("query: create schema %s: %w", dbName, err)
		}
		tables, err := cat.ListTables(ctx, dbName)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		for _, t := range tables {
			if mirror {
				if err := mirrorTable(ctx, s, root, t); err != nil {
					return err
				}
			}
			for _, v := range Views(t, root) {
				if _, err := e.db.ExecContext(ctx, v); err != nil {
					return fmt.Errorf("query: view over %s.%s: %w", t.Database, t.Name, err)
				}
			}
		}
	}
	return nil
}

// Views returns the CREATE VIEW statements for t, whose objects are files
// under the local folder root: the table's view and, for a table with a
// primary key and a cursor, its _current view. A table whose objects are
// all gone (expired, say) gets empty views with the catalogued columns, so
// that it does not break every other query.
func Views(t *catalog.Table, root string) []string {
	name := ident(t.Database) + "." + ident(t.Name)
	if !hasObjects(t, root) {
		empty := emptyRelation(t)
		views := []string{fmt.Sprintf("CREATE VIEW %s AS %s", name, empty)}
		if len(t.PrimaryKey) > 0 && t.Cursor != "" {
			views = append(views, fmt.Sprintf("CREATE VIEW %s.%s AS %s", ident(t.Database), ident(layout.CurrentName(t.Name)), empty))
		}
		return views
	}
	if t.Format == catalog.FormatJSON {
		files := cmp.Or(t.Files, "*.json")
		src := fmt.Sprintf("read_json_auto(%s, union_by_name = true, format = 'auto')", literal(root+"/"+t.Location+"**/"+files))
		return []string{fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM %s", name, src)}
	}
	cols := make([]string, 0, len(t.Columns)+len(t.PartitionKeys))
	for _, c := range t.Columns {
		cols = append(cols, ident(c.Name))
	}
	var hiveTypes []string
	for _, k := range t.PartitionKeys {
		cols = append(cols, ident(k.Name))
		hiveTypes = append(hiveTypes, literal(k.Name)+": "+literal(duckType(k.Type)))
	}
	glob := literal(root + "/" + t.Location + strings.Repeat("*/", len(t.PartitionKeys)) + "*.parquet")
	opts := "union_by_name = true"
	if len(hiveTypes) > 0 {
		opts += ", hive_partitioning = true, hive_types = {" + strings.Join(hiveTypes, ", ") + "}"
	} else {
		opts += ", hive_partitioning = false"
	}
	list := strings.Join(cols, ", ")
	views := []string{fmt.Sprintf("CREATE VIEW %s AS SELECT %s FROM read_parquet(%s, %s)", name, list, glob, opts)}
	if len(t.PrimaryKey) == 0 || t.Cursor == "" {
		return views
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = ident(k)
	}
	// file_index (the object's rank in the sorted list of object keys) and
	// file_row_number are DuckDB's virtual columns: integers, cheap to sort.
	views = append(views, fmt.Sprintf(
		"CREATE VIEW %s.%s AS SELECT %s FROM read_parquet(%s, %s) "+
			"QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s DESC NULLS LAST, file_index DESC, file_row_number DESC) = 1",
		ident(t.Database), ident(layout.CurrentName(t.Name)), list, glob, opts, strings.Join(pk, ", "), ident(t.Cursor)))
	return views
}

// hasObjects reports whether any object of t is under root.
func hasObjects(t *catalog.Table, root string) bool {
	base := filepath.Join(root, filepath.FromSlash(t.Location))
	if t.Format == catalog.FormatParquet {
		m, _ := filepath.Glob(filepath.Join(base, strings.Repeat("*/", len(t.PartitionKeys))+"*.parquet"))
		return len(m) > 0
	}
	found := errors.New("found")
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(cmp.Or(t.Files, "*.json"), d.Name()); ok && !d.IsDir() {
			return found
		}
		return nil
	})
	return err == found
}

// emptyRelation is a SELECT of no rows with t's columns and types.
func emptyRelation(t *catalog.Table) string {
	var cols []string
	for _, c := range slices.Concat(t.Columns, t.PartitionKeys) {
		cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", duckType(c.Type), ident(c.Name)))
	}
	return "SELECT " + strings.Join(cols, ", ") + " WHERE false"
}

// duckType is the DuckDB type of a catalog (Hive) type, nested types
// included: array<T> is T[], map<K,V> MAP(K, V), struct<a:T> STRUCT("a" T).
func duckType(hive string) string {
	inner := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(hive, prefix+"<")
		if !ok || !strings.HasSuffix(rest, ">") {
			return "", false
		}
		return rest[:len(rest)-1], true
	}
	if elem, ok := inner("array"); ok {
		return duckType(elem) + "[]"
	}
	if kv, ok := inner("map"); ok {
		parts := catalog.SplitTypeList(kv)
		if len(parts) == 2 {
			return "MAP(" + duckType(parts[0]) + ", " + duckType(parts[1]) + ")"
		}
	}
	if fields, ok := inner("struct"); ok {
		var out []string
		for _, f := range catalog.SplitTypeList(fields) {
			name, typ, _ := strings.Cut(f, ":")
			out = append(out, ident(name)+" "+duckType(typ))
		}
		return "STRUCT(" + strings.Join(out, ", ") + ")"
	}
	switch hive {
	case "string":
		return "VARCHAR"
	case "int":
		return "INTEGER"
	case "float":
		return "FLOAT"
	case "binary":
		return "BLOB"
	case "timestamp":
		return "TIMESTAMPTZ" // the lake's timestamps are instants (Parquet UTC)
	}
	return strings.ToUpper(hive) // date, bigint, smallint, tinyint, boolean, double, decimal(p,s)
}

// ident quotes a DuckDB identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literal quotes a DuckDB string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// DB is the underlying DuckDB, for callers that run their own statements.
func (e *Engine) DB() *sql.DB { return e.db }

// Close closes DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// Query runs one SQL statement and prints its result to w as rows arrive.
// A statement DuckDB refuses returns DuckDB's error as is.
func (e *Engine) Query(ctx context.Context, query string, w format.Writer) error {
	rows, err := e.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	cols := make([]format.Column, len(types))
	for i, ct := range types {
		cols[i] = format.Column{Name: ct.Name(), Numeric: isNumeric(ct.DatabaseTypeName())}
	}
	if err := w.Header(cols); err != nil {
		return err
	}
	raw := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([]format.Value, len(types))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range raw {
			vals[i] = Value(v, types[i].DatabaseTypeName())
		}
		if err := w.Row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return w.Close()
}

func isNumeric(dbType string) bool {
	switch {
	case strings.HasPrefix(dbType, "DECIMAL"):
		return true
	}
	switch dbType {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return false
}

// Value converts a value scanned from DuckDB, of the column type dbType,
// to a printable value.
func Value(v any, dbType string) format.Value {
	switch v := v.(type) {
	case nil:
		return format.Null
	case time.Time:
		switch dbType {
		case "DATE":
			return format.Date(v)
		case "TIME":
			return format.String(v.Format("15:04:05.999999"))
		case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
			return format.Timestamp(v, true)
		}
		return format.Timestamp(v, false)
	case duckdb.Decimal:
		return format.Decimal(v.Value, int(v.Scale))
	case float64:
		return format.Float(v)
	case float32:
		return format.Float(float64(v))
	case bool:
		return format.Bool(v)
	case string:
		return format.String(v)
	case []byte:
		if dbType == "UUID" && len(v) == 16 {
			h := hex.EncodeToString(v)
			return format.String(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
		}
		return format.String(`\x` + hex.EncodeToString(v))
	case *big.Int:
		return format.Number(v.String())
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return format.Number(fmt.Sprint(v))
	case duckdb.Interval:
		return format.String(fmt.Sprintf("%d months %d days %s", v.Months, v.Days, time.Duration(v.Micros)*time.Microsecond))
	}
	switch v.(type) {
	case []any, map[string]any, duckdb.OrderedMap:
		return format.Raw(format.Marshal(nested(v)))
	}
	return format.String(fmt.Sprint(v))
}

// nested turns a list, map or struct from DuckDB into values json.Marshal
// renders the way format does for scalars; map keys keep their order.
func nested(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = nested(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = nested(e)
		}
		return out
	case duckdb.OrderedMap:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range v.Keys() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(format.Marshal(fmt.Sprint(k)))
			b.WriteByte(':')
			b.WriteString(format.Marshal(nested(v.Values()[i])))
		}
		b.WriteByte('}')
		return json.RawMessage(b.Bytes())
	case nil:
		return nil
	case string, bool, float64, float32, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return v
	}
	f := Value(v, "")
	if f.JSON != "" {
		return json.RawMessage(f.JSON)
	}
	return f.Text
}
