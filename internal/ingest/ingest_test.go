package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pgarrow"
)

const insertAt = `INSERT INTO items (id, updated_at)
	SELECT g, 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' FROM generate_series($1::bigint, $2::bigint) g`

// Rows that tie on the cursor value at a run's upper bound are left for
// the next run (hi is exclusive, the next lo inclusive), whether they were
// committed before the first run or after it.
func TestTiesAcrossRunBoundary(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	// A transaction held open pins run 1's upper bound to its start minus
	// the 1µs test margin.
	hold, xs := e.beginAt()
	hi := xs - 1
	e.exec(insertAt, 1, 5, int64(hi))    // tie on the bound: due in run 2
	e.exec(insertAt, 6, 10, int64(hi-1)) // just below: run 1

	r1 := e.run()
	if r1.Hi != hi {
		t.Fatalf("run 1 hi = %s, want %s (the open transaction's start minus the margin); reason: %s", r1.Hi, hi, r1.HiReason)
	}
	if got, want := r1.Rows, int64(5); got != want {
		t.Errorf("run 1 rows = %d, want %d", got, want)
	}
	if err := hold.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.exec(insertAt, 11, 15, int64(hi)) // committed after run 1, tying on its bound

	r2 := e.run()
	if got, want := r2.Rows, int64(10); got != want {
		t.Errorf("run 2 rows = %d, want %d", got, want)
	}
	if r2.Lo == nil || *r2.Lo != hi {
		t.Errorf("run 2 lo = %v, want %s", r2.Lo, hi)
	}
	e.checkExactlyOnce()
}

// Rows that tie on the cursor value are split across several objects of
// one run (tiny batches and objects) and none is lost or repeated.
func TestTiesAcrossObjectBoundary(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.in.BatchRows = 2
	e.in.ObjectSize = 1
	tie := InstantOf(time.Now().Add(-time.Hour))
	e.exec(insertAt, 1, 9, int64(tie))

	r1 := e.run()
	if len(r1.Objects) < 4 {
		t.Fatalf("run wrote %d objects, want at least 4 (9 rows, 2 per batch, 1-byte objects)", len(r1.Objects))
	}
	if got, want := r1.Rows, int64(9); got != want {
		t.Errorf("rows = %d, want %d", got, want)
	}
	e.checkExactlyOnce()

	e.exec("UPDATE items SET v = v + 1, updated_at = now() WHERE id IN (2, 5, 8)")
	e.exec(insertAt, 10, 12, int64(tie)+1) // committed late with an old stamp: beyond any cursor (see docs)
	e.exec("UPDATE items SET v = v + 1, updated_at = now() WHERE id >= 10")
	e.run()
	e.checkNoLoss()
}

// A transaction that stamps rows with its start time and commits after a
// run has advanced the watermark: the run holds its bound below the
// transaction's start, so the next run picks the rows up.
func TestLongTransaction(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	ctx := context.Background()
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 10)")
	r0 := e.run()

	tx, xs := e.beginAt()
	if _, err := tx.Exec(ctx, "INSERT INTO items (id) SELECT generate_series(11, 15)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE items SET v = v + 1, updated_at = now() WHERE id <= 3"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	e.exec("INSERT INTO items (id) SELECT generate_series(16, 20)") // committed, stamped after xs

	r1 := e.run()
	if r1.Watermark == nil || *r1.Watermark <= *r0.Watermark {
		t.Fatalf("run 1 did not advance the watermark: %v after %v", r1.Watermark, r0.Watermark)
	}
	if *r1.Watermark >= xs {
		t.Fatalf("run 1 advanced the watermark to %s, past the start %s of a transaction in flight", r1.Watermark, xs)
	}
	if !strings.Contains(r1.HiReason, "transaction in flight") {
		t.Errorf("run 1 hi reason = %q, want the transaction in flight", r1.HiReason)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := e.run()
	if r2.Rows < 13 {
		t.Errorf("run 2 rows = %d, want at least 13 (5 inserted, 3 updated, 5 committed meanwhile)", r2.Rows)
	}
	e.checkNoLoss()
}

// A crash between writing bronze objects and advancing the watermark
// leaves the watermark where it was; the rerun redoes the crashed run's
// interval (the plan recorded its bounds before extracting) into the same
// keys, so no version is in bronze twice; the rows that changed since
// wait for the next run.
func TestCrashBeforeWatermark(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 20)")
	crashing := New(failingStore{Store: e.st, fail: layout.Watermark("items")}, e.url, e.in.Tables, e.in.Options)
	crashed, err := crashing.Run(context.Background(), Request{Table: "items"})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("Run with a failing watermark write: %+v, err = %v, want the injected failure", crashed, err)
	}
	if wm := e.watermark(); wm != nil {
		t.Fatalf("watermark = %s after the crash, want none", wm)
	}
	if got := len(e.bronze()); got != 20 {
		t.Fatalf("bronze holds %d versions after the crash, want the 20 written before it", got)
	}

	e.exec("UPDATE items SET v = v + 1, updated_at = now() WHERE id <= 5")
	e.exec("INSERT INTO items (id) SELECT generate_series(21, 25)")
	r := e.run()
	if r.Lo != nil || !strings.Contains(r.HiReason, "did not commit") {
		t.Errorf("rerun [%v, %s) (%s), want from none to the crashed run's bound", r.Lo, r.Hi, r.HiReason)
	}
	if got := len(e.bronze()); got != 15 {
		t.Errorf("bronze holds %d versions after the rerun, want the 15 unchanged rows of the crashed interval, in its keys", got)
	}
	e.run()
	e.checkExactlyOnce()
}

// A watermark advance that the store applied but whose answer was lost
// (the client then sent it again, and its condition failed) is the run's
// own: the run succeeds and the history has its record.
func TestWatermarkAnswerLost(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 5)")
	in := New(answerLostStore{Store: e.st, key: layout.Watermark("items")}, e.url, e.in.Tables, e.in.Options)
	r, err := in.Run(context.Background(), Request{Table: "items"})
	if err != nil {
		t.Fatalf("Run whose watermark write's answer was lost: %v, want success", err)
	}
	if wm := e.watermark(); wm == nil || *wm != *r.Watermark {
		t.Errorf("watermark = %v, want %s", wm, r.Watermark)
	}
	history := 0
	for _, err := range e.st.List(context.Background(), layout.WatermarkHistory("items")) {
		if err != nil {
			t.Fatal(err)
		}
		history++
	}
	if history != 1 {
		t.Errorf("%d history records, want 1", history)
	}
	e.checkExactlyOnce()
}

// Neither the ingest session's time zone nor the database's default one
// changes which rows a run extracts or the watermark it stores.
func TestTimeZones(t *testing.T) {
	for _, tc := range []struct {
		name, cursor, sessionTZ, dbTZ, stamp string
	}{
		{"timestamptz", "timestamptz NOT NULL", "Pacific/Chatham", "America/St_Johns", "now()"},
		{"timestamptz swapped", "timestamptz NOT NULL", "America/St_Johns", "Pacific/Chatham", "now()"},
		// timestamp without time zone holds UTC wall-clock times.
		{"timestamp", "timestamp NOT NULL", "America/St_Johns", "Pacific/Chatham", "now() AT TIME ZONE 'UTC'"},
		{"timestamp swapped", "timestamp NOT NULL", "Pacific/Chatham", "America/St_Johns", "now() AT TIME ZONE 'UTC'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cursor, contract.NullCursorFail)
			e.exec("ALTER DATABASE " + e.dbName() + " SET timezone TO '" + tc.dbTZ + "'")
			e.in.Source = withParams(t, e.url, "timezone", tc.sessionTZ)
			insert := "INSERT INTO items (id, updated_at) SELECT g, " + tc.stamp + " FROM generate_series($1::bigint, $2::bigint) g"
			e.exec(insert, 1, 10)

			before := time.Now()
			r1 := e.run()
			if d := r1.Watermark.Time().Sub(before); d.Abs() > time.Minute {
				t.Fatalf("watermark %s is %s off the time the run started, %s: time zones leaked in", r1.Watermark, d, before.UTC())
			}
			if got, want := r1.Rows, int64(10); got != want {
				t.Errorf("run 1 rows = %d, want %d", got, want)
			}
			// A row tying on the stored watermark belongs to run 2.
			epoch := "'epoch'::timestamptz"
			if strings.HasPrefix(tc.cursor, "timestamp ") {
				epoch = "'epoch'::timestamp"
			}
			e.exec("INSERT INTO items (id, updated_at) VALUES (11, "+epoch+" + $1::bigint * interval '1 microsecond')", int64(*r1.Watermark))
			e.exec(insert, 12, 15)
			r2 := e.run()
			if got, want := r2.Rows, int64(5); got != want {
				t.Errorf("run 2 rows = %d, want %d", got, want)
			}
			e.checkExactlyOnce()
		})
	}
}

func (e *env) dbName() string {
	e.t.Helper()
	var name string
	if err := e.connect().QueryRow(context.Background(), "SELECT quote_ident(current_database())").Scan(&name); err != nil {
		e.t.Fatal(err)
	}
	return name
}

// Rows whose cursor is NULL are refused with their count (null_cursor:
// fail) or extracted by every run (include); never skipped silently.
func TestNullCursor(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		e := newEnv(t, "timestamptz", contract.NullCursorFail)
		e.exec("INSERT INTO items (id) SELECT generate_series(1, 5)")
		e.exec("INSERT INTO items (id, updated_at) SELECT generate_series(6, 8), NULL")
		_, err := e.in.Run(context.Background(), Request{Table: "items"})
		nc, ok := err.(*NullCursorError)
		if !ok {
			t.Fatalf("Run: err = %v (%T), want *NullCursorError", err, err)
		}
		if nc.Rows != 3 || !strings.Contains(err.Error(), "3 rows") {
			t.Errorf("NullCursorError = %q, want it to count 3 rows", err)
		}
		if wm := e.watermark(); wm != nil {
			t.Errorf("watermark = %s, want none", wm)
		}
		if n := len(e.bronze()); n != 0 {
			t.Errorf("bronze holds %d versions, want none", n)
		}
	})
	t.Run("include", func(t *testing.T) {
		e := newEnv(t, "timestamptz", contract.NullCursorInclude)
		e.exec("INSERT INTO items (id) SELECT generate_series(1, 5)")
		e.exec("INSERT INTO items (id, updated_at) SELECT generate_series(6, 8), NULL")
		if got, want := e.run().Rows, int64(8); got != want {
			t.Errorf("run 1 rows = %d, want %d", got, want)
		}
		e.exec("UPDATE items SET v = v + 1 WHERE id = 7") // still NULL
		if got, want := e.run().Rows, int64(3); got != want {
			t.Errorf("run 2 rows = %d, want the %d NULL-cursor rows again", got, want)
		}
		e.checkNoLoss()
	})
}

// Two ingests of one table that read the same watermark: exactly one
// advances it, the other gets *WatermarkConflictError.
func TestConcurrentIngest(t *testing.T) {
	ctx := context.Background()
	t.Run("interleaved", func(t *testing.T) {
		e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
		e.exec("INSERT INTO items (id) SELECT generate_series(1, 10)")
		a := New(e.st, e.url, e.in.Tables, e.in.Options)
		b := New(e.st, e.url, e.in.Tables, e.in.Options)
		var commits []CommitRequest
		for _, in := range []*Ingester{a, b} {
			p, err := in.Plan(ctx, PlanRequest{Table: "items"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := in.Extract(ctx, p.Items[0])
			if err != nil {
				t.Fatal(err)
			}
			commits = append(commits, CommitRequest{Plan: *p, Results: []Result{*r}})
		}
		if _, err := a.Commit(ctx, commits[0]); err != nil {
			t.Fatalf("first commit: %v", err)
		}
		_, err := b.Commit(ctx, commits[1])
		if _, ok := err.(*WatermarkConflictError); !ok {
			t.Fatalf("second commit: err = %v (%T), want *WatermarkConflictError", err, err)
		}
		if got := *e.watermark(); got != commits[0].Plan.Hi {
			t.Errorf("watermark = %s, want the first commit's %s", got, commits[0].Plan.Hi)
		}
		if got := e.historyLen(); got != 1 {
			t.Errorf("history has %d records, want 1", got)
		}
		e.checkNoLoss()
	})
	t.Run("racing", func(t *testing.T) {
		e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
		e.exec("INSERT INTO items (id) SELECT generate_series(1, 100)")
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.in.Run(ctx, Request{Table: "items"}) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch err.(type) {
			case nil:
				ok++
			case *WatermarkConflictError:
			default:
				t.Errorf("Run: %v", err)
			}
		}
		if ok == 0 {
			t.Fatalf("no run advanced the watermark: %v", errs)
		}
		if got := e.historyLen(); got != ok {
			t.Errorf("history has %d records, want one per successful run (%d)", got, ok)
		}
		e.checkNoLoss()
	})
}

func (e *env) historyLen() int {
	e.t.Helper()
	n := 0
	for _, err := range e.st.List(context.Background(), layout.WatermarkHistory("items")) {
		if err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	return n
}

// The planner's key ranges neither overlap nor leave gaps, are open at
// both ends, follow where the keys are (not their numeric span), and
// together extract every row exactly once.
func TestRangeSplit(t *testing.T) {
	ctx := context.Background()
	clustered := func(e *env) {
		e.exec("INSERT INTO items (id) SELECT generate_series(1, 300)")
		e.exec("INSERT INTO items (id) SELECT generate_series(1000000000, 1000000009)")
		e.exec("INSERT INTO items (id) SELECT generate_series(-50, -41)")
		e.exec("INSERT INTO items (id) VALUES ($1), ($2)", int64(math.MinInt64), int64(math.MaxInt64))
	}
	for _, tc := range []struct {
		name      string
		fill      func(*env)
		parts     int
		wantItems int
	}{
		{"clustered keys", clustered, 4, 4},
		{"more parts than rows", func(e *env) { e.exec("INSERT INTO items (id) VALUES (7), (8), (9)") }, 10, 3},
		{"one part", clustered, 1, 1},
		{"empty table", func(*env) {}, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
			tc.fill(e)
			p, err := e.in.Plan(ctx, PlanRequest{Table: "items", Parts: tc.parts})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(p.Items); got != tc.wantItems {
				t.Fatalf("plan has %d items, want %d: %+v", got, tc.wantItems, p.Items)
			}
			checkContiguous(t, p.Items)
			var results []Result
			var total, most int64
			for _, it := range p.Items {
				if it.Hi != p.Hi || !sameInstant(it.Lo, p.Lo) {
					t.Errorf("item %s has [%v, %s), want the plan's [%v, %s)", it.Range.keyPart(), it.Lo, it.Hi, p.Lo, p.Hi)
				}
				r, err := e.in.Extract(ctx, it)
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, *r)
				total += r.Rows
				most = max(most, r.Rows)
			}
			if len(p.Items) > 1 && most > total/2 {
				t.Errorf("largest range has %d of %d rows: boundaries do not follow the keys", most, total)
			}
			if _, err := e.in.Commit(ctx, CommitRequest{Plan: *p, Results: results}); err != nil {
				t.Fatal(err)
			}
			e.checkExactlyOnce()
		})
	}
	t.Run("parallel run in one snapshot", func(t *testing.T) {
		e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
		clustered(e)
		e.in.Parallel = 3
		r := e.run()
		ranges := map[string]bool{}
		for _, o := range r.Objects {
			ranges[strings.Split(o.Key, "/")[4]] = true
		}
		if len(ranges) != 3 {
			t.Errorf("objects come from %d ranges, want 3: %v", len(ranges), r.Objects)
		}
		e.checkExactlyOnce()
	})
}

// checkContiguous fails unless items' ranges start and end open and each
// starts where the previous one ends.
func checkContiguous(t *testing.T, items []WorkItem) {
	t.Helper()
	if len(items) == 1 {
		if items[0].Range != nil {
			t.Errorf("single item has range %s, want none (all keys)", items[0].Range.keyPart())
		}
		return
	}
	if items[0].Range.From != nil {
		t.Errorf("first range starts at %d, want open", *items[0].Range.From)
	}
	if last := items[len(items)-1].Range; last.To != nil {
		t.Errorf("last range ends at %d, want open", *last.To)
	}
	for i := 1; i < len(items); i++ {
		prev, cur := items[i-1].Range, items[i].Range
		if prev.To == nil || cur.From == nil || *prev.To != *cur.From {
			t.Errorf("range %d (%s) does not start where range %d (%s) ends", i, cur.keyPart(), i-1, prev.keyPart())
		} else if cur.To != nil && *cur.From >= *cur.To {
			t.Errorf("range %d (%s) is empty", i, cur.keyPart())
		}
	}
}

// Source and contract errors are the named types the state machine
// matches, at the top level, and leave the watermark unchanged.
func TestErrors(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 3)")
	role := e.roleWithoutStats()
	for _, tc := range []struct {
		name   string
		edit   func(*contract.Table)
		source string
		check  func(error) bool
		want   string
	}{
		{"missing table", func(c *contract.Table) { c.Source.Table = "nope" }, "",
			func(err error) bool { _, ok := err.(*pgarrow.TableNotFoundError); return ok }, "nope"},
		{"missing cursor column", func(c *contract.Table) { c.Cursor = "changed_at" }, "",
			func(err error) bool { c, ok := err.(*ColumnError); return ok && c.Role == "cursor" }, `cursor column "changed_at"`},
		{"cursor not a timestamp", func(c *contract.Table) { c.Cursor = "note" }, "",
			func(err error) bool { c, ok := err.(*ColumnError); return ok && c.Role == "cursor" }, "type text"},
		{"missing key column", func(c *contract.Table) { c.PrimaryKey = []string{"item_id"} }, "",
			func(err error) bool { c, ok := err.(*ColumnError); return ok && c.Role == "primary key" }, `"item_id"`},
		{"unreachable source", nil, "postgres://postgres@127.0.0.1:1/x?connect_timeout=2",
			func(err error) bool { _, ok := err.(*SourceUnavailableError); return ok }, "source unavailable"},
		{"failed authentication", nil, strings.Replace(e.url, "postgres@", "no_such_role@", 1),
			func(err error) bool { _, ok := err.(*SourceUnavailableError); return ok }, "no_such_role"},
		{"role without pg_read_all_stats", nil, strings.Replace(e.url, "postgres@", role+"@", 1),
			func(err error) bool { _, ok := err.(*PrivilegeError); return ok }, `GRANT pg_read_all_stats TO "` + role + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := itemsContract(contract.NullCursorFail)
			if tc.edit != nil {
				tc.edit(c)
			}
			src := e.url
			if tc.source != "" {
				src = tc.source
			}
			in := New(e.st, src, []*contract.Table{c}, Options{ConnectTimeout: 5 * time.Second})
			_, err := in.Run(context.Background(), Request{Table: "items"})
			if err == nil || !tc.check(err) {
				t.Fatalf("Run: err = %v (%T), want the named type", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "password") {
				t.Errorf("error %q mentions a password", err)
			}
			if wm := e.watermark(); wm != nil {
				t.Errorf("watermark = %s, want none", wm)
			}
		})
	}
}

// roleWithoutStats creates a login role that may read items but is not a
// member of pg_read_all_stats, and drops it when the test ends.
func (e *env) roleWithoutStats() string {
	e.t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		e.t.Fatal(err)
	}
	role := "lake_ro_" + hex.EncodeToString(b[:])
	e.exec("CREATE ROLE " + role + " LOGIN")
	e.t.Cleanup(func() {
		e.exec("DROP OWNED BY " + role)
		e.exec("DROP ROLE " + role)
	})
	e.exec("GRANT SELECT ON items TO " + role)
	return role
}

// A prepared (two-phase) transaction has left pg_stat_activity: while one
// is pending, runs hold the watermark where it is, so the rows it stamped
// at its start are picked up once it commits.
func TestPreparedTransaction(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	ctx := context.Background()
	var maxPrepared int
	if err := e.connect().QueryRow(ctx, "SELECT current_setting('max_prepared_transactions')::int").Scan(&maxPrepared); err != nil {
		t.Fatal(err)
	}
	if maxPrepared == 0 {
		t.Skip("the test cluster runs with max_prepared_transactions = 0 (scripts/pg.sh would need -c max_prepared_transactions=N)")
	}
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 5)")
	r0 := e.run()

	tx, _ := e.beginAt()
	if _, err := tx.Exec(ctx, "INSERT INTO items (id) SELECT generate_series(6, 10)"); err != nil {
		t.Fatal(err)
	}
	gid := "lake-test-" + e.dbName()
	if _, err := tx.Exec(ctx, "PREPARE TRANSACTION '"+gid+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a pending prepared transaction would block dropping the database
		var pending bool
		if err := e.connect().QueryRow(ctx, "SELECT count(*) > 0 FROM pg_prepared_xacts WHERE gid = $1", gid).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending {
			e.exec("ROLLBACK PREPARED '" + gid + "'")
		}
	})
	time.Sleep(20 * time.Millisecond)
	r1 := e.run()
	if *r1.Watermark != *r0.Watermark || !strings.Contains(r1.HiReason, "prepared transaction") {
		t.Fatalf("run with a prepared transaction pending moved the watermark from %s to %s (%s), want it held", r0.Watermark, r1.Watermark, r1.HiReason)
	}
	e.exec("COMMIT PREPARED '" + gid + "'")
	e.run()
	e.checkExactlyOnce()
}

// Every run writes the table's column schema, from the catalog, for the
// later steps to check objects against.
func TestSchemaRecord(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.run()
	got, err := layout.ReadSchema(context.Background(), e.st, "items")
	if err != nil || got == nil {
		t.Fatalf("ReadSchema: %v, %v", got, err)
	}
	want := &layout.TableSchema{
		Table: "items", Source: "public.items", PrimaryKey: []string{"id"}, Cursor: "updated_at",
		Columns: []layout.ColumnSchema{
			{Name: "id", Type: "bigint", Arrow: "int64", Nullable: false},
			{Name: "v", Type: "bigint", Arrow: "int64", Nullable: false},
			{Name: "note", Type: "text", Arrow: "utf8", Nullable: true},
			{Name: "updated_at", Type: "timestamp with time zone", Arrow: "timestamp[us, tz=UTC]", Nullable: false},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schema record:\ngot  %+v\nwant %+v", got, want)
	}
}

// TestColumnNames: a table whose columns the catalog cannot hold is
// refused at the plan, naming each column, before anything is written.
func TestColumnNames(t *testing.T) {
	for _, tc := range []struct {
		description, alter string
		want               []string
	}{
		{"a quote in a name", `ALTER TABLE items ADD COLUMN "a""b" text`, []string{`a\"b`}},
		{"a non-ASCII letter and a space", `ALTER TABLE items ADD COLUMN "prix €" numeric, ADD COLUMN "customer id" bigint`, []string{"prix €", "customer id"}},
		{"two names equal but for case", `ALTER TABLE items ADD COLUMN "Note" text`, []string{`"note" and "Note"`}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
			e.exec("INSERT INTO items (id) SELECT generate_series(1, 3)")
			e.exec(tc.alter)
			_, err := e.in.Plan(context.Background(), PlanRequest{Table: "items"})
			var ne *catalog.ColumnNameError
			if !errors.As(err, &ne) {
				t.Fatalf("Plan: %v (%T), want a *catalog.ColumnNameError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if _, err := e.in.Run(context.Background(), Request{Table: "items"}); !errors.As(err, &ne) {
				t.Errorf("Run: %v, want a *catalog.ColumnNameError", err)
			}
			for info, err := range e.st.List(context.Background(), "") {
				if err != nil {
					t.Fatal(err)
				}
				t.Errorf("the lake has %s after a refused table", info.Key)
			}
		})
	}
}
