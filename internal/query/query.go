// Package query runs SQL over the lake's tables on embedded DuckDB
// (github.com/duckdb/duckdb-go/v2), offline. Open creates an in-memory
// DuckDB with the schemas silver, discarded and meta, and one view per
// table:
//
//   - silver.<table>, silver.<table>_current and discarded.<table>: the
//     Apache Iceberg tables of each contract table (internal/icetable),
//     read at their current snapshot, or at the snapshot current at
//     Options.AsOf (time travel). A table is planned with iceberg-go (its
//     data files and the position delete files that apply to them) and
//     its view reads the data files by column name (a column added later
//     reads as NULL in older files) minus the rows the delete files name
//     (Plan.DuckDB).
//   - meta.<table>: the JSON records of the meta tables, as the catalog
//     (internal/catalog) lists them.
//
// Open reads only each Iceberg table's metadata file. A view is filled in
// when a statement names its table (database.table): until then it has
// the table's columns and fails when read. So a statement pays for the
// tables it reads and no other: their manifests are read then (or the
// plan of their snapshot taken from the cache folder, since a snapshot
// never changes), and on a lake in S3 only their files are downloaded.
//
// Nothing is downloaded at run time: Parquet and JSON are built into the
// bundled DuckDB, extension auto-install and auto-load are switched off.
// A lake in a local folder is read in place. For any other store (S3),
// DuckDB would need its httpfs extension, which is a download; instead
// the files a statement needs are mirrored through the store into a
// local cache folder and read there (mirror.go).
//
// Only the lake command imports this package (it links DuckDB through
// cgo); the Lambdas never do.
package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"golang.org/x/sync/errgroup"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/query/sqlnames"
)

// Options tune Open.
type Options struct {
	// Tables are the lake's table names (the contracts'): their Iceberg
	// tables silver.<t>, silver.<t>_current and discarded.<t> are read
	// where they exist.
	Tables []string
	// AsOf, when not zero, reads the Iceberg tables as they were at that
	// time (the snapshot current then). The meta tables are read as they
	// are now.
	AsOf time.Time
	// CacheDir is where the files of a lake that is not a local folder
	// are mirrored (required for such lakes), and where the plans of the
	// snapshots read are kept (when set).
	CacheDir string
}

// Engine is an in-memory DuckDB with views over the lake's tables.
type Engine struct {
	db     *sql.DB
	tables map[string]*view // by database.name
	order  []*view          // in the order they were found
}

// Snapshot is the snapshot of an Iceberg table that an Engine reads.
type Snapshot struct {
	Table string // e.g. silver.orders
	// SnapshotID is 0 when the table had no snapshot at the time read
	// (it was empty then).
	SnapshotID int64
	Timestamp  time.Time // when the snapshot was committed
	// DataFiles and DeleteFiles count the snapshot's data files and
	// position delete files once a statement has read the table (which
	// plans it); 0 before.
	DataFiles   int
	DeleteFiles int
	// Err is why the table cannot be read (at the time asked, before the
	// oldest snapshot kept; or its metadata): a statement that names it
	// fails with it.
	Err string
}

// Open creates the engine and its views over the Iceberg tables of
// opts.Tables in lake and the meta tables that meta lists.
func Open(ctx context.Context, lake *icetable.Lake, meta catalog.Catalog, opts Options) (*Engine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("query: open DuckDB: %w", err)
	}
	e := &Engine{db: db, tables: map[string]*view{}}
	if err := e.setup(ctx, lake, meta, opts); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) setup(ctx context.Context, lake *icetable.Lake, meta catalog.Catalog, opts Options) error {
	for _, stmt := range []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET TimeZone = 'UTC'",
	} {
		if _, err := e.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("query: %s: %w", stmt, err)
		}
	}
	for _, dbName := range layout.Databases {
		if _, err := e.db.ExecContext(ctx, "CREATE SCHEMA "+ident(dbName)); err != nil {
			return fmt.Errorf("query: create schema %s: %w", dbName, err)
		}
	}
	files, err := newFiles(lake.Catalog().FS().Store(), opts.CacheDir)
	if err != nil {
		return err
	}
	// Load the tables' metadata at once; add their views in order.
	kinds := icetable.Kinds
	views := make([]*view, len(opts.Tables)*len(kinds))
	g, gctx := errgroup.WithContext(ctx)
	for i, name := range opts.Tables {
		for j, kind := range kinds {
			g.Go(func() (err error) {
				views[i*len(kinds)+j], err = icebergTable(gctx, lake, kind, name, opts.AsOf, files, plans{opts.CacheDir})
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, v := range views {
		if v != nil {
			if err := e.add(ctx, v); err != nil {
				return err
			}
		}
	}
	metas, err := meta.ListTables(ctx, layout.DatabaseMeta)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for _, m := range metas {
		if err := e.add(ctx, metaTable(m, files)); err != nil {
			return err
		}
	}
	return nil
}

// add creates t's view, empty until a statement names it.
func (e *Engine) add(ctx context.Context, t *view) error {
	msg := t.fail
	if msg == "" {
		msg = fmt.Sprintf("query: %s.%s was not loaded for this statement: name it as %s.%s", t.db, t.name, t.db, t.name)
	}
	if _, err := e.db.ExecContext(ctx, fmt.Sprintf("CREATE VIEW %s AS %s", t.ident(), failing(t.columns, msg))); err != nil {
		return fmt.Errorf("query: view over %s.%s: %w", t.db, t.name, err)
	}
	e.tables[t.db+"."+t.name] = t
	e.order = append(e.order, t)
	return nil
}

// Snapshots are the snapshots of the Iceberg tables the engine reads.
func (e *Engine) Snapshots() []Snapshot {
	var out []Snapshot
	for _, v := range e.order {
		if v.snap != nil {
			out = append(out, *v.snap)
		}
	}
	return out
}

// load fills in the views of the tables that query names (every table
// when query cannot be scanned: DuckDB will say what is wrong with it). A
// named table that cannot be read is an error saying why.
func (e *Engine) load(ctx context.Context, query string) error {
	need := map[*view]bool{}
	names, err := sqlnames.Find(query)
	scanned := err == nil
	if !scanned {
		for _, t := range e.order {
			need[t] = true
		}
	}
	for _, n := range names {
		// database.table, catalog.database.table, database.table.column
		for i := 0; i <= 1 && i+1 < len(n); i++ {
			if t, ok := e.tables[n[i].Folded()+"."+n[i+1].Folded()]; ok {
				need[t] = true
			}
		}
	}
	var load []*view
	for _, t := range e.order {
		switch {
		case !need[t] || t.loaded:
		case t.fail != "":
			if scanned {
				return errors.New(t.fail)
			}
		default:
			load = append(load, t)
		}
	}
	// Plan and fetch the tables at once; create their views in order.
	srcs := make([]string, len(load))
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range load {
		g.Go(func() (err error) {
			srcs[i], err = t.read(gctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, t := range load {
		if _, err := e.db.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", t.ident(), srcs[i])); err != nil {
			return fmt.Errorf("query: view over %s.%s: %w", t.db, t.name, err)
		}
		t.loaded = true
	}
	return nil
}

// Close closes DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// Query runs one SQL statement and prints its result to w as rows arrive,
// after filling in the views of the tables it names (and, for a lake in
// S3, fetching their files). A statement DuckDB refuses returns DuckDB's
// error as is.
func (e *Engine) Query(ctx context.Context, query string, w format.Writer) error {
	if err := e.load(ctx, query); err != nil {
		return err
	}
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
