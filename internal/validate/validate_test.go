package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/medallionlake/lake/internal/bronze"
	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

const key = "bronze/landing/orders/20260101T000000.000000Z_20260102T000000.000000Z/all/part-0.parquet"

var day = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func deps(l *vt.Lake) validate.Deps { return validate.Deps{Lake: l.Store, Tables: l.Tables} }

var goodRows = vt.GoodRows

func TestValidateVerdicts(t *testing.T) {
	bad := goodRows(10)
	bad[2].Status = vt.P("paid")
	bad[5].AmountCents = vt.P(int64(-5))
	for _, tc := range []struct {
		name                  string
		rows                  []vt.Order
		verdict               validate.Verdict
		rows_, passed, failed int64
	}{
		{"pass", goodRows(10), validate.Pass, 10, 10, 0},
		{"split", bad, validate.Split, 10, 8, 2},
		{"reject: no rows (RowCount > 0)", nil, validate.Reject, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := vt.NewLake(t)
			info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, tc.rows))
			out, err := validate.Validate(context.Background(), deps(l), validate.Input{Key: key, ETag: `"` + info.ETag + `"`})
			if err != nil {
				t.Fatal(err)
			}
			if out.Verdict != tc.verdict || out.Rows != tc.rows_ || out.RowsPassed != tc.passed || out.RowsFailed != tc.failed {
				t.Fatalf("verdict %s rows %d/%d/%d, want %s %d/%d/%d (%s)", out.Verdict, out.Rows, out.RowsPassed, out.RowsFailed, tc.verdict, tc.rows_, tc.passed, tc.failed, out.Reason)
			}
			if out.Problem != nil || out.ETag != info.ETag || out.Table != "orders" || out.Stem != layout.Stem(key, info.ETag) {
				t.Errorf("output %+v", out)
			}
			var rec validate.ResultRecord
			if err := json.Unmarshal(vt.Get(t, l.Store, out.ResultKey), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Key != key || rec.ETag != info.ETag || rec.Verdict != tc.verdict || rec.Result == nil ||
				rec.Result.AggregatedMetrics.TotalRowsFailed != tc.failed || !rec.RulesNow.Equal(info.ModTime.UTC()) {
				t.Errorf("result record %+v", rec)
			}
			if _, err := l.Store.Stat(context.Background(), key); err != nil {
				t.Errorf("bronze object after validate: %v", err)
			}
			if out.RowLogKey != layout.KeysFor("orders", key, info.ETag).RowLog() || rec.RowLog != out.RowLogKey {
				t.Errorf("row log key %q (record %q), want the stem's", out.RowLogKey, rec.RowLog)
			}
			if _, err := l.Store.Stat(context.Background(), out.RowLogKey); err != nil {
				t.Errorf("row log: %v", err)
			}
		})
	}
}

// TestValidateRouted: an object still in bronze whose route record exists
// (its commit did not finish) is not evaluated again: validate hands on
// the stored verdict with Routed set.
func TestValidateRouted(t *testing.T) {
	ctx := context.Background()
	l := vt.NewLake(t)
	bad := goodRows(4)
	bad[1].Status = vt.P("paid")
	info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, bad))
	first, err := validate.Validate(ctx, deps(l), validate.Input{Key: key, ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	vt.Put(t, l.Store, layout.KeysFor("orders", key, info.ETag).RouteRecord(), []byte("{}\n"))
	d := deps(l)
	d.Lake = flakyStore{Store: l.Store, failReads: true} // an evaluation would read the object
	again, err := validate.Validate(ctx, d, validate.Input{Key: key, ETag: info.ETag})
	if err != nil {
		t.Fatalf("Validate of a routed object: %v", err)
	}
	if !again.Routed || again.Verdict != first.Verdict || again.RowsFailed != first.RowsFailed || again.RowLogKey != first.RowLogKey {
		t.Errorf("routed object: %+v, want the first evaluation's %+v with Routed", again, first)
	}
}

func TestValidateBadInput(t *testing.T) {
	for _, tc := range vt.BadInputs(t) {
		t.Run(tc.Name, func(t *testing.T) {
			l := vt.NewLake(t)
			info := vt.Put(t, l.Store, key, tc.Data)
			out, err := validate.Validate(context.Background(), deps(l), validate.Input{Key: key, ETag: info.ETag})
			if err != nil {
				t.Fatalf("Validate: %v, want a REJECT verdict", err)
			}
			if out.Verdict != validate.Reject || out.Problem == nil || out.Problem.Kind != tc.Kind {
				t.Fatalf("verdict %s problem %+v, want REJECT with %s", out.Verdict, out.Problem, tc.Kind)
			}
			t.Logf("%s: %s", tc.Name, out.Reason)
			var rec validate.ResultRecord
			if err := json.Unmarshal(vt.Get(t, l.Store, out.ResultKey), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Problem == nil || rec.Problem.Kind != tc.Kind || rec.Key != key {
				t.Errorf("result record %+v", rec)
			}
			if got := vt.Get(t, l.Store, key); !bytes.Equal(got, tc.Data) {
				t.Errorf("bronze object changed by validate")
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	ctx := context.Background()
	l := vt.NewLake(t)
	d := deps(l)
	var ke *bronze.ObjectKeyError
	if _, err := validate.Validate(ctx, d, validate.Input{Key: "silver/staging/orders/x.parquet"}); !errors.As(err, &ke) {
		t.Errorf("key outside landing: %v (%T), want *ObjectKeyError", err, err)
	}
	var ute *bronze.UnknownTableError
	if _, err := validate.Validate(ctx, d, validate.Input{Key: "bronze/landing/customers/x.parquet"}); !errors.As(err, &ute) || ute.Table != "customers" {
		t.Errorf("unknown table: %v (%T), want *UnknownTableError", err, err)
	}
	var nf *bronze.ObjectNotFoundError
	if _, err := validate.Validate(ctx, d, validate.Input{Key: key, ETag: "e"}); !errors.As(err, &nf) {
		t.Errorf("missing object: %v (%T), want *ObjectNotFoundError", err, err)
	}
	if _, err := validate.Validate(ctx, d, validate.Input{Key: key}); !errors.As(err, &nf) {
		t.Errorf("missing object, no ETag: %v (%T), want *ObjectNotFoundError", err, err)
	}

	// gone, but routed at this ETag: DONE
	vt.Put(t, l.Store, layout.KeysFor("orders", key, "e").RouteRecord(), []byte("{}"))
	out, err := validate.Validate(ctx, d, validate.Input{Key: key, ETag: `"e"`})
	if err != nil || out.Verdict != validate.Done {
		t.Errorf("routed object: %+v, %v; want DONE", out, err)
	}

	// replaced since the event: DONE, nothing written
	info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, goodRows(3)))
	out, err = validate.Validate(ctx, d, validate.Input{Key: key, ETag: "old"})
	if err != nil || out.Verdict != validate.Done || !strings.Contains(out.Reason, "superseded") {
		t.Errorf("replaced object: %+v, %v; want DONE superseded", out, err)
	}
	if _, err := l.Store.Stat(ctx, layout.KeysFor("orders", key, info.ETag).DQResult()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("superseded event wrote a result: %v", err)
	}

	// a ruleset that does not load: *ContractError
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "orders.table.yaml"), []byte("table: orders\nsource: {schema: public, table: orders}\nprimary_key: [order_id]\ncursor: updated_at\npartition: {column: created_at}\nrules: bad.dqdl\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.dqdl"), []byte("Rules = [ Nonsense ]"), 0o644)
	tables, err := contract.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ce *bronze.ContractError
	if _, err := validate.Validate(ctx, validate.Deps{Lake: l.Store, Tables: tables}, validate.Input{Key: key}); !errors.As(err, &ce) {
		t.Errorf("bad ruleset: %v (%T), want *ContractError", err, err)
	}
}

// TestValidateHugeRuleset checks that the output stays small whatever the
// ruleset: 1000 failing rules (dqdl's maximum) give a long verdict reason
// that the output clips; the full result is under _meta/dq/.
func TestValidateHugeRuleset(t *testing.T) {
	l := vt.NewLake(t)
	dir := t.TempDir()
	var rules []string
	for i := range 1000 {
		rules = append(rules, fmt.Sprintf("RowCount > %d", 1000000+i), fmt.Sprintf(`ColumnValues "amount" > %d`, 1000000+i))
	}
	os.WriteFile(filepath.Join(dir, "orders.table.yaml"), []byte("table: orders\nsource: {schema: public, table: orders}\nprimary_key: [order_id]\ncursor: updated_at\npartition: {column: created_at}\nrules: huge.dqdl\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "huge.dqdl"), []byte("Rules = [\n"+strings.Join(rules[:1000], ",\n")+"\n]\n"), 0o644)
	tables, err := contract.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, goodRows(2000)))
	out, err := validate.Validate(context.Background(), validate.Deps{Lake: l.Store, Tables: tables}, validate.Input{Key: key, ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if out.Verdict != validate.Reject || out.RulesFailed != 1000 || len(b) > 4096 {
		t.Fatalf("verdict %s, %d rules failed, output %d bytes; want REJECT, 1000, at most 4 KiB", out.Verdict, out.RulesFailed, len(b))
	}
	full := vt.Get(t, l.Store, out.ResultKey)
	t.Logf("output %d bytes, full result %d bytes", len(b), len(full))
	if len(full) < 100*len(b) {
		t.Errorf("full result is %d bytes, expected it far larger than the output (%d)", len(full), len(b))
	}
}

// flakyStore fails reads (GetRange) or writes (Put) with the store's
// retryable error, as an unavailable S3 would.
type flakyStore struct {
	store.Store
	failReads bool
	failPut   string // key prefix
}

func (f flakyStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if f.failReads {
		return nil, &store.StoreUnavailableError{Op: "get", Key: key, Err: errors.New("injected failure")}
	}
	return f.Store.GetRange(ctx, key, off, n)
}

func (f flakyStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	if f.failPut != "" && strings.HasPrefix(key, f.failPut) {
		return store.ObjectInfo{}, &store.StoreUnavailableError{Op: "put", Key: key, Err: errors.New("injected failure")}
	}
	return f.Store.Put(ctx, key, r, opts)
}

// TestValidateStoreUnavailable: a read or write failure of the store is
// the retryable *store.StoreUnavailableError itself, never a verdict (an
// object that could not be read is not unusable).
func TestValidateStoreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   func(store.Store) store.Store
	}{
		{"read", func(s store.Store) store.Store { return flakyStore{Store: s, failReads: true} }},
		{"write result", func(s store.Store) store.Store { return flakyStore{Store: s, failPut: "_meta/dq/"} }},
		{"write row log", func(s store.Store) store.Store { return flakyStore{Store: s, failPut: "_meta/dqrows/"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := vt.NewLake(t)
			info := vt.Put(t, l.Store, key, vt.OrdersParquet(t, goodRows(5)))
			d := validate.Deps{Lake: tc.fs(l.Store), Tables: l.Tables}
			out, err := validate.Validate(context.Background(), d, validate.Input{Key: key, ETag: info.ETag})
			if _, ok := err.(*store.StoreUnavailableError); !ok {
				t.Fatalf("Validate: %+v, %v (%T); want *store.StoreUnavailableError", out, err, err)
			}
		})
	}
}

// TestValidateColumnNames: an object dropped by hand (no schema.json) with
// columns the catalog cannot hold is a named error, not a verdict: it
// stays in bronze, and nothing is written for it.
func TestValidateColumnNames(t *testing.T) {
	ctx := context.Background()
	l := vt.NewLake(t)
	if err := l.Store.Delete(ctx, layout.SchemaKey("orders")); err != nil {
		t.Fatal(err)
	}
	fields := append(slices.Clone(vt.OrdersSchema.Fields()), arrow.Field{Name: "customer id", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	var buf bytes.Buffer
	vt.WriteParquet(t, &buf, arrow.NewSchema(fields, nil), 0, func(b *array.RecordBuilder) bool {
		vt.AppendOrder(b, vt.Good(1, day))
		b.Field(len(fields) - 1).AppendNull()
		return false
	})
	info := vt.Put(t, l.Store, key, buf.Bytes())
	_, err := validate.Validate(ctx, deps(l), validate.Input{Key: key, ETag: info.ETag})
	var ne *catalog.ColumnNameError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "customer id") {
		t.Fatalf("Validate: %v (%T), want a *catalog.ColumnNameError naming the column", err, err)
	}
	for _, p := range []string{"_meta/dq/", "_meta/dqrows/"} {
		for info := range l.Store.List(ctx, p) {
			t.Errorf("%s written for a refused object", info.Key)
		}
	}
}
