package dq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/lakeparquet"

	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixtureNow is now() for every test: after all fixture rows but one.
var fixtureNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// loadOrders reads testdata/orders_small.json.
func loadOrders(t testing.TB) []vt.Order {
	t.Helper()
	b, err := os.ReadFile("testdata/orders_small.json")
	if err != nil {
		t.Fatal(err)
	}
	var keyed []map[string]any
	if err := json.Unmarshal(b, &keyed); err != nil {
		t.Fatal(err)
	}
	rows := make([]vt.Order, len(keyed))
	for i, m := range keyed {
		num := func(k string) *int64 {
			if v, ok := m[k].(float64); ok {
				n := int64(v)
				return &n
			}
			return nil
		}
		str := func(k string) *string {
			if v, ok := m[k].(string); ok {
				return &v
			}
			return nil
		}
		tm := func(k string) *time.Time {
			s := str(k)
			if s == nil {
				return nil
			}
			v, err := time.Parse(time.RFC3339, *s)
			if err != nil {
				t.Fatal(err)
			}
			return &v
		}
		rows[i] = vt.Order{ID: num("order_id"), Customer: num("customer_id"), Status: str("status"), Currency: str("currency"),
			CreatedAt: tm("created_at"), UpdatedAt: tm("updated_at")}
		if a := str("amount"); a != nil {
			r, ok := new(big.Rat).SetString(*a)
			if !ok {
				t.Fatalf("amount %q", *a)
			}
			r.Mul(r, big.NewRat(100, 1))
			c := r.Num().Int64()
			rows[i].AmountCents = &c
		}
	}
	return rows
}

// fixture writes the small orders fixture as Parquet in batches of batch
// rows and returns its path.
func fixture(t testing.TB, batch int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orders.parquet")
	writeOrderRows(t, path, loadOrders(t), batch)
	return path
}

// evaluate runs rules over the Parquet file at path, writing a row log,
// and returns the result and each row's outcome as the log renders it.
func evaluate(t testing.TB, path, rules string) (*dq.Result, []dq.RowOutcome) {
	t.Helper()
	rs, err := dqdl.Parse(rules)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := lakeparquet.Open(f, lakeparquet.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	lw := dq.NewRowLogWriter(&logBuf, map[string]string{"key": path})
	ev, err := dq.NewEvaluator(rs, src.Schema(), dq.Options{Now: fixtureNow, RowLog: lw})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := src.Batches(ctx, ev.Columns(), ev.Observe); err != nil {
		t.Fatal(err)
	}
	res, err := ev.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := dq.OpenRowLog(bytes.NewReader(logBuf.Bytes()), int64(logBuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got := log.Meta()["key"]; got != path {
		t.Errorf("row log meta key=%q, want %q", got, path)
	}
	if got, want := log.Rows(), res.AggregatedMetrics.TotalRowsProcessed; got != want {
		t.Errorf("row log covers %d rows, the result %d", got, want)
	}
	cur, err := log.Cursor()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	render, err := log.Renderer(src.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var rows []dq.RowOutcome
	var offset, failed int64
	err = src.Batches(ctx, ev.Columns(), func(rec arrow.RecordBatch) error {
		st, err := cur.Next(int(rec.NumRows()))
		if err != nil {
			return err
		}
		if err := render.Bind(rec); err != nil {
			return err
		}
		for i := 0; i < st.Len(); i++ {
			o := render.Outcome(st, i, false)
			if st.Passed(i) != (o.DataQualityEvaluationResult == "Passed") {
				t.Errorf("row %d: Passed()=%v but outcome %s", offset+int64(i), st.Passed(i), o.DataQualityEvaluationResult)
			}
			if !st.Passed(i) {
				failed++
			}
			rows = append(rows, o)
		}
		offset += rec.NumRows()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := failed, res.AggregatedMetrics.TotalRowsFailed; got != want {
		t.Errorf("row log fails %d rows, the result %d", got, want)
	}
	return res, rows
}

func TestRules(t *testing.T) {
	tests := []struct {
		rule    string
		outcome dq.Outcome
		failed  []int // rows tagged failed by the rule
		verdict dq.Verdict
		metric  string // optional metric to check
		value   float64
	}{
		{`IsComplete "order_id"`, dq.Failed, []int{8}, dq.Split, "Column.order_id.Completeness", 0.9},
		{`IsUnique "order_id"`, dq.Failed, []int{4, 5}, dq.Split, "Column.order_id.Uniqueness", 7.0 / 9},
		{`IsPrimaryKey "order_id"`, dq.Failed, []int{4, 5, 8}, dq.Split, "Column.order_id.Completeness", 0.9},
		{`IsPrimaryKey "order_id" "customer_id"`, dq.Failed, []int{2, 8}, dq.Split, "", 0},
		{`IsUnique "status" "currency"`, dq.Failed, []int{0, 4}, dq.Split, "Column.status,currency.Uniqueness", 0.8},
		{`Uniqueness "order_id" > 0.5`, dq.Passed, []int{4, 5}, dq.Split, "Column.order_id.Uniqueness", 7.0 / 9},
		{`Uniqueness "order_id" > 0.8`, dq.Failed, []int{4, 5}, dq.Reject, "", 0},
		{`Uniqueness "status" "currency" = 0.8`, dq.Passed, []int{0, 4}, dq.Split, "Column.status,currency.Uniqueness", 0.8},
		{`IsUnique "status" where "status = 'PENDING' OR status = 'SHIPPED'"`, dq.Failed, []int{2, 9}, dq.Split, "", 0},
		{`Completeness "customer_id" >= 0.9`, dq.Passed, []int{2}, dq.Split, "Column.customer_id.Completeness", 0.9},
		{`Completeness "customer_id" > 0.9`, dq.Failed, []int{2}, dq.Reject, "", 0},
		{`ColumnValues "status" in ["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"]`, dq.Failed, []int{3}, dq.Split, "Column.status.ColumnValues.Compliance", 0.9},
		{`ColumnValues "status" not in ["paid"]`, dq.Failed, []int{3}, dq.Split, "", 0},
		{`ColumnValues "status" = "PAID"`, dq.Failed, []int{1, 2, 3, 5, 6, 7, 9}, dq.Split, "", 0},
		{`ColumnValues "amount" >= 0`, dq.Failed, []int{4, 6}, dq.Split, "", 0},
		{`ColumnValues "amount" > -0.005`, dq.Failed, []int{4, 6}, dq.Split, "", 0},
		{`ColumnValues "amount" < -0.005`, dq.Failed, []int{0, 1, 2, 3, 5, 6, 7, 8, 9}, dq.Split, "", 0},
		{`ColumnValues "amount" <= 1000000`, dq.Failed, []int{6, 7}, dq.Split, "", 0},
		{`ColumnValues "amount" between 0 and 1000000`, dq.Failed, []int{4, 6, 7}, dq.Split, "", 0},
		{`ColumnValues "amount" not between 0 and 1000000`, dq.Failed, []int{0, 1, 2, 3, 5, 6, 8, 9}, dq.Split, "", 0},
		{`ColumnValues "amount" = 12.34`, dq.Failed, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, dq.Split, "", 0},
		{`ColumnValues "amount" != 12.34`, dq.Failed, []int{0}, dq.Split, "", 0},
		{`ColumnValues "amount" in [12.34, 0, 5.001]`, dq.Failed, []int{2, 3, 4, 5, 6, 7, 8, 9}, dq.Split, "", 0},
		{`ColumnValues "customer_id" between 11 and 17`, dq.Failed, []int{0, 2, 9}, dq.Split, "", 0},
		{`ColumnValues "customer_id" in [10, 11.5, 18]`, dq.Failed, []int{1, 2, 3, 4, 5, 6, 7, 8}, dq.Split, "", 0},
		{`ColumnValues "customer_id" = NULL`, dq.Failed, []int{0, 1, 3, 4, 5, 6, 7, 8, 9}, dq.Split, "", 0},
		{`ColumnValues "customer_id" != NULL`, dq.Failed, []int{2}, dq.Split, "", 0},
		{`ColumnValues "currency" matches "[A-Z]{3}"`, dq.Failed, []int{5, 8}, dq.Split, "", 0},
		{`ColumnValues "currency" not matches "E.*"`, dq.Failed, []int{0, 3, 4, 6, 7, 9}, dq.Split, "", 0},
		{`ColumnValues "currency" in ["EUR", "USD", "GBP", EMPTY]`, dq.Failed, []int{5}, dq.Split, "", 0},
		{`ColumnValues "currency" != EMPTY`, dq.Failed, []int{8}, dq.Split, "", 0},
		{`ColumnValues "currency" not in [EMPTY, WHITESPACES_ONLY, NULL]`, dq.Failed, []int{8}, dq.Split, "", 0},
		{`ColumnLength "currency" = 3`, dq.Failed, []int{8}, dq.Split, "Column.currency.ColumnLength.Compliance", 0.9},
		{`ColumnLength "status" between 4 and 7`, dq.Failed, []int{5, 6, 7}, dq.Split, "", 0},
		{`ColumnLength "status" <= 7 with threshold >= 0.7`, dq.Passed, []int{5, 6, 7}, dq.Split, "", 0},
		{`ColumnLength "status" <= 7 with threshold > 0.7`, dq.Failed, []int{5, 6, 7}, dq.Reject, "", 0},
		{`ColumnValues "status" in ["PAID"] with threshold >= 0.3`, dq.Passed, []int{1, 2, 3, 5, 6, 7, 9}, dq.Split, "", 0},
		{`ColumnValues "created_at" <= now()`, dq.Failed, []int{9}, dq.Split, "", 0},
		{`ColumnValues "created_at" > "2025-06-05"`, dq.Failed, []int{0, 1, 2, 3}, dq.Split, "", 0},
		{`ColumnValues "created_at" between "2025-06-03" and (now() - 200 days)`, dq.Failed, []int{0, 1, 9}, dq.Split, "", 0},
		{`ColumnValues "created_at" in ["2025-06-01"]`, dq.Failed, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, dq.Split, "", 0},
		{`DataFreshness "updated_at" <= 220 days`, dq.Passed, nil, dq.Pass, "Column.updated_at.DataFreshness.Compliance", 1},
		{`DataFreshness "updated_at" <= 206 days`, dq.Failed, []int{0, 1, 2, 3, 4, 5, 6, 7}, dq.Split, "", 0},
		{`DataFreshness "updated_at" between 206 days and 300 days`, dq.Failed, []int{8, 9}, dq.Split, "", 0},
		{`ColumnValues "updated_at" = NULL where "updated_at < created_at"`, dq.Failed, []int{7}, dq.Split, "Column.updated_at.ColumnValues.Compliance", 0},
		{`ColumnValues "amount" > 100 where "status = 'PAID'"`, dq.Failed, []int{0, 4, 8}, dq.Split, "", 0},
		{`ColumnValues "amount" > 100 where "'PAID' = status"`, dq.Failed, []int{0, 4, 8}, dq.Split, "", 0},
		{`ColumnValues "amount" > 100 where "10 >= amount"`, dq.Failed, []int{1, 2, 3, 4, 8, 9}, dq.Split, "", 0},
		{`IsComplete "customer_id" where "currency LIKE 'E%' AND NOT (status IN ('PAID') OR amount IS NULL)"`, dq.Passed, nil, dq.Pass, "", 0},
		{`IsComplete "customer_id" where "amount BETWEEN 1 AND 10"`, dq.Failed, []int{2}, dq.Split, "", 0},
		{`IsComplete "customer_id" where "amount NOT BETWEEN 1 AND 10 AND currency NOT LIKE '_S_' AND order_id IS NOT NULL AND status <> 'PAID'"`, dq.Passed, nil, dq.Pass, "", 0},
		{`IsComplete "customer_id" where "created_at < TIMESTAMP '2025-06-03 10:00:01' AND updated_at >= DATE '2025-06-02'"`, dq.Failed, []int{2}, dq.Split, "", 0},
		{`IsComplete "customer_id" where "created_at < '2025-06-04' AND amount IN (5, 7.5) AND order_id NOT IN (4)"`, dq.Failed, []int{2}, dq.Split, "", 0},
		{`RowCount = 10`, dq.Passed, nil, dq.Pass, "Dataset.*.RowCount", 10},
		{`RowCount > 10`, dq.Failed, nil, dq.Reject, "", 0},
		{`RowCount = 5 where "status = 'PAID' OR status = 'PENDING'"`, dq.Passed, nil, dq.Pass, "Dataset.*.RowCount", 5},
		{`ColumnCount = 7`, dq.Passed, nil, dq.Pass, "Dataset.*.ColumnCount", 7},
		{`ColumnExists "amount"`, dq.Passed, nil, dq.Pass, "", 0},
		{`ColumnExists "discount"`, dq.Failed, nil, dq.Reject, "", 0},
		{`Sum "amount" = 2000037.83`, dq.Passed, nil, dq.Pass, "Column.amount.Sum", 2000037.83},
		{`Sum "amount" > 2000037.83`, dq.Failed, nil, dq.Reject, "", 0},
		{`Sum "customer_id" = 126`, dq.Passed, nil, dq.Pass, "", 0},
		{`Mean "amount" between 222226.42 and 222226.43`, dq.Passed, nil, dq.Pass, "", 0},
		{`Mean "amount" < 222226.42`, dq.Failed, nil, dq.Reject, "", 0},
		{`Mean "amount" > 0 where "status = 'PAID'"`, dq.Passed, nil, dq.Pass, "Column.amount.Mean", 5.11},
		{`StandardDeviation "amount" between 415737 and 415738`, dq.Passed, nil, dq.Pass, "", 0},
		{`DistinctValuesCount "status" = 7`, dq.Passed, nil, dq.Pass, "Column.status.DistinctValuesCount", 7},
		{`DistinctValuesCount "order_id" = 8`, dq.Passed, nil, dq.Pass, "", 0},
		{`(IsComplete "order_id") and (ColumnValues "amount" >= 0)`, dq.Failed, []int{4, 6, 8}, dq.Split, "", 0},
		{`(ColumnValues "currency" matches "[A-Z]{3}") or (ColumnValues "currency" = EMPTY)`, dq.Failed, []int{5}, dq.Split, "", 0},
		{`(IsUnique "order_id") or (ColumnValues "status" = "DELIVERED")`, dq.Failed, []int{4}, dq.Split, "", 0},
		{`((IsUnique "order_id") and (IsComplete "customer_id")) or (ColumnValues "amount" < 1)`, dq.Failed, []int{2, 5}, dq.Split, "", 0},
		{`(RowCount > 0) and (IsComplete "customer_id")`, dq.Failed, nil, dq.Reject, "", 0},
		{`(RowCount > 100) or (ColumnExists "amount")`, dq.Passed, nil, dq.Pass, "", 0},
		{`IsComplete "nope"`, dq.Error, nil, dq.Reject, "", 0},
		{`ColumnValues "status" > 5`, dq.Error, nil, dq.Reject, "", 0},
		{`ColumnValues "amount" matches "1.*"`, dq.Error, nil, dq.Reject, "", 0},
		{`Mean "status" > 1`, dq.Error, nil, dq.Reject, "", 0},
		{`IsComplete "status" where "nope = 1"`, dq.Error, nil, dq.Reject, "", 0},
		{`IsComplete "status" where "status > 1"`, dq.Error, nil, dq.Reject, "", 0},
		{`(IsComplete "status") and (IsComplete "nope")`, dq.Error, nil, dq.Reject, "", 0},
	}
	// batches of 3 rows: duplicates and composites cross batch boundaries
	path := fixture(t, 3)
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			res, rows := evaluate(t, path, "Rules = [ "+tt.rule+" ]")
			if got, want := len(res.RuleResults), 1; got != want {
				t.Fatalf("rule results=%d, want %d", got, want)
			}
			rr := res.RuleResults[0]
			if got, want := rr.Outcome, tt.outcome; got != want {
				t.Errorf("outcome=%s (%s), want %s", got, rr.FailureReason, want)
			}
			if rr.Rule != tt.rule {
				t.Errorf("Rule=%q, want the text as written %q", rr.Rule, tt.rule)
			}
			if tt.outcome != dq.Passed && rr.FailureReason == "" {
				t.Error("no FailureReason")
			}
			if got, want := res.Verdict, tt.verdict; got != want {
				t.Errorf("verdict=%s (%s), want %s", got, res.VerdictReason, want)
			}
			var failed []int
			for i, o := range rows {
				if len(o.DataQualityRulesFail) > 0 {
					failed = append(failed, i)
				}
			}
			if !reflect.DeepEqual(failed, tt.failed) {
				t.Errorf("failed rows=%v, want %v", failed, tt.failed)
			}
			if got, want := rr.RowsFailed, int64(len(tt.failed)); got != want {
				t.Errorf("RowsFailed=%d, want %d", got, want)
			}
			if got, want := res.AggregatedMetrics.TotalRowsFailed, int64(len(tt.failed)); got != want {
				t.Errorf("TotalRowsFailed=%d, want %d", got, want)
			}
			if tt.metric != "" {
				got, ok := rr.EvaluatedMetrics[tt.metric]
				if !ok || got < tt.value-1e-9 || got > tt.value+1e-9 {
					t.Errorf("metric %s=%v (present %v), want %v; metrics %v", tt.metric, got, ok, tt.value, rr.EvaluatedMetrics)
				}
			}
		})
	}
}

// TestColumnLengthNull: Glue counts a NULL as a string of length 0.
func TestColumnLengthNull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.parquet")
	writeOrderRows(t, path, []vt.Order{{ID: vt.P(int64(1))}, {ID: vt.P(int64(2)), Currency: vt.P("EUR")}}, 10)
	for rule, want := range map[string][]int{
		`ColumnLength "currency" < 6`: nil,
		`ColumnLength "currency" > 2`: {0},
		`ColumnLength "currency" = 0`: {1},
	} {
		_, rows := evaluate(t, path, "Rules = [ "+rule+" ]")
		var failed []int
		for i, o := range rows {
			if o.DataQualityEvaluationResult == "Failed" {
				failed = append(failed, i)
			}
		}
		if !reflect.DeepEqual(failed, want) {
			t.Errorf("%s: failed rows=%v, want %v", rule, failed, want)
		}
	}
}

func TestErrorNamesColumnAndRule(t *testing.T) {
	res, _ := evaluate(t, fixture(t, 100), `Rules = [ ColumnValues "nope" > 1 ]`)
	reason := res.RuleResults[0].FailureReason
	for _, want := range []string{`column "nope" not found`, `ColumnValues "nope" > 1`} {
		if !strings.Contains(reason, want) {
			t.Errorf("FailureReason=%q, want it to contain %q", reason, want)
		}
	}
}

// TestOffendingValues checks the row-level columns the router writes.
func TestOffendingValues(t *testing.T) {
	_, rows := evaluate(t, fixture(t, 4), `Rules = [
  RowCount > 0,
  ColumnValues "amount" >= 0,
  IsPrimaryKey "order_id" "customer_id",
  (ColumnValues "currency" matches "[A-Z]{3}") and (ColumnValues "status" != "DELIVERED"),
  ColumnValues "amount" > 100 where "status = 'SHIPPED'"
]`)
	got := rows[5]
	want := dq.RowOutcome{
		DataQualityRulesPass:        []string{`ColumnValues "amount" >= 0`, `IsPrimaryKey "order_id" "customer_id"`},
		DataQualityRulesFail:        []string{`(ColumnValues "currency" matches "[A-Z]{3}") and (ColumnValues "status" != "DELIVERED")`},
		DataQualityRulesSkip:        []string{`RowCount > 0`, `ColumnValues "amount" > 100 where "status = 'SHIPPED'"`},
		DataQualityEvaluationResult: "Failed",
		DataQualityFailedValues:     []string{"currency=usd; status=DELIVERED"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row 5:\n got %+v\nwant %+v", got, want)
	}
	if got, want := rows[8].DataQualityFailedValues, []string{"order_id=NULL; customer_id=17", "currency="}; !reflect.DeepEqual(got, want) {
		t.Errorf("row 8 values=%v, want %v", got, want)
	}
	if got, want := rows[6].DataQualityFailedValues, []string{"NULL"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row 6 values=%v, want %v", got, want)
	}
	if got, want := rows[1].DataQualityFailedValues, []string{"0.00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row 1 values=%v, want %v (SHIPPED, amount 0.00 <= 100)", got, want)
	}
	if got := rows[0]; got.DataQualityEvaluationResult != "Passed" || len(got.DataQualityRulesFail) != 0 {
		t.Errorf("row 0=%+v, want passed", got)
	}
}

// TestGolden evaluates the repository's orders ruleset on the fixture and
// compares the Glue-shaped result and every row's outcome with
// testdata/orders_small.golden.json (go test -update rewrites it).
func TestGolden(t *testing.T) {
	rules, err := os.ReadFile("../../schemas/orders.dqdl")
	if err != nil {
		t.Fatal(err)
	}
	if *update { // the Parquet fixture cmd/lake's tests use
		b, err := os.ReadFile(fixture(t, 4))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/orders_small.parquet", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{fixture(t, 1), fixture(t, 4), fixture(t, 1000), "testdata/orders_small.parquet"} {
		res, rows := evaluate(t, path, string(rules))
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Result *dq.Result
			Rows   []dq.RowOutcome
		}{res, rows}); err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		golden := "testdata/orders_small.golden.json"
		if *update && !strings.HasPrefix(path, "testdata") {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: result differs from %s (go test -update rewrites it):\n%s", path, golden, got)
		}
	}
}

// TestValidateDictionaryRead: Validate reads strings as dictionaries; its
// result equals the dense read's.
func TestValidateDictionaryRead(t *testing.T) {
	rules, err := os.ReadFile("../../schemas/orders.dqdl")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := dqdl.Parse(string(rules))
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 3, 1000} {
		path := fixture(t, batch)
		want, _ := evaluate(t, path, string(rules))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dq.Validate(context.Background(), f, rs, dq.Options{Now: fixtureNow})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row groups of %d: Validate=%+v, want %+v", batch, got, want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	path := fixture(t, 100)
	tests := []struct {
		rules   string
		verdict dq.Verdict
		rows    [3]int64 // processed, passed, failed
		rules3  [3]int64 // processed, passed, failed
		score   float64
	}{
		{`Rules = [ RowCount = 10, ColumnValues "status" != "x" ]`, dq.Pass, [3]int64{10, 10, 0}, [3]int64{2, 2, 0}, 1},
		{`Rules = [ RowCount = 10, IsComplete "customer_id", IsUnique "order_id" ]`, dq.Split, [3]int64{10, 7, 3}, [3]int64{3, 1, 2}, 1.0 / 3},
		{`Rules = [ RowCount = 11, IsComplete "customer_id" ]`, dq.Reject, [3]int64{10, 9, 1}, [3]int64{2, 0, 2}, 0},
		{`Rules = [ ]`, dq.Pass, [3]int64{10, 10, 0}, [3]int64{0, 0, 0}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.rules, func(t *testing.T) {
			res, _ := evaluate(t, path, tt.rules)
			m := res.AggregatedMetrics
			if res.Verdict != tt.verdict {
				t.Errorf("verdict=%s, want %s", res.Verdict, tt.verdict)
			}
			if got := [3]int64{m.TotalRowsProcessed, m.TotalRowsPassed, m.TotalRowsFailed}; got != tt.rows {
				t.Errorf("rows processed/passed/failed=%v, want %v", got, tt.rows)
			}
			if got := [3]int64{m.TotalRulesProcessed, m.TotalRulesPassed, m.TotalRulesFailed}; got != tt.rules3 {
				t.Errorf("rules processed/passed/failed=%v, want %v", got, tt.rules3)
			}
			if res.Score < tt.score-1e-9 || res.Score > tt.score+1e-9 {
				t.Errorf("score=%v, want %v", res.Score, tt.score)
			}
		})
	}
}

func TestZeroRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.parquet")
	writeOrderRows(t, path, nil, 10)
	res, rows := evaluate(t, path, `Rules = [ RowCount > 0, IsComplete "order_id", IsUnique "order_id" ]`)
	if res.Verdict != dq.Reject || res.AggregatedMetrics.TotalRowsProcessed != 0 || len(rows) != 0 {
		t.Errorf("verdict=%s rows=%d outcomes=%d, want REJECT on 0 rows", res.Verdict, res.AggregatedMetrics.TotalRowsProcessed, len(rows))
	}
	if got := res.RuleResults[1].Outcome; got != dq.Passed {
		t.Errorf("IsComplete on no rows=%s, want Passed", got)
	}
}

func TestUnreadable(t *testing.T) {
	rs, err := dqdl.Parse(`Rules = [ RowCount > 0 ]`)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(fixture(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":     {},
		"csv":       []byte("order_id,status\n1,PAID\n"),
		"truncated": good[:len(good)/2],
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := dq.Validate(context.Background(), bytes.NewReader(data), rs, dq.Options{})
			var ue *lakeparquet.UnreadableError
			if !errors.As(err, &ue) {
				t.Errorf("err=%v (%T), want *lakeparquet.UnreadableError", err, err)
			}
		})
	}
}

func TestAPIMisuse(t *testing.T) {
	rs, _ := dqdl.Parse(`Rules = [ IsUnique "order_id" ]`)
	if _, err := dq.NewEvaluator(rs, nil, dq.Options{}); err == nil {
		t.Error("NewEvaluator without a schema succeeded")
	}
	ev, err := dq.NewEvaluator(rs, vt.OrdersSchema, dq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ev.Columns(), []string{"order_id"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Columns()=%v, want %v", got, want)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "order_id", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, other)
	b.Field(0).(*array.StringBuilder).Append("x")
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := ev.Observe(rec); err == nil || !strings.Contains(err.Error(), "schema said") {
		t.Errorf("Observe with a wrong column type: err=%v", err)
	}
	lw := dq.NewRowLogWriter(io.Discard, nil)
	if _, err := dq.NewEvaluator(rs, vt.OrdersSchema, dq.Options{RowLog: lw}); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err == nil {
		t.Error("closing a row log before its evaluator finished succeeded")
	}
}

// TestBatchesStopsEarly: an error from the callback stops the read-ahead
// goroutine cleanly (run with -race).
func TestBatchesStopsEarly(t *testing.T) {
	f, err := os.Open(fixture(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := lakeparquet.Open(f, lakeparquet.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = src.Batches(context.Background(), []string{"order_id"}, func(rec arrow.RecordBatch) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err=%v calls=%d, want the callback's error after 1 call", err, calls)
	}
}
