package dq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/dqdl"
)

var keysSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "d", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "g", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// keyBatches makes rows rows of keys of every kind, in batches of batch
// rows: mostly distinct, some duplicated (near and far apart), some NULL,
// floats with NaN, 0 and -0; g has 7 values.
func keyBatches(t testing.TB, rows, batch int) []arrow.RecordBatch {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []arrow.RecordBatch
	for start := 0; start < rows; start += batch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, keysSchema)
		for r := start; r < min(start+batch, rows); r++ {
			k := int64(r)
			if rng.IntN(20) == 0 {
				k = rng.Int64N(int64(rows)) // a duplicate of some row, anywhere
			}
			null := rng.IntN(50) == 0
			appendOr := func(bl array.Builder, f func()) {
				if null {
					bl.AppendNull()
				} else {
					f()
				}
			}
			appendOr(b.Field(0), func() { b.Field(0).(*array.Int64Builder).Append(k) })
			appendOr(b.Field(1), func() { b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("key-%09d", k)) })
			appendOr(b.Field(2), func() { b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(k * 7)) })
			fv := float64(k) / 3
			switch k % 1000 {
			case 1:
				fv = math.NaN()
			case 2:
				fv = math.Copysign(0, -1)
			case 3:
				fv = 0
			}
			appendOr(b.Field(3), func() { b.Field(3).(*array.Float64Builder).Append(fv) })
			appendOr(b.Field(4), func() { b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(k * 1_000_000)) })
			b.Field(5).(*array.Int64Builder).Append(k % 7)
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return recs
}

// keyRules cover every key kind, several columns, where clauses,
// IsPrimaryKey, Uniqueness, DistinctValuesCount and a composite that
// depends on uniqueness; some are written twice, differently.
const keyRules = `Rules = [
	IsUnique "id",
	IsUnique   "id",
	IsPrimaryKey "id",
	Uniqueness "id" > 0.9,
	IsUnique "s",
	IsUnique "d",
	IsUnique "f",
	IsUnique "ts",
	IsPrimaryKey "id" "s",
	IsUnique "s" where "g > 2",
	DistinctValuesCount "id" > 10,
	DistinctValuesCount "f" between 1 and 1000000,
	DistinctValuesCount "s" > 10 where "g > 2",
	(IsUnique "d") or (ColumnValues "g" > 3),
	(IsUnique "ts") and (ColumnValues "g" <= 5.0),
	ColumnValues "g" <= 5
]`

// run evaluates rules over recs with opts and returns the result and each
// row's outcome.
func run(t testing.TB, rules string, opts Options, recs []arrow.RecordBatch) (*Result, []RowOutcome, error) {
	t.Helper()
	rs, err := dqdl.Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var logBuf bytes.Buffer
	opts.RowLog = NewRowLogWriter(&logBuf, nil)
	e, err := NewEvaluator(rs, keysSchema, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := e.Observe(rec); err != nil {
			return nil, nil, err
		}
	}
	spills := openSpills(t, opts.TempDir)
	res, err := e.Finish()
	if err != nil {
		return nil, nil, err
	}
	if opts.TempDir != "" {
		t.Logf("budget %s: %d spill files open before Finish", FormatMemory(opts.MemoryBudget), spills)
		if got := openSpills(t, opts.TempDir); got != 0 {
			t.Errorf("%d spill files still open after Finish", got)
		}
	}
	if err := opts.RowLog.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := OpenRowLog(bytes.NewReader(logBuf.Bytes()), int64(logBuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := log.Cursor()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	render, err := log.Renderer(keysSchema)
	if err != nil {
		t.Fatal(err)
	}
	var outs []RowOutcome
	for _, rec := range recs {
		st, err := cur.Next(int(rec.NumRows()))
		if err != nil {
			t.Fatal(err)
		}
		if err := render.Bind(rec); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < st.Len(); i++ {
			outs = append(outs, render.Outcome(st, i, false))
		}
	}
	return res, outs, nil
}

// openSpills counts this process's open (unlinked) spill files in dir.
func openSpills(t testing.TB, dir string) int {
	if dir == "" {
		return 0
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count open files: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/lake-dq-") {
			n++
		}
	}
	return n
}

// TestSpillGivesTheSameResults evaluates the same rules with a budget
// that holds everything in memory and with budgets that force the hash
// sets to disk (and, for the smallest, the spills to be partitioned again):
// the results and every row's outcome must be the same.
func TestSpillGivesTheSameResults(t *testing.T) {
	recs := keyBatches(t, 120_000, 8192)
	want, wantRows, err := run(t, keyRules, Options{MemoryBudget: 1 << 30}, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int64{8 << 20, 2 << 20} {
		t.Run(FormatMemory(budget), func(t *testing.T) {
			dir := t.TempDir()
			got, gotRows, err := run(t, keyRules, Options{MemoryBudget: budget, TempDir: dir, ExpectedRows: 120_000}, recs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("result with spills:\n%s\nwant:\n%s", g, w)
			}
			for i := range wantRows {
				if !reflect.DeepEqual(gotRows[i], wantRows[i]) {
					t.Fatalf("row %d: %+v, want %+v", i, gotRows[i], wantRows[i])
				}
			}
		})
	}
	if want.AggregatedMetrics.TotalRowsFailed == 0 || want.AggregatedMetrics.TotalRowsPassed == 0 {
		t.Errorf("the fixture should have both failing and passing rows: %+v", want.AggregatedMetrics)
	}
}

// TestSpillHappens checks that a small budget does spill (open spill
// files between Observe and Finish) and that memory stays near it.
func TestSpillHappens(t *testing.T) {
	recs := keyBatches(t, 120_000, 8192)
	rs, err := dqdl.Parse(keyRules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const budget = 2 << 20
	e, err := NewEvaluator(rs, keysSchema, Options{MemoryBudget: budget, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := e.Observe(rec); err != nil {
			t.Fatal(err)
		}
		if m := e.memory(); m > budget {
			t.Fatalf("after a batch the evaluator holds %s, over its budget of %s", FormatMemory(m), FormatMemory(budget))
		}
	}
	if n := openSpills(t, dir); n == 0 {
		t.Errorf("no spill file open with a %s budget", FormatMemory(budget))
	}
}

// TestIdenticalRulesShareState: rules written alike, however often, are
// one node and one hash set, and their results are each reported.
func TestIdenticalRulesShareState(t *testing.T) {
	recs := keyBatches(t, 20_000, 4096)
	var rules []string
	for i := range 1000 {
		rules = append(rules, []string{`IsUnique "s"`, `IsUnique  "s"`, `Uniqueness "s" > 0.5`, `DistinctValuesCount "s" > 1.0`}[i%4])
	}
	text := "Rules = [" + strings.Join(rules, ",\n") + "]"
	rs, err := dqdl.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEvaluator(rs, keysSchema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(e.nodes), 3; got != want {
		t.Errorf("%d compiled rules for 1000 rules of 3 kinds, want %d", got, want)
	}
	if got, want := len(e.order), 1; got != want {
		t.Errorf("%d uniqueness hash sets for rules on one column, want %d", got, want)
	}
	res, _, err := run(t, text, Options{}, recs)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.RuleResults); got != 1000 {
		t.Fatalf("%d rule results, want 1000", got)
	}
	for i, rr := range res.RuleResults {
		if rr.Rule != rules[i] {
			t.Errorf("result %d is for %q, want %q (its own spelling)", i, rr.Rule, rules[i])
		}
		if first := res.RuleResults[i%4]; rr.Outcome != first.Outcome || rr.RowsFailed != first.RowsFailed {
			t.Errorf("result %d: %s with %d rows failed, but the same rule gave %s with %d", i, rr.Outcome, rr.RowsFailed, first.Outcome, first.RowsFailed)
		}
	}
	if res.RuleResults[0].RowsFailed == 0 {
		t.Error("the fixture should have duplicates")
	}
}

// TestMemoryBudgetError: when per-row state alone exceeds the budget, the
// error is named and says which rule and how much.
func TestMemoryBudgetError(t *testing.T) {
	recs := keyBatches(t, 120_000, 8192)
	var rules []string
	for i := range 60 {
		rules = append(rules, fmt.Sprintf(`IsUnique "id" where "g != %d"`, i))
	}
	_, _, err := run(t, "Rules = ["+strings.Join(rules, ",")+"]", Options{MemoryBudget: 1 << 20, TempDir: t.TempDir()}, recs)
	var mb *MemoryBudgetError
	if !errors.As(err, &mb) {
		t.Fatalf("err=%v, want a *MemoryBudgetError", err)
	}
	if mb.Budget != 1<<20 || mb.Need <= mb.Budget || !strings.HasPrefix(mb.Rule, `IsUnique "id" where`) {
		t.Errorf("MemoryBudgetError%+v, want the budget, a need above it and a rule", *mb)
	}
	for _, want := range []string{"1.0 MiB", mb.Rule, "LAKE_DQ_MEMORY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256MiB", 256 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512MB", 512e6, true},
		{"300M", 300 << 20, true},
		{" 2G ", 2 << 30, true},
		{"1048576", 1 << 20, true},
		{"1000", 0, false}, // under 1 MiB
		{"-5MiB", 0, false},
		{"lots", 0, false},
		{"1.5GiB", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMemory(%q)=%d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestVec2(t *testing.T) {
	var v vec2
	var want []uint8
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		batch := make([]uint8, rng.IntN(100))
		for i := range batch {
			batch[i] = uint8(rng.IntN(4))
		}
		v.appendAll(batch)
		want = append(want, batch...)
	}
	for range 200 {
		r := rng.Int64N(int64(len(want)))
		x := uint8(rng.IntN(4))
		v.set(r, x)
		want[r] = x
	}
	if v.n != int64(len(want)) {
		t.Fatalf("n=%d, want %d", v.n, len(want))
	}
	for r, x := range want {
		if got := v.get(int64(r)); got != x {
			t.Fatalf("get(%d)=%d, want %d", r, got, x)
		}
	}
}
