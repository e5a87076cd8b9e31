package icetable_test

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icetable"
)

// duck opens an in-memory DuckDB.
func duck(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// duckRows runs the plan's SQL for the folder lake f in DuckDB and returns
// its orders as scan does.
func (f *fixture) duckRows(t testing.TB, db *sql.DB, p icetable.Plan) map[int64][]string {
	t.Helper()
	q := f.duckSQL(t, p)
	rows, err := db.Query("SELECT order_id, status, updated_at FROM (" + q + ")")
	if err != nil {
		t.Fatalf("DuckDB: %v\n%s", err, q)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var status string
		var up time.Time
		if err := rows.Scan(&id, &status, &up); err != nil {
			t.Fatal(err)
		}
		out[id] = append(out[id], status+"@"+up.UTC().Format(time.RFC3339))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// duckSQL is the plan's DuckDB SQL over the folder lake f.
func (f *fixture) duckSQL(t testing.TB, p icetable.Plan) string {
	t.Helper()
	q, err := p.DuckDB(func(key string) string { return filepath.Join(f.dir, key) })
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (f *fixture) plan(t testing.TB, kind icetable.Kind, asOf time.Time) icetable.Plan {
	t.Helper()
	ident, _ := icetable.Ident(kind, f.t.Name)
	p, err := f.lake.Plan(t.Context(), ident, asOf)
	if err != nil {
		t.Fatal(err)
	}
	return jsonRoundTrip(t, p)
}

func TestPlanWithDeletesInDuckDB(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	db := duck(t)
	first := versions(1, span(0, 500)...)
	f.merge(t, "first", first)
	time.Sleep(5 * time.Millisecond)
	afterFirst := time.Now()
	time.Sleep(5 * time.Millisecond)
	second := slices.Concat(versions(3, span(100, 300)...), versions(2, span(400, 600)...))
	f.merge(t, "second", second)
	third := versions(0, span(0, 50)...) // all stale
	f.merge(t, "third", third)

	p := f.plan(t, icetable.Current, time.Time{})
	var deletes int
	for _, pf := range p.Files {
		deletes += len(pf.Deletes)
	}
	if deletes == 0 {
		t.Fatalf("plan %+v has no delete files; the test needs some", p)
	}
	want := latest(first, second)
	if got := f.duckRows(t, db, p); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("DuckDB reads %d orders from _current, want %d", len(got), len(want))
	}
	if got := f.scan(t, icetable.Current); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("iceberg-go reads %d orders from _current, want %d", len(got), len(want))
	}

	// time travel: as of just after the first merge
	old := f.plan(t, icetable.Current, afterFirst)
	if old.SnapshotID == p.SnapshotID {
		t.Fatalf("as-of plan is the current snapshot %d", p.SnapshotID)
	}
	if got, want := f.duckRows(t, db, old), latest(first); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("DuckDB reads %d orders as of the first merge, want %d", len(got), len(want))
	}
	if _, err := f.lake.Plan(t.Context(), table.Identifier{"silver", "orders_current"}, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil || !strings.Contains(err.Error(), "no snapshot at or before 2000-01-01") {
		t.Errorf("plan before the first snapshot: %v, want an error saying so", err)
	}
}

func TestPlanEvolvedAndEmpty(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	db := duck(t)
	f.commit(t, f.write(t, icetable.Silver, "v1", versions(1, 1, 2)))
	// add a column; no file holds it yet
	tbl := f.load(t, icetable.Silver)
	txn := tbl.NewTransaction()
	upd := txn.UpdateSchema(true, false)
	upd.AddColumn([]string{"note"}, iceberg.PrimitiveTypes.String, "", false, nil)
	if err := upd.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	// the current snapshot still has the old schema; write with the new
	files, err := f.writeSchema(t, "v2", withField("", &arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}))
	if err != nil {
		t.Fatal(err)
	}
	f.commit(t, files)
	q := f.duckSQL(t, f.plan(t, icetable.Silver, time.Time{}))
	var n, notes int
	if err := db.QueryRow("SELECT count(*), count(note) FROM ("+q+")").Scan(&n, &notes); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if n != 3 || notes != 0 {
		t.Errorf("count(*)=%d count(note)=%d, want 3 and 0", n, notes)
	}

	// a table with no snapshot yet reads as empty, with its columns
	if _, err := f.lake.NewWriter(t.Context(), icetable.Discarded, f.t, icetable.Object{Key: "k"}, ordersSchema); err == nil {
		t.Fatal("discarded without DQ columns accepted")
	}
	empty := icetable.Plan{Table: "x", Columns: []icetable.Column{{Name: "a", Type: "BIGINT", IDs: []int{1}}, {Name: "b", Type: "VARCHAR[]", IDs: []int{2, 3}}}}
	q, err = empty.DuckDB(func(key string) string { return key })
	if err != nil {
		t.Fatal(err)
	}
	var cols string
	if err := db.QueryRow("SELECT count(*)::VARCHAR || ' ' || typeof(any_value(b)) FROM (" + q + ")").Scan(&cols); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if cols != "0 VARCHAR[]" {
		t.Errorf("empty plan reads as %q, want no rows of the columns' types", cols)
	}
}

func TestPlanEveryTypeInDuckDB(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.commitAllTypes(t)
	q := f.duckSQL(t, f.plan(t, icetable.Silver, time.Time{}))
	db := duck(t)
	var got string
	err := db.QueryRow(`SELECT concat_ws(' | ', c_smallint, c_integer, c_real, c_double, c_boolean, c_text, hex(c_bytea), c_date, c_time,
		c_timestamp, strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f'), c_numeric, c_int_array::VARCHAR, c_text_array::VARCHAR, c_interval::VARCHAR, typeof(c_numeric), typeof(created_at)) FROM (` + q + ") WHERE order_id = 1").Scan(&got)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	want := "-32768 | 2147483647 | 1.5 | -2.25 | true | naïve 🦆 | 0001FF | 2024-10-04 | 23:59:59.999999 | " +
		"2025-03-04 05:06:07.890124 | 2025-03-04 05:06:07.890124 | -12345678.9012345678 | [1, NULL] | [a] | " +
		"{'months': 14, 'days': -3, 'microseconds': 4000000} | DECIMAL(38,10) | TIMESTAMP WITH TIME ZONE"
	if got != want {
		t.Errorf("DuckDB reads\n%s\nwant\n%s", got, want)
	}
}

func TestCorruptFilesAreNamed(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(f *fixture) string // returns the key it corrupted
		op      func(f *fixture) error
	}{
		{"metadata file", func(f *fixture) string {
			return strings.TrimPrefix(f.load(t, icetable.Current).MetadataLocation(), f.fs.Root()+"/")
		}, func(f *fixture) error {
			_, err := f.lake.Commit(t.Context(), f.t, f.write(t, icetable.Silver, "x", versions(3, 1)))
			var corrupt *icecatalog.CorruptMetadataError
			if err != nil && !errors.As(err, &corrupt) {
				return fmt.Errorf("not a *CorruptMetadataError: %w", err)
			}
			_, err = f.lake.Plan(t.Context(), table.Identifier{"silver", "orders_current"}, time.Time{})
			return err
		}},
		{"manifest list", func(f *fixture) string {
			return strings.TrimPrefix(f.load(t, icetable.Current).CurrentSnapshot().ManifestList, f.fs.Root()+"/")
		}, func(f *fixture) error {
			_, err := f.lake.Plan(t.Context(), table.Identifier{"silver", "orders_current"}, time.Time{})
			return err
		}},
		{"data file", func(f *fixture) string {
			return f.plan(t, icetable.Current, time.Time{}).Files[0].Key
		}, func(f *fixture) error {
			_, err := f.lake.Commit(t.Context(), f.t, f.write(t, icetable.Current, "y", versions(3, 1)))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, icetable.Options{})
			f.merge(t, "a", versions(1, span(0, 10)...))
			key := tt.corrupt(f)
			if _, err := f.st.Put(t.Context(), key, strings.NewReader("not what it should be"), nil); err != nil {
				t.Fatal(err)
			}
			err := tt.op(f)
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("error %v, want one naming %s", err, key)
			}
		})
	}
}
