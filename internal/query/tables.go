package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icetable"
)

// view is the view of one table of the engine: its columns, and how to
// read the table.
type view struct {
	db, name string
	columns  []column
	// read returns the SELECT that reads the table, fetching its files
	// first when the lake is remote.
	read func(ctx context.Context) (string, error)
	// fail, when set, is why the table cannot be read: its view fails
	// with this message.
	fail   string
	loaded bool
	// snap is the snapshot read, for an Iceberg table.
	snap *Snapshot
}

// column is a column of a view, with its DuckDB type.
type column struct{ name, typ string }

func (t *view) ident() string { return ident(t.db) + "." + ident(t.name) }

// icebergTable is the view of the kind of Iceberg table of the contract
// table name as of asOf (zero: now), or nil when the table does not exist
// (nothing was ever written to it). It reads only the table's metadata:
// the table is planned (its manifests read) when a statement names it.
//
// A time before the table's first snapshot, when the table still holds
// its whole history (its oldest snapshot has no parent), finds the table
// empty. A time before the oldest snapshot kept, when older ones have
// expired, cannot be read, nor can a table whose metadata cannot be
// loaded: a statement that names the table fails with an error saying
// why (naming the oldest kept snapshot, or the metadata file), and the
// other tables stay readable.
func icebergTable(ctx context.Context, lake *icetable.Lake, kind icetable.Kind, name string, asOf time.Time, files *files, cache plans) (*view, error) {
	id, err := icetable.Ident(kind, name)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	full := id[0] + "." + id[1]
	v := &view{db: id[0], name: id[1], snap: &Snapshot{Table: full}}
	tbl, err := lake.Catalog().LoadTable(ctx, id)
	switch {
	case errors.Is(err, icecatalog.ErrNoSuchTable):
		return nil, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil: // a corrupt metadata file, say: the other tables stay readable
		v.fail = fmt.Sprintf("query: %s: %v", full, err)
		v.snap.Err = v.fail
		return v, nil
	}
	snap, empty := tbl.CurrentSnapshot(), false
	if !asOf.IsZero() {
		if snap = tbl.SnapshotAsOf(asOf.UnixMilli(), true); snap == nil {
			oldest := oldestSnapshot(tbl)
			empty = oldest == nil || oldest.ParentSnapshotID == nil
			if !empty {
				v.fail = fmt.Sprintf("query: %s has no snapshot at or before %s: its oldest kept snapshot is of %s (older ones expired after the table's snapshot retention)",
					full, asOf.UTC().Format(time.RFC3339Nano), time.UnixMilli(oldest.TimestampMs).UTC().Format(time.RFC3339Nano))
				v.snap.Err = v.fail
			}
		}
	}
	schema := tbl.Schema()
	if snap != nil {
		v.snap.SnapshotID, v.snap.Timestamp = snap.SnapshotID, time.UnixMilli(snap.TimestampMs).UTC()
		if s, ok := tbl.Schemas()[*cmp.Or(snap.SchemaID, &schema.ID)]; ok {
			schema = s
		}
	}
	cols, err := icetable.Columns(schema)
	if err != nil {
		return nil, fmt.Errorf("query: %s: %w", full, err)
	}
	for _, c := range cols {
		v.columns = append(v.columns, column{c.Name, c.Type})
	}
	folder, err := lake.Catalog().FS().Key(tbl.Location())
	if err != nil {
		return nil, fmt.Errorf("query: %s: %w", full, err)
	}
	v.read = func(ctx context.Context) (string, error) {
		if empty || snap == nil {
			return failing(v.columns, "") + " WHERE false", nil
		}
		return readPlan(ctx, lake, tbl, asOf, folder, files, cache, v.snap)
	}
	return v, nil
}

// readPlan plans tbl as of asOf (or takes the plan of its snapshot from
// the cache), fetches its files when the lake is remote, and returns the
// SELECT that reads them; snap gets the snapshot's file counts.
func readPlan(ctx context.Context, lake *icetable.Lake, tbl *table.Table, asOf time.Time, folder string, files *files, cache plans, snap *Snapshot) (string, error) {
	p, ok := cache.get(snap.Table, snap.SnapshotID)
	if !ok {
		var err error
		if p, err = lake.PlanTable(ctx, tbl, asOf); err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		if err := cache.put(p); err != nil {
			return "", fmt.Errorf("query: %s: %w", snap.Table, err)
		}
	}
	var keys []string
	deletes := map[string]bool{}
	for _, f := range p.Files {
		keys = append(keys, f.Key)
		for _, d := range f.Deletes {
			if !deletes[d] {
				deletes[d] = true
				keys = append(keys, d)
			}
		}
	}
	snap.DataFiles, snap.DeleteFiles = len(p.Files), len(deletes)
	if err := files.fetch(ctx, folder, keys); err != nil {
		return "", fmt.Errorf("query: %s: %w", p.Table, err)
	}
	sql, err := p.DuckDB(files.local)
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	return sql, nil
}

// oldestSnapshot is the oldest snapshot tbl keeps, or nil.
func oldestSnapshot(tbl *table.Table) *table.Snapshot {
	snaps := tbl.Metadata().Snapshots()
	var oldest *table.Snapshot
	for i := range snaps {
		if oldest == nil || snaps[i].TimestampMs < oldest.TimestampMs {
			oldest = &snaps[i]
		}
	}
	return oldest
}

// metaTable is the meta table t: its JSON records, read with DuckDB's
// type inference (RFC 3339 strings read as timestamps). A table whose
// records are all gone reads as empty, with the catalogued columns.
func metaTable(t *catalog.Table, files *files) *view {
	mt := &view{db: t.Database, name: t.Name}
	for _, c := range t.Columns {
		mt.columns = append(mt.columns, column{c.Name, duckType(c.Type)})
	}
	pattern := cmp.Or(t.Files, "*.json")
	mt.read = func(ctx context.Context) (string, error) {
		if err := files.mirrorPrefix(ctx, t.Location, pattern); err != nil {
			return "", fmt.Errorf("query: %s.%s: %w", t.Database, t.Name, err)
		}
		base := files.local(t.Location)
		if !hasFile(base, pattern) {
			return failing(mt.columns, "") + " WHERE false", nil
		}
		return fmt.Sprintf("SELECT * FROM read_json_auto(%s, union_by_name = true, format = 'auto')", literal(base+"/**/"+pattern)), nil
	}
	return mt
}

// hasFile reports whether a file under dir matches pattern.
func hasFile(dir, pattern string) bool {
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(pattern, d.Name()); ok && !d.IsDir() {
			return found
		}
		return nil
	})
	return err == found
}

// failing is a SELECT of no rows with the columns cols that fails with
// msg when it is read (msg empty: it does not fail).
func failing(cols []column, msg string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = fmt.Sprintf("CAST(NULL AS %s) AS %s", c.typ, ident(c.name))
	}
	if len(out) == 0 {
		out = []string{"NULL AS " + ident("no columns")}
	}
	sel := "SELECT " + strings.Join(out, ", ")
	if msg == "" {
		return sel
	}
	return sel + " FROM (SELECT error(" + literal(msg) + ") AS e) WHERE e IS NULL"
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
		return "TIMESTAMPTZ" // the lake's timestamps are instants
	}
	return strings.ToUpper(hive) // date, bigint, smallint, tinyint, boolean, double, decimal(p,s)
}

// ident quotes a DuckDB identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literal quotes a DuckDB string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
