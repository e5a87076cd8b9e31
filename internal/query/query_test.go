package query_test

import (
	"io"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/queries"
)

func TestTables(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	e := l.open(t, query.Options{})
	for _, tc := range []struct{ description, sql, want string }{
		{
			"current holds the latest version per key by the cursor; the late object's older version is not applied",
			`SELECT order_id, status, note FROM silver.orders_current ORDER BY order_id`,
			"order_id,status,note\n1,SHIPPED,gift\n2,PENDING,\n3,RETURNED,\n",
		},
		{
			"silver keeps every version; files written before the column was added read it as NULL",
			`SELECT order_id, count(*) AS versions, count(note) AS notes FROM silver.orders GROUP BY ALL ORDER BY order_id`,
			"order_id,versions,notes\n1,3,1\n2,1,0\n3,4,1\n",
		},
		{
			"discarded rows with the rules they failed",
			`SELECT order_id, DataQualityEvaluationResult, len(dataqualityrulesfail) AS fails, DataQualityFailedValues[2] AS v FROM discarded.orders`,
			"order_id,DataQualityEvaluationResult,fails,v\n4,Failed,2,-1.00\n",
		},
		{
			"meta watermarks (DuckDB reads the RFC 3339 text as a timestamp)",
			`SELECT "table", watermark.us, watermark.utc FROM meta.watermarks`,
			"table,us,utc\norders,1704326400000000,2024-01-04 00:00:00\n",
		},
		{
			"columns keep their Iceberg types",
			`SELECT typeof(created_at) AS c, typeof(amount) AS a, typeof(note) AS n FROM silver.orders LIMIT 1`,
			"c,a,n\nTIMESTAMP WITH TIME ZONE,\"DECIMAL(12,2)\",VARCHAR\n",
		},
		{
			"tables of a statement that names them all, in a join",
			`SELECT count(*) AS n FROM silver.orders_current c JOIN silver.orders s USING (order_id) WHERE s.updated_at = c.updated_at`,
			"n\n3\n",
		},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if got := run(t, e, format.CSV, tc.sql); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	// _current was read with position deletes applied.
	for _, s := range e.Snapshots() {
		if s.Table == "silver.orders_current" && s.DeleteFiles == 0 {
			t.Errorf("silver.orders_current was planned without delete files (%+v): the test means to apply some", s)
		}
	}
}

// TestCurrentAcrossCommits commits a newer version of a key later and
// checks that a new engine reads it.
func TestCurrentAcrossCommits(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	const q = `SELECT status FROM silver.orders_current WHERE order_id = 2`
	if got, want := run(t, l.open(t, query.Options{}), format.CSV, q), "status\nPENDING\n"; got != want {
		t.Fatalf("before: %q, want %q", got, want)
	}
	l.valid(t, "o5", withNote, order(2, "DELIVERED", "0.05", "2024-02-02T08:00:00Z", "2024-02-05T00:00:00Z", `"note": null`))
	if got, want := run(t, l.open(t, query.Options{}), format.CSV, q), "status\nDELIVERED\n"; got != want {
		t.Fatalf("after: %q, want %q", got, want)
	}
}

func TestFormats(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	e := l.open(t, query.Options{})
	const q = `SELECT order_id, amount, updated_at, CAST(created_at AS DATE) AS day, note, order_id / 4 AS scaled, [status, currency] AS tags
		FROM silver.orders_current WHERE order_id IN (1, 2) ORDER BY order_id`
	for _, tc := range []struct{ kind, want string }{
		{format.Table, `order_id | amount | updated_at              | day        | note | scaled | tags
---------+--------+-------------------------+------------+------+--------+------------------
       1 |  10.00 | 2024-01-04 09:30:00.25Z | 2024-01-01 | gift |   0.25 | ["SHIPPED","EUR"]
       2 |   0.05 | 2024-02-02 08:00:00Z    | 2024-02-02 | NULL |    0.5 | ["PENDING","EUR"]
(2 rows)
`},
		{format.CSV, `order_id,amount,updated_at,day,note,scaled,tags
1,10.00,2024-01-04 09:30:00.25Z,2024-01-01,gift,0.25,"[""SHIPPED"",""EUR""]"
2,0.05,2024-02-02 08:00:00Z,2024-02-02,,0.5,"[""PENDING"",""EUR""]"
`},
		{format.JSON, `[
  {"order_id": 1, "amount": 10.00, "updated_at": "2024-01-04T09:30:00.25Z", "day": "2024-01-01", "note": "gift", "scaled": 0.25, "tags": ["SHIPPED","EUR"]},
  {"order_id": 2, "amount": 0.05, "updated_at": "2024-02-02T08:00:00Z", "day": "2024-02-02", "note": null, "scaled": 0.5, "tags": ["PENDING","EUR"]}
]
`},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if got := run(t, e, tc.kind, q); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestBadQuery(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	for _, tc := range []struct{ description, sql, want string }{
		{"syntax", "SELEC 1", "Parser Error"},
		{"unknown table", "SELECT * FROM silver.nope", "Catalog Error"},
		{"unknown column", "SELECT nope FROM silver.orders", "Binder Error"},
		{"the old Hive partition column is gone", "SELECT dt FROM silver.orders", "Binder Error"},
		{"unterminated literal", "SELECT 'open FROM silver.orders", "Parser Error"},
		{"a table the statement reads without naming it", "SELECT count(*) FROM query_table('discarded.orders')", "discarded.orders was not loaded for this statement: name it as discarded.orders"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			_, err := runErr(l.open(t, query.Options{}), format.Table, tc.sql)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Query(%q) = %v, want an error containing %q", tc.sql, err, tc.want)
			}
		})
	}
}

// TestNamedQueries runs every named example query on DuckDB over the
// fixture lake.
func TestNamedQueries(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	e := l.open(t, query.Options{})
	want := map[string]string{
		"orders_per_status_per_day": "day,status,orders,amount\n2024-01-01,RETURNED,1,30.50\n2024-01-01,SHIPPED,1,10.00\n2024-02-02,PENDING,1,0.05\n",
		"discard_rate_per_rule": "rule,failed_rows,evaluated_rows,discard_pct\n" +
			"\"ColumnValues \"\"amount\"\" >= 0\",1,9,11.11\n\"ColumnValues \"\"status\"\" in [\"\"PAID\"\"]\",1,9,11.11\n",
		"latest_watermark_per_table": "table,watermark,advanced_at,advances,rows_extracted\norders,2024-01-04 00:00:00,2024-01-04 00:00:05,1,2\n",
	}
	for _, name := range queries.Names() {
		t.Run(name, func(t *testing.T) {
			sql, err := queries.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected result for the named query %s", name)
			}
			if got := run(t, e, format.CSV, sql); got != w {
				t.Errorf("got:\n%s\nwant:\n%s", got, w)
			}
		})
	}
}

// TestEmptyTables: a table created by a writer whose object was never
// committed has no snapshot; it reads as empty, with its columns. So does
// a meta table whose records are all gone. The other tables still work.
func TestEmptyTables(t *testing.T) {
	l := newLake(t)
	l.write(t, icetable.Discarded, "never", discardedFields) // creates the table, commits nothing
	l.valid(t, "o1", ordersFields, order(1, "PENDING", "10.00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"))
	e := l.open(t, query.Options{})
	for _, tc := range []struct{ sql, want string }{
		{`SELECT count(*) AS n, count(dataqualityrulesfail) AS f FROM discarded.orders`, "n,f\n0,0\n"},
		{`SELECT count(*) AS n FROM meta.watermarks`, "n\n0\n"},
		{`SELECT count(*) AS n FROM silver.orders_current`, "n\n1\n"},
		{`SELECT data_type FROM information_schema.columns WHERE table_schema = 'discarded' AND table_name = 'orders' AND column_name = 'DataQualityRulesFail'`, "data_type\nVARCHAR[]\n"},
	} {
		if got := run(t, e, format.CSV, tc.sql); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.sql, got, tc.want)
		}
	}
	for _, s := range e.Snapshots() {
		if s.Table == "discarded.orders" && (s.SnapshotID != 0 || s.DataFiles != 0) {
			t.Errorf("discarded.orders planned as %+v, want no snapshot and no files", s)
		}
	}
}

// TestCorruptMetadata: a table whose current metadata file is not Iceberg
// metadata fails the statements that name it, naming the file; the other
// tables stay readable.
func TestCorruptMetadata(t *testing.T) {
	l := newLake(t)
	l.fill(t)
	folder := l.folder(t, icetable.Discarded) + "/metadata"
	rc, _, err := l.st.Get(ctx, folder+"/"+lakepointer.HintFile)
	if err != nil {
		t.Fatal(err)
	}
	hint, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	current := folder + "/v" + strings.TrimSpace(string(hint)) + ".metadata.json"
	if _, err := l.st.Put(ctx, current, strings.NewReader(`{"format-version": 2, "table-uuid": `), nil); err != nil {
		t.Fatal(err)
	}
	e := l.open(t, query.Options{})
	if _, err := runErr(e, format.CSV, "SELECT count(*) FROM discarded.orders"); err == nil || !strings.Contains(err.Error(), current) {
		t.Errorf("a statement on the corrupt table: %v, want an error naming %s", err, current)
	}
	if got, want := run(t, e, format.CSV, "SELECT count(*) AS n FROM silver.orders_current"), "n\n3\n"; got != want {
		t.Errorf("another table: %q, want %q", got, want)
	}
}

// TestNoTables: a lake where nothing was written yet has the schemas and
// no tables.
func TestNoTables(t *testing.T) {
	e := newLake(t).open(t, query.Options{})
	if got, want := run(t, e, format.CSV, `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema IN ('silver', 'discarded')`), "n\n0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := runErr(e, format.CSV, "SELECT * FROM silver.orders"); err == nil || !strings.Contains(err.Error(), "Catalog Error") {
		t.Errorf("a table not written yet: %v, want DuckDB's Catalog Error", err)
	}
}

// TestNestedValues: maps keep their key order, nested decimals print as
// at the top level; a nested date or time carries no column type, so it
// prints as a timestamp.
func TestNestedValues(t *testing.T) {
	e := newLake(t).open(t, query.Options{})
	got := run(t, e, format.JSON, `SELECT MAP {'b': 2, 'a': NULL} AS m, {'x': 12.50::DECIMAL(4,2), 't': DATE '2024-01-31'} AS s, [MAP {'k': [1, 2]}] AS l`)
	want := "[\n  {\"m\": {\"b\":2,\"a\":null}, \"s\": {\"t\":\"2024-01-31T00:00:00\",\"x\":12.50}, \"l\": [{\"k\":[1,2]}]}\n]\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
