package route_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/bronze"
	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/validate"
)

// checkDone checks what every routed object must leave behind: the
// archive byte for byte, the bronze object still there (the commit step
// deletes it), the route record, and rows in = silver rows + discarded
// rows, both by the output and by reading back the data files the record
// lists. It returns the silver and discarded rows.
func checkDone(t *testing.T, d route.Deps, data []byte, r route.Output) (silver, disc []map[string]any) {
	t.Helper()
	if got := vt.Get(t, d.Lake, r.ArchiveKey); !bytes.Equal(got, data) {
		t.Errorf("archive %s differs from the bronze object", r.ArchiveKey)
	}
	if got := vt.Get(t, d.Lake, key); !bytes.Equal(got, data) {
		t.Errorf("bronze object changed by route")
	}
	rec := record(t, d.Lake, r)
	if rec.Output.RowsIn != r.RowsIn || rec.SilverRows != r.SilverRows {
		t.Errorf("route record %+v differs from output %+v", rec.Output, r)
	}
	silver, disc = filesRows(t, d, rec.Silver), filesRows(t, d, rec.Discarded)
	if got, want := r.SilverRows+r.DiscardedRows, r.RowsIn; got != want {
		t.Errorf("silver %d + discarded %d = %d, rows in %d", r.SilverRows, r.DiscardedRows, got, want)
	}
	if int64(len(silver)) != r.SilverRows || int64(len(disc)) != r.DiscardedRows {
		t.Errorf("read back %d silver and %d discarded rows, output says %d and %d", len(silver), len(disc), r.SilverRows, r.DiscardedRows)
	}
	if current := filesRows(t, d, rec.Current); !slices.Equal(ids(current), ids(silver)) {
		t.Errorf("the current table's files hold orders %v, silver's %v", ids(current), ids(silver))
	}
	return silver, disc
}

func TestRoutePass(t *testing.T) {
	l := vt.NewLake(t)
	d := lakeDeps(l)
	rows := vt.GoodRows(24 * 40) // one an hour from 2026-01-01 10:00: January and February
	data := vt.OrdersParquet(t, rows)
	vt.Put(t, l.Store, key, data)
	v, r := run(t, d, key)
	if v.Verdict != validate.Pass || r.Verdict != validate.Pass || r.RowsIn != int64(len(rows)) || r.SilverRows != int64(len(rows)) || r.DiscardedRows != 0 {
		t.Fatalf("validate %s, route %+v; want PASS, every row to silver", v.Verdict, r)
	}
	silver, _ := checkDone(t, d, data, r)
	if got, want := r.Partitions, []string{"created_at_month=2026-01", "created_at_month=2026-02"}; !slices.Equal(got, want) {
		t.Errorf("partitions %v, want %v (the contract's month transform)", got, want)
	}
	rec := record(t, l.Store, r)
	for _, f := range rec.Silver.Files {
		if !strings.Contains(f.Path, "/silver/orders/data/"+f.PartitionPath+"/") {
			t.Errorf("data file %s is not in its partition's folder %s", f.Path, f.PartitionPath)
		}
	}
	for _, row := range silver {
		if len(row) != 7 || row["amount"] == nil || row["status"] != "PAID" {
			t.Errorf("silver row %v, want the 7 source columns unchanged", row)
		}
	}
	if rec.Discarded.Rows != 0 || len(rec.Discarded.Files) != 0 {
		t.Errorf("discarded has %+v, want nothing", rec.Discarded)
	}
}

func TestRouteSplit(t *testing.T) {
	l := vt.NewLake(t)
	rows := vt.GoodRows(20)
	rows[2].Status = vt.P("paid")
	rows[5].AmountCents = vt.P(int64(-5))
	rows[7].Customer = nil
	rows[9].ID = vt.P(int64(9)) // duplicates row 8's id
	rows[11].Currency = vt.P("usd")
	rows[11].Status = vt.P("LOST")
	data := vt.OrdersParquet(t, rows)
	vt.Put(t, l.Store, key, data)
	d := lakeDeps(l)
	v, r := run(t, d, key)
	if v.Verdict != validate.Split || r.Verdict != validate.Split || r.RowsIn != 20 || r.SilverRows != 14 || r.DiscardedRows != 6 {
		t.Fatalf("validate %s, route %+v; want SPLIT, 14 rows to silver, 6 to discarded", v.Verdict, r)
	}
	silver, disc := checkDone(t, d, data, r)
	if got, want := ids(silver), []int64{1, 2, 4, 5, 7, 11, 13, 14, 15, 16, 17, 18, 19, 20}; !slices.Equal(got, want) {
		t.Errorf("silver ids %v, want %v", got, want)
	}
	type want struct {
		fail, values []string
	}
	wants := map[int64]want{
		3:  {[]string{`ColumnValues "status" in $valid_statuses`}, []string{"paid"}},
		6:  {[]string{`ColumnValues "amount" between 0 and 1000000`}, []string{"-0.05"}},
		8:  {[]string{`IsComplete "customer_id"`, `ColumnValues "customer_id" > 0`}, []string{"NULL", "NULL"}},
		9:  {[]string{`IsUnique "order_id"`}, []string{"9"}},
		10: {[]string{`IsUnique "order_id"`}, []string{"9"}},
		12: {[]string{`ColumnValues "status" in $valid_statuses`, `ColumnValues "currency" matches "[A-Z]{3}"`}, []string{"LOST", "usd"}},
	}
	if len(disc) != len(wants) {
		t.Fatalf("%d discarded rows, want %d", len(disc), len(wants))
	}
	for _, row := range disc {
		id := int64(row["order_id"].(float64))
		if id == 9 && row["customer_id"].(float64) == 110 { // row 10 carries id 9 and customer 110
			id = 10
		}
		w, ok := wants[id]
		if !ok {
			t.Errorf("row %v discarded, want it in silver", row)
			continue
		}
		if got := strs(row["DataQualityRulesFail"]); !slices.Equal(got, w.fail) {
			t.Errorf("row %d: DataQualityRulesFail %q, want %q", id, got, w.fail)
		}
		if got := strs(row["DataQualityFailedValues"]); !slices.Equal(got, w.values) {
			t.Errorf("row %d: DataQualityFailedValues %q, want %q", id, got, w.values)
		}
		if row["DataQualityEvaluationResult"] != "Failed" {
			t.Errorf("row %d: DataQualityEvaluationResult %v, want Failed", id, row["DataQualityEvaluationResult"])
		}
		pass, skip := strs(row["DataQualityRulesPass"]), strs(row["DataQualityRulesSkip"])
		if !slices.Contains(skip, "RowCount > 0") || len(pass)+len(skip)+len(w.fail) != 12 {
			t.Errorf("row %d: pass %q skip %q: want the other rules of the 12, RowCount skipped", id, pass, skip)
		}
		if row["created_at"] == nil || row["currency"] == nil && id != 8 {
			t.Errorf("row %d: source columns missing: %v", id, row)
		}
	}
}

func TestRouteReject(t *testing.T) {
	l := vt.NewLake(t)
	l.Tables = customTables(t, `Rules = [ RowCount > 100, ColumnValues "status" in ["PAID"] ]`)
	rows := vt.GoodRows(5)
	rows[1].Status = vt.P("LOST")
	data := vt.OrdersParquet(t, rows)
	vt.Put(t, l.Store, key, data)
	d := lakeDeps(l)
	v, r := run(t, d, key)
	if v.Verdict != validate.Reject || r.Verdict != validate.Reject || r.RowsIn != 5 || r.SilverRows != 0 || r.DiscardedRows != 5 || r.QuarantineKey != "" {
		t.Fatalf("validate %s, route %+v; want REJECT, every row to discarded", v.Verdict, r)
	}
	_, disc := checkDone(t, d, data, r)
	for _, row := range disc {
		fail, vals := strs(row["DataQualityRulesFail"]), strs(row["DataQualityFailedValues"])
		wantFail := []string{"RowCount > 100"}
		if row["order_id"].(float64) == 2 {
			wantFail = []string{`ColumnValues "status" in ["PAID"]`, "RowCount > 100"}
		}
		if !slices.Equal(fail, wantFail) || len(vals) != len(fail) || !strings.Contains(vals[len(vals)-1], "5") {
			t.Errorf("row %v: DataQualityRulesFail %q values %q, want %q with the row count's failure", row["order_id"], fail, vals, wantFail)
		}
		if skip := strs(row["DataQualityRulesSkip"]); len(skip) != 0 || row["DataQualityEvaluationResult"] != "Failed" {
			t.Errorf("row %v: skip %q result %v, want no skipped rule, Failed", row["order_id"], skip, row["DataQualityEvaluationResult"])
		}
	}
}

// TestRouteRejectByThreshold rejects an object through a row-level rule
// whose threshold fails: every discarded row, those that passed the rule
// too, names it as the reason.
func TestRouteRejectByThreshold(t *testing.T) {
	l := vt.NewLake(t)
	rule := `ColumnValues "status" in ["PAID"] with threshold > 0.9`
	l.Tables = customTables(t, `Rules = [ `+rule+` ]`)
	rows := vt.GoodRows(5)
	rows[1].Status = vt.P("LOST")
	vt.Put(t, l.Store, key, vt.OrdersParquet(t, rows))
	d := lakeDeps(l)
	_, r := run(t, d, key)
	if r.Verdict != validate.Reject || r.DiscardedRows != 5 {
		t.Fatalf("route %+v; want REJECT, every row to discarded", r)
	}
	for _, row := range filesRows(t, d, record(t, l.Store, r).Discarded) {
		if fail := strs(row["DataQualityRulesFail"]); !slices.Equal(fail, []string{rule}) {
			t.Errorf("row %v: DataQualityRulesFail %q, want [%q]", row["order_id"], fail, rule)
		}
		if pass := strs(row["DataQualityRulesPass"]); len(pass) != 0 {
			t.Errorf("row %v: DataQualityRulesPass %q, want none: the rule that rejected the object is a failure for every row", row["order_id"], pass)
		}
	}
}

func TestRouteBadInput(t *testing.T) {
	for _, tc := range vt.BadInputs(t) {
		t.Run(tc.Name, func(t *testing.T) {
			l := vt.NewLake(t)
			vt.Put(t, l.Store, key, tc.Data)
			d := lakeDeps(l)
			v, r := run(t, d, key)
			if v.Verdict != validate.Reject || r.Verdict != validate.Reject || r.Problem == nil || r.Problem.Kind != tc.Kind {
				t.Fatalf("validate %s, route %+v; want REJECT with %s", v.Verdict, r, tc.Kind)
			}
			checkDone(t, d, tc.Data, r)
			if got := vt.Get(t, l.Store, r.QuarantineKey); !bytes.Equal(got, tc.Data) {
				t.Errorf("quarantined copy differs from the object")
			}
			if !strings.HasSuffix(r.QuarantineKey, "/part-0.parquet") {
				t.Errorf("quarantine key %s, want the object's file name", r.QuarantineKey)
			}
			var rep route.QuarantineReport
			k := layout.KeysFor("orders", key, v.ETag)
			if err := json.Unmarshal(vt.Get(t, l.Store, k.QuarantineReport()), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Object != key || rep.ETag != v.ETag || rep.Problem.Kind != tc.Kind || rep.Problem.Detail == "" ||
				rep.QuarantinedAt.IsZero() || rep.Archive != r.ArchiveKey {
				t.Errorf("report %+v", rep)
			}
			if got := keys(t, l.Store, "silver/"); len(got) != 0 {
				t.Errorf("silver has %v", got)
			}
		})
	}
}

// TestRouteArchiveFirst injects a failure into the archive write: the
// step fails with the retryable error, and nothing has left bronze or
// been written anywhere else.
func TestRouteArchiveFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"parquet", vt.OrdersParquet(t, vt.GoodRows(10))},
		{"csv", vt.BadInputs(t)[2].Data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := vt.NewLake(t)
			info := vt.Put(t, l.Store, key, tc.data)
			d := lakeDeps(l)
			v := validated(t, d, info)
			d.Archive = failingStore{Store: l.Store, prefix: "archive/"}
			_, err := route.Route(context.Background(), d, v)
			if _, ok := err.(*store.StoreUnavailableError); !ok {
				t.Fatalf("route with a failing archive: %v (%T), want *store.StoreUnavailableError", err, err)
			}
			if got := vt.Get(t, l.Store, key); !bytes.Equal(got, tc.data) {
				t.Errorf("bronze object changed")
			}
			for _, p := range []string{"archive/", "silver/", "discarded/", "_meta/routes/"} {
				if got := keys(t, l.Store, p); len(got) != 0 {
					t.Errorf("%s has %v before the archive was written", p, got)
				}
			}
		})
	}
}

// TestRouteIdempotent: a retry after a crash midway, a retry after the
// record was written and a duplicate event all end with the same rows as
// one clean run (in new data files: those of the failed attempt, never
// committed, are orphans that maintenance removes).
func TestRouteIdempotent(t *testing.T) {
	rows := vt.GoodRows(40)
	rows[3].Status = vt.P("paid")
	data := vt.OrdersParquet(t, rows)
	ctx := context.Background()

	clean := vt.NewLake(t)
	vt.Put(t, clean.Store, key, data)
	_, want := run(t, lakeDeps(clean), key)

	l := vt.NewLake(t)
	info := vt.Put(t, l.Store, key, data)
	d := lakeDeps(l)
	in := validated(t, d, info)
	// crash midway: the route record cannot be written
	crash := d
	crash.Lake = failingStore{Store: l.Store, prefix: "_meta/routes/"}
	if _, err := route.Route(ctx, crash, in); err == nil {
		t.Fatal("route with a failing record write succeeded")
	}
	// the retry
	got, err := route.Route(ctx, d, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.SilverRows != want.SilverRows || got.DiscardedRows != want.DiscardedRows || got.AlreadyRouted {
		t.Errorf("retry %+v, clean run %+v", got, want)
	}
	// a retry after the record: nothing is done again
	again, err := route.Route(ctx, d, in)
	if err != nil || !again.AlreadyRouted || again.SilverRows != want.SilverRows {
		t.Errorf("route after the record: %+v, %v; want AlreadyRouted with the record's counts", again, err)
	}
	// the object is still in bronze (not committed): validate hands on the
	// stored verdict
	v, err := validate.Validate(ctx, d.Deps, validate.Input{Key: key, ETag: info.ETag})
	if err != nil || !v.Routed || v.Verdict != in.Verdict {
		t.Errorf("event for a routed, uncommitted object: validate %+v, %v; want Routed", v, err)
	}
	// the same rows as the clean run
	for _, tc := range []struct {
		what      string
		got, want icetable.Files
	}{
		{"silver", record(t, l.Store, got).Silver, record(t, clean.Store, want).Silver},
		{"current", record(t, l.Store, got).Current, record(t, clean.Store, want).Current},
		{"discarded", record(t, l.Store, got).Discarded, record(t, clean.Store, want).Discarded},
	} {
		g, w := filesRows(t, d, tc.got), filesRows(t, lakeDeps(clean), tc.want)
		if !slices.Equal(ids(g), ids(w)) || tc.got.Rows != tc.want.Rows {
			t.Errorf("%s after retries holds orders %v, the clean run %v", tc.what, ids(g), ids(w))
		}
	}
}

// TestRouteNullPartition: rows whose partition column is NULL are kept,
// in the null partition.
func TestRouteNullPartition(t *testing.T) {
	l := vt.NewLake(t)
	l.Tables = customTables(t, `Rules = [ IsComplete "order_id" ]`)
	rows := vt.GoodRows(3)
	rows[1].CreatedAt = nil
	vt.Put(t, l.Store, key, vt.OrdersParquet(t, rows))
	d := lakeDeps(l)
	_, r := run(t, d, key)
	if r.SilverRows != 3 || !slices.Equal(r.Partitions, []string{"created_at_month=2026-01", "created_at_month=null"}) {
		t.Fatalf("route %+v", r)
	}
	for _, f := range record(t, l.Store, r).Silver.Files {
		if f.PartitionPath != "created_at_month=null" {
			continue
		}
		if v, ok := f.Partition["created_at_month"]; !ok || v != nil || f.Rows != 1 {
			t.Errorf("null partition file %+v, want one row with a null partition value", f)
		}
	}
}

// TestRouteObjectChanged: the object was replaced between the validate
// and route steps, or the row log handed to route is another object's:
// a named error, nothing written, the object left in bronze.
func TestRouteObjectChanged(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, l *vt.Lake, v *validate.Output)
		want   any
	}{
		{"replaced", func(t *testing.T, l *vt.Lake, v *validate.Output) {
			vt.Put(t, l.Store, key, vt.OrdersParquet(t, vt.GoodRows(4)))
		}, new(*bronze.ObjectChangedError)},
		{"another object's row log", func(t *testing.T, l *vt.Lake, v *validate.Output) {
			other := strings.Replace(key, "part-0", "part-1", 1)
			info := vt.Put(t, l.Store, other, vt.OrdersParquet(t, vt.GoodRows(3)))
			ov, err := validate.Validate(ctx, validate.Deps{Lake: l.Store, Tables: l.Tables}, validate.Input{Key: other, ETag: info.ETag})
			if err != nil {
				t.Fatal(err)
			}
			v.RowLogKey = ov.RowLogKey
		}, new(*route.ResultMismatchError)},
		{"no row log", func(t *testing.T, l *vt.Lake, v *validate.Output) { v.RowLogKey = "" }, new(*route.ResultMismatchError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := vt.NewLake(t)
			info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, vt.GoodRows(3)))
			d := lakeDeps(l)
			v := validated(t, d, info)
			tc.change(t, l, &v)
			before := vt.Get(t, l.Store, key)
			_, err := route.Route(ctx, d, v)
			if !errors.As(err, tc.want) {
				t.Fatalf("route: %v (%T), want %T", err, err, tc.want)
			}
			for _, p := range []string{"silver/", "discarded/", "_meta/routes/"} {
				if got := keys(t, l.Store, p); len(got) != 0 {
					t.Errorf("%s has %v", p, got)
				}
			}
			if got := vt.Get(t, l.Store, key); !bytes.Equal(got, before) {
				t.Errorf("bronze object changed")
			}
		})
	}
}

// TestRouteEvaluatesNothing: route splits by the validate step's row log
// alone. With the ruleset made unloadable after validate, it still routes
// exactly as a clean run; and it reads the object's body once.
func TestRouteEvaluatesNothing(t *testing.T) {
	ctx := context.Background()
	rows := vt.GoodRows(50)
	rows[3].Status = vt.P("paid")
	rows[7].ID = rows[6].ID
	data := vt.OrdersParquet(t, rows)

	clean := vt.NewLake(t)
	vt.Put(t, clean.Store, key, data)
	_, want := run(t, lakeDeps(clean), key)

	l := vt.NewLake(t)
	l.Tables = customTables(t, string(must(os.ReadFile(filepath.Join(testenv.RepoRoot(), "schemas", "orders.dqdl")))))
	info := vt.Put(t, l.Store, key, data)
	d := lakeDeps(l)
	v := validated(t, d, info)
	if err := os.WriteFile(l.Tables[0].RulesPath(), []byte("Rules = [ this is not DQDL"), 0o644); err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: l.Store, key: key}
	d.Lake = counting
	got, err := route.Route(ctx, d, v)
	if err != nil {
		t.Fatalf("route with the ruleset unloadable: %v", err)
	}
	if got.SilverRows != want.SilverRows || got.DiscardedRows != want.DiscardedRows {
		t.Errorf("route %+v, clean run %+v", got, want)
	}
	gotDisc := filesRows(t, d, record(t, l.Store, got).Discarded)
	wantDisc := filesRows(t, lakeDeps(clean), record(t, clean.Store, want).Discarded)
	if fmt.Sprint(gotDisc) != fmt.Sprint(wantDisc) {
		t.Errorf("discarded rows differ from the clean run's:\n%v\n%v", gotDisc, wantDisc)
	}
	// one read of the body: its bytes once, plus the footer read when
	// opening and the server-side (here: streamed) archive copy
	if n, size := counting.read.Load(), int64(len(data)); n > 3*size {
		t.Errorf("route read %d bytes of a %d-byte object, want the body once plus the archive copy", n, size)
	}
	t.Logf("route read %d bytes of a %d-byte object (incl. the archive copy on a file store)", counting.read.Load(), len(data))
}

// TestRouteS3 runs validate and route against a lake in an S3 bucket
// (versitygw), with the archive in a second bucket, as in AWS.
func TestRouteS3(t *testing.T) {
	ctx := context.Background()
	open := func() *s3store.Store {
		cfg := testenv.S3(t)
		st, err := s3store.New(ctx, s3store.Options{Bucket: cfg.Bucket, Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: true, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	lake, archive := open(), open()
	fl := vt.NewLake(t) // for the contracts
	vt.WriteOrdersSchema(t, lake)
	rows := vt.GoodRows(30)
	rows[4].Status = vt.P("paid")
	data := vt.OrdersParquet(t, rows)
	vt.Put(t, lake, key, data)
	d := storeDeps(lake, fl.Tables)
	d.Archive = archive
	v, r := run(t, d, key)
	if v.Verdict != validate.Split || r.SilverRows != 29 || r.DiscardedRows != 1 || r.RowsIn != 30 {
		t.Fatalf("validate %s, route %+v; want SPLIT 29 + 1", v.Verdict, r)
	}
	if got := vt.Get(t, archive, r.ArchiveKey); !bytes.Equal(got, data) {
		t.Errorf("archive differs from the object")
	}
	if got, want := len(filesRows(t, d, record(t, lake, r).Silver)), 29; got != want {
		t.Errorf("%d silver rows in S3, want %d", got, want)
	}
	// a duplicate event before the commit: validate hands the record on
	if v, err := validate.Validate(ctx, d.Deps, validate.Input{Key: key, ETag: v.ETag}); err != nil || !v.Routed {
		t.Errorf("duplicate event: %+v, %v; want Routed", v, err)
	}
}

// TestRouteStoreUnavailable: a store failure while writing silver comes
// back as *store.StoreUnavailableError itself (the type name the state
// machine retries on), bronze intact; the retry then succeeds.
func TestRouteStoreUnavailable(t *testing.T) {
	for _, prefix := range []string{"silver/", "discarded/", "_meta/routes/"} {
		t.Run(prefix, func(t *testing.T) {
			l := vt.NewLake(t)
			rows := vt.GoodRows(10)
			rows[1].Status = vt.P("paid")
			data := vt.OrdersParquet(t, rows)
			info := vt.Put(t, l.Store, key, data)
			in := validated(t, lakeDeps(l), info)
			failing := failingStore{Store: l.Store, prefix: prefix}
			d := lakeDeps(l)
			d.Lake = failing
			ice, err := pipeline.OpenIceberg(failing, l.Store.URL(), nil)
			if err != nil {
				t.Fatal(err)
			}
			d.Iceberg = ice
			_, err = route.Route(context.Background(), d, in)
			if _, ok := err.(*store.StoreUnavailableError); !ok {
				t.Fatalf("route: %v (%T), want *store.StoreUnavailableError", err, err)
			}
			if got := vt.Get(t, l.Store, key); !bytes.Equal(got, data) {
				t.Errorf("bronze object changed")
			}
			r, err := route.Route(context.Background(), lakeDeps(l), in)
			if err != nil || r.SilverRows != 9 || r.DiscardedRows != 1 {
				t.Fatalf("retry: %+v, %v", r, err)
			}
			checkDone(t, lakeDeps(l), data, r)
		})
	}
}
