package pgarrow_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/pgarrow"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// connect opens a connection to a fresh database whose session time zone
// is tz, after running the SQL files from testdata.
func connect(t testing.TB, tz string, files ...string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["timezone"] = tz
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, f := range files {
		sql, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return conn
}

// readParquet reads a whole (small) object back as one record per column
// chunk set, with the Arrow schema stored in the file.
func readParquet(t testing.TB, st *filestore.Store, key string) arrow.Table {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// column renders every value of column name as text (arrow's ValueStr).
func column(t testing.TB, tbl arrow.Table, name string) []string {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %q not in %s", name, tbl.Schema())
	}
	var out []string
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			out = append(out, valueString(chunk, i))
		}
	}
	return out
}

// valueString renders a value exactly: decimals at their scale, binary in
// PostgreSQL's hex form, everything else with arrow's ValueStr.
func valueString(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return a.ValueStr(i)
	}
	switch a := a.(type) {
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Binary:
		return "\\x" + hex.EncodeToString(a.Value(i))
	}
	return a.ValueStr(i)
}

// TestRoundTrip moves a table with every supported type through Describe,
// Stream and lakeparquet into a Parquet object and reads it back, with a
// session and a process time zone other than UTC.
func TestRoundTrip(t *testing.T) {
	local := time.Local
	time.Local = time.FixedZone("Chatham", 12*3600+45*60)
	t.Cleanup(func() { time.Local = local })

	conn := connect(t, "Asia/Kathmandu", "alltypes.sql")
	ctx := context.Background()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tbl, err := pgarrow.Describe(ctx, tx, "public", "alltypes")
	if err != nil {
		t.Fatal(err)
	}

	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := lakeparquet.NewWriter(ctx, st, tbl.Arrow, func(n int) string { return fmt.Sprintf("bronze/landing/alltypes/part-%05d.parquet", n) }, lakeparquet.Options{})
	// Batches of 2 rows exercise batch boundaries.
	err = pgarrow.Stream(ctx, tx, tbl, "SELECT "+tbl.ColumnList()+" FROM "+tbl.Ident()+" WHERE id >= $1 ORDER BY id", []any{1}, 2,
		func(rec arrow.RecordBatch) error {
			defer rec.Release()
			return w.Write(rec)
		})
	if err != nil {
		w.Abort(err)
		t.Fatal(err)
	}
	objs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Rows != 5 {
		t.Fatalf("objects = %+v, want one of 5 rows", objs)
	}
	got := readParquet(t, st, objs[0].Key)
	if !sameFields(got.Schema(), tbl.Arrow) {
		t.Errorf("schema read back:\n%s\nwant:\n%s", got.Schema(), tbl.Arrow)
	}
	want := map[string][]string{
		"id":   {"1", "2", "3", "4", "5"},
		"i2":   {"-32768", "(null)", "0", "32767", "1"},
		"i4":   {"2147483647", "(null)", "0", "-2147483648", "1"},
		"i8":   {"-9223372036854775808", "(null)", "0", "9223372036854775807", "1"},
		"n":    {"-1234567890.12", "(null)", "0.00", "9999999999.99", "0.01"},
		"n38":  {"1234567890123456789012345678.0123456789", "(null)", "-0.0000000001", "-9999999999999999999999999999.9999999999", "0.0000000001"},
		"nu":   {"3.14159265358979323846264338327950288419716939937510", "(null)", "NaN", "-Infinity", "1.500"},
		"r":    {"1.5", "(null)", "NaN", "+Inf", "0"},
		"d":    {"-2.25e-300", "(null)", "-Inf", "1e+308", "0"},
		"b":    {"true", "(null)", "false", "(null)", "true"},
		"t":    {"héllo, 世界", "(null)", "", "tab\there", "a"},
		"vc":   {"abc", "(null)", "", "x", "b"},
		"c":    {"ab   ", "(null)", "     ", "abcde", "c    "},
		"u":    {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "(null)", "00000000-0000-0000-0000-000000000000", "(null)", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
		"j":    {`{"b": 1, "a": [1,2]}`, "(null)", "null", `"s"`, "{}"},
		"jb":   {`{"a": [1, 2], "b": 1}`, "(null)", "[]", `{"k": null}`, "{}"},
		"by":   {"\\x00ff10", "(null)", "\\x", "\\x", "\\xdeadbeef"},
		"dt":   {"1969-07-20", "(null)", "0001-01-01", "9999-12-31", "2000-01-01"},
		"tm":   {"23:59:59.999999", "(null)", "00:00:00.000000", "12:00:00.000001", "00:00:00.500000"},
		"ts":   {"1999-12-31T23:59:59.123456", "(null)", "0001-01-01T00:00:00", "2262-04-11T23:47:16.854775", "2000-01-01T00:00:00"},
		"tstz": {"2026-03-29T00:30:00.654321Z", "(null)", "1900-01-01T00:00:00Z", "1970-01-01T00:00:00.000001Z", "2000-01-01T00:00:00Z"},
		"iv":   {`{"days":3,"microseconds":14706789012,"months":14}`, "(null)", `{"days":-2,"microseconds":-1,"months":-1}`, `{"days":0,"microseconds":0,"months":0}`, `{"days":0,"microseconds":0,"months":2136000000}`},
		"ai":   {"[1,null,3]", "(null)", "[]", "[null]", "[-1]"},
		"at":   {`["a","",null,"with,comma"]`, "(null)", "[]", "[null]", `["é"]`},
		"an":   {`["1.5","-2.125"]`, "(null)", "[]", `[null,"0.001"]`, `["-9999999.999"]`},
		"e":    {"sad", "(null)", "happy", "(null)", "ok"},
		"dom":  {"42", "(null)", "1", "(null)", "2147483647"},
		"dnum": {"99.99", "0.00", "-0.01", "0.50", "12345678.90"},
	}
	if len(want) != len(tbl.Columns) {
		t.Fatalf("table has %d columns, test expects %d", len(tbl.Columns), len(want))
	}
	for _, c := range tbl.Columns {
		t.Run(c.Name, func(t *testing.T) {
			if got, want := column(t, got, c.Name), want[c.Name]; !slices.Equal(got, want) {
				t.Errorf("%s (%s):\n got %q\nwant %q", c.Name, c.Type, got, want)
			}
		})
	}
}

// sameFields compares schemas' fields, ignoring metadata.
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Nullable != fb.Nullable || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

func TestDescribeErrors(t *testing.T) {
	conn := connect(t, "UTC")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA s; CREATE TABLE s.geo (id int, "Where" point)`); err != nil {
		t.Fatal(err)
	}
	t.Run("unsupported type", func(t *testing.T) {
		_, err := pgarrow.Describe(ctx, conn, "s", "geo")
		var ute *pgarrow.UnsupportedTypeError
		if !errors.As(err, &ute) {
			t.Fatalf("err = %v, want *UnsupportedTypeError", err)
		}
		if got, want := *ute, (pgarrow.UnsupportedTypeError{Table: "s.geo", Column: "Where", Type: "point"}); got != want {
			t.Errorf("error = %+v, want %+v", got, want)
		}
		for _, part := range []string{"s.geo", `"Where"`, "point"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("message %q does not name %s", err, part)
			}
		}
	})
	t.Run("missing table", func(t *testing.T) {
		_, err := pgarrow.Describe(ctx, conn, "s", "nope")
		var nf *pgarrow.TableNotFoundError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "s.nope") {
			t.Fatalf("err = %v, want *TableNotFoundError naming s.nope", err)
		}
	})
}

func TestUnrepresentableValues(t *testing.T) {
	conn := connect(t, "UTC")
	ctx := context.Background()
	tests := []struct {
		description, ddl, value, reason string
	}{
		{"NaN in numeric(p,s)", "numeric(10,2)", "'NaN'", "NaN"},
		{"infinite timestamptz", "timestamptz", "'infinity'", "infinite timestamp"},
		{"infinite timestamp", "timestamp", "'-infinity'", "infinite timestamp"},
		{"infinite date", "date", "'infinity'", "infinite date"},
		{"two-dimensional array", "int[]", "'{{1,2},{3,4}}'", "2 dimensions"},
	}
	for i, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			name := fmt.Sprintf("bad%d", i)
			sql := fmt.Sprintf("CREATE TABLE %[1]s (id int, v %[2]s); INSERT INTO %[1]s VALUES (1, NULL), (2, %[3]s)", name, tt.ddl, tt.value)
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			tbl, err := pgarrow.Describe(ctx, tx, "public", name)
			if err != nil {
				t.Fatal(err)
			}
			err = pgarrow.Stream(ctx, tx, tbl, "SELECT id, v FROM "+tbl.Ident()+" ORDER BY id", nil, 0,
				func(rec arrow.RecordBatch) error { rec.Release(); return nil })
			var ue *pgarrow.UnrepresentableValueError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want *UnrepresentableValueError", err)
			}
			if ue.Table != "public."+name || ue.Column != "v" || ue.Row != 2 || !strings.Contains(ue.Reason, tt.reason) {
				t.Errorf("error = %+v, want table public.%s column v row 2 reason containing %q", *ue, name, tt.reason)
			}
		})
	}
}

func TestStreamChecksColumns(t *testing.T) {
	conn := connect(t, "UTC")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE two (a int, b text)"); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tbl, err := pgarrow.Describe(ctx, tx, "public", "two")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		args  []any
	}{
		{"SELECT a FROM two", nil},
		{"SELECT b, a FROM two", nil},
		{"SELECT a, b FROM two", []any{pgx.QueryExecModeSimpleProtocol}}, // text results
	} {
		err := pgarrow.Stream(ctx, tx, tbl, tt.query, tt.args, 0, func(rec arrow.RecordBatch) error { rec.Release(); return nil })
		if err == nil {
			t.Errorf("Stream(%q, %v) succeeded, want an error about the result's columns", tt.query, tt.args)
		}
	}
}

// TestMatchesPostgresText cross-checks decoding against PostgreSQL's own
// text output for many generated values: decimals of several precisions
// and scales, unconstrained numerics, timestamps and dates far from the
// epoch, and intervals.
func TestMatchesPostgresText(t *testing.T) {
	conn := connect(t, "America/St_Johns")
	ctx := context.Background()
	const setup = `
CREATE TABLE gen AS
SELECT g AS id,
  (sign(random() - 0.5) * floor(random() * 10 ^ (g % 12)) / 100)::numeric(12,2) AS n12,
  (sign(random() - 0.5) * random() * 10 ^ (g % 29))::numeric(38,10) AS n38,
  (random() / 10 ^ (g % 6))::numeric(5,5) AS n5,
  (floor(random() * 10 ^ (g % 19)))::numeric(19,0) AS n19,
  (random() * 10 ^ ((g % 40) - 20))::numeric AS nu,
  timestamptz '0001-01-01 00:00:00+00' + random() * interval '3000 years' AS tstz,
  timestamp '1500-01-01' + random() * interval '1000 years' AS ts,
  date '0100-01-01' + (random() * 3000000)::int AS dt,
  make_interval(months => (random() * 1000 - 500)::int, days => (random() * 100 - 50)::int,
                secs => (random() * 1e6 - 5e5)::numeric(12,6)::float8) AS iv
FROM generate_series(1, 3000) g`
	if _, err := conn.Exec(ctx, "SELECT setseed(0.42)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL's rendering of each column in the form valueString uses.
	const want = `SELECT n12::text, n38::text, n5::text, n19::text, nu::text,
  to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
  to_char(dt, 'YYYY-MM-DD'),
  format('{"days":%s,"microseconds":%s,"months":%s}', extract(day from iv)::bigint,
    ((extract(epoch from iv) - extract(year from iv) * 31557600 - extract(month from iv) * 2592000
      - extract(day from iv) * 86400) * 1000000)::bigint, extract(year from iv)::bigint * 12 + extract(month from iv)::bigint)
FROM gen ORDER BY id`
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tbl, err := pgarrow.Describe(ctx, tx, "public", "gen")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	err = pgarrow.Stream(ctx, tx, tbl, "SELECT "+tbl.ColumnList()+" FROM gen ORDER BY id", nil, 1000, func(rec arrow.RecordBatch) error {
		defer rec.Release()
		for r := range int(rec.NumRows()) {
			row := make([]string, 0, rec.NumCols()-1)
			for c := 1; c < int(rec.NumCols()); c++ {
				row = append(row, canonical(rec.Column(c), r))
			}
			got = append(got, row)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	i, mismatches := 0, 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for c, v := range vals {
			if w := fmt.Sprint(v); got[i][c] != w && mismatches < 10 {
				mismatches++
				t.Errorf("row %d column %s: got %s, PostgreSQL says %s", i+1, tbl.Columns[c+1].Name, got[i][c], w)
			}
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(got) || i != 3000 {
		t.Fatalf("compared %d rows, streamed %d, want 3000", i, len(got))
	}
}

// canonical renders a value like the cross-check query does: exact
// decimals, RFC 3339-like timestamps with microseconds.
func canonical(a arrow.Array, i int) string {
	switch a := a.(type) {
	case *array.Timestamp:
		ts := a.Value(i).ToTime(arrow.Microsecond)
		if a.DataType().(*arrow.TimestampType).TimeZone != "" {
			return ts.UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		return ts.UTC().Format("2006-01-02T15:04:05.000000")
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02")
	}
	return valueString(a, i)
}
