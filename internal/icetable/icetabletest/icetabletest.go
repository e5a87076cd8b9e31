// Package icetabletest fills a lake's Iceberg tables with many small
// objects of orders-shaped rows, committed as the pipeline commits them
// (silver appended, _current merged, discarded appended with Glue's DQ
// columns), and reads the tables back, so that the tests of what
// maintains them (internal/maintain, the pipeline's maintain task, lake
// maintain, lake serve, the IAM conformance test) can check that no row
// was lost or duplicated. Imported only by tests.
package icetabletest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
)

// Rows is what a table holds: each row as "order_id@updated_at", with how
// many times it is there.
type Rows map[string]int

// Want is what each kind of table must hold.
type Want map[icetable.Kind]Rows

// day0 is when the test orders are created, over a year from it.
var day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Order is order id as of its u-th update, created in 2025 (the day of
// the year is id's remainder by 365).
func Order(id int64, u int) bronzetest.Order {
	o := bronzetest.Good(id, day0.Add(time.Duration(id%365)*24*time.Hour))
	up := o.CreatedAt.Add(time.Duration(u) * time.Hour)
	o.UpdatedAt, o.Status = &up, bronzetest.P(fmt.Sprintf("S%d", u))
	return o
}

func key(o bronzetest.Order) string {
	return fmt.Sprintf("%d@%s", *o.ID, o.UpdatedAt.UTC().Format(time.RFC3339))
}

// Fill commits n objects (keys prefix-0, prefix-1, ...) of perObject
// orders each to every kind of table of tc, each object in one commit per
// table, as the pipeline does: object i holds the ids i*perObject/2 to
// i*perObject/2+perObject at version i+1 (so consecutive objects share
// half their keys, and _current gets position deletes), created over
// the year 2025 (several monthly partitions). It returns what each table
// then holds, adding to want when it is not nil.
func Fill(t testing.TB, lake *icetable.Lake, tc *contract.Table, prefix string, n, perObject int, want Want) Want {
	t.Helper()
	if want == nil {
		want = Want{}
	}
	for _, k := range icetable.Kinds {
		if want[k] == nil {
			want[k] = Rows{}
		}
	}
	for i := range n {
		first := int64(i * perObject / 2)
		rows := make([]bronzetest.Order, perObject)
		for j := range rows {
			rows[j] = Order(first+int64(j), i+1)
		}
		obj := icetable.Object{Key: fmt.Sprintf("bronze/landing/%s/%s-%d.parquet", tc.Name, prefix, i), ETag: fmt.Sprintf("etag-%s-%d", prefix, i)}
		for _, k := range icetable.Kinds {
			Commit(t, lake, tc, k, obj, rows)
			for _, r := range rows {
				want[k][key(r)]++
			}
		}
	}
	// _current holds the latest version of each key
	latest := map[string]string{}
	for k := range want[icetable.Current] {
		id, up, _ := strings.Cut(k, "@")
		if up > latest[id] {
			latest[id] = up
		}
	}
	want[icetable.Current] = Rows{}
	for id, up := range latest {
		want[icetable.Current][id+"@"+up] = 1
	}
	return want
}

// Commit writes rows as the object obj into the kind of table of tc and
// commits them.
func Commit(t testing.TB, lake *icetable.Lake, tc *contract.Table, kind icetable.Kind, obj icetable.Object, rows []bronzetest.Order) icetable.Committed {
	t.Helper()
	c, err := lake.Commit(t.Context(), tc, Write(t, lake, tc, kind, obj, rows))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Write writes rows as the object obj into data files of the kind of
// table of tc, and commits nothing (as a commit step that never ran).
func Write(t testing.TB, lake *icetable.Lake, tc *contract.Table, kind icetable.Kind, obj icetable.Object, rows []bronzetest.Order) icetable.Files {
	t.Helper()
	sc := bronzetest.OrdersSchema
	if kind == icetable.Discarded {
		sc = arrow.NewSchema(append(slices.Clone(sc.Fields()), icetable.DQColumns...), nil)
	}
	w, err := lake.NewWriter(t.Context(), kind, tc, obj, sc)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for _, r := range rows {
		bronzetest.AppendOrder(b, r)
		if kind == icetable.Discarded {
			AppendDQ(b, bronzetest.OrdersSchema.NumFields(), failedRule)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		w.Abort()
		t.Fatal(err)
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// failedRule are the DQ columns of the rows Fill commits to discarded.
var failedRule = map[string][]string{
	icetable.ColRulesPass:    {`IsComplete "order_id"`},
	icetable.ColRulesFail:    {`ColumnValues "status" in ["PAID"]`},
	icetable.ColFailedValues: {`"S1"`},
}

// AppendDQ appends a failed row's DQ columns, which start at column from
// of b: the rule lists (by column name; an absent one is empty) and the
// result Failed.
func AppendDQ(b *array.RecordBuilder, from int, lists map[string][]string) {
	for i, f := range icetable.DQColumns {
		fb := b.Field(from + i)
		if f.Name == icetable.ColResult {
			fb.(*array.StringBuilder).Append("Failed")
			continue
		}
		lb := fb.(*array.ListBuilder)
		lb.Append(true)
		for _, s := range lists[f.Name] {
			lb.ValueBuilder().(*array.StringBuilder).Append(s)
		}
	}
}

// Read reads the kind of table of tc as iceberg-go scans it (position
// deletes applied); a table that does not exist holds nothing.
func Read(t testing.TB, lake *icetable.Lake, tc *contract.Table, kind icetable.Kind) Rows {
	t.Helper()
	ident, err := icetable.Ident(kind, tc.Name)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := lake.Catalog().LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatalf("load %s: %v", strings.Join(ident, "."), err)
	}
	got := Rows{}
	if tbl.CurrentSnapshot() == nil {
		return got
	}
	at, err := tbl.Scan(table.WithSelectedFields("order_id", "updated_at")).ToArrowTable(t.Context())
	if err != nil {
		t.Fatalf("scan %s: %v", strings.Join(ident, "."), err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		ids := rec.Column(rec.Schema().FieldIndices("order_id")[0]).(*array.Int64)
		ups := rec.Column(rec.Schema().FieldIndices("updated_at")[0]).(*array.Timestamp)
		for i := range ids.Len() {
			got[fmt.Sprintf("%d@%s", ids.Value(i), ups.Value(i).ToTime(arrow.Microsecond).UTC().Format(time.RFC3339))]++
		}
	}
	return got
}

// Check fails t unless every kind of table of tc holds what want says:
// every row, once (or as many times as it was committed).
func Check(t testing.TB, lake *icetable.Lake, tc *contract.Table, want Want) {
	t.Helper()
	for _, k := range icetable.Kinds {
		if diff := Diff(Read(t, lake, tc, k), want[k]); diff != "" {
			t.Errorf("%s of %s: %s", k, tc.Name, diff)
		}
	}
}

// Diff says how got differs from want ("" when they are equal): rows
// lost, rows duplicated, rows that should not be there.
func Diff(got, want Rows) string {
	if maps.Equal(got, want) {
		return ""
	}
	var lost, extra []string
	for k, n := range want {
		if got[k] < n {
			lost = append(lost, fmt.Sprintf("%s (%d of %d)", k, got[k], n))
		}
	}
	for k, n := range got {
		if n > want[k] {
			extra = append(extra, fmt.Sprintf("%s (%d, want %d)", k, n, want[k]))
		}
	}
	sort.Strings(lost)
	sort.Strings(extra)
	return fmt.Sprintf("%d rows, want %d: %d lost %s, %d extra %s", total(got), total(want), len(lost), first(lost), len(extra), first(extra))
}

func total(r Rows) (n int) {
	for _, c := range r {
		n += c
	}
	return n
}

func first(s []string) string {
	if len(s) > 5 {
		return fmt.Sprint(s[:5], "...")
	}
	return fmt.Sprint(s)
}
