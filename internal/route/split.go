package route

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/validate"
)

// Glue's row-level columns, and ours: the offending value of each failed
// rule, aligned with DataQualityRulesFail.
const (
	colRulesPass   = "DataQualityRulesPass"
	colRulesFail   = "DataQualityRulesFail"
	colRulesSkip   = "DataQualityRulesSkip"
	colResult      = "DataQualityEvaluationResult"
	colFailedValue = "DataQualityFailedValues"
)

// nullDay is the partition key of rows whose partition column is NULL.
const nullDay = math.MinInt64

// hiveDefaultPartition is the partition value of those rows, as Hive names it.
const hiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// router routes one usable object's rows.
type router struct {
	d   Deps
	o   *validate.Object
	ev  *dq.Evaluator
	res *dq.Result

	// silverSchema is the table's columns in the table's order; src[i]
	// is the source column of its field i (set from the first batch).
	silverSchema *arrow.Schema
	discSchema   *arrow.Schema
	src          []int
	partCol      int
	// gating are the rules that rejected the object (dq's RejectsObject:
	// errors, failed dataset-level rules and failed ratios), which a
	// REJECT adds to every row's DataQualityRulesFail.
	gating []dq.RuleResult

	days   []int64
	group  map[int64]int // partition day -> pass
	labels map[int64]string

	disc   *lakeparquet.Writer
	silver map[int64]*lakeparquet.Writer
	// objects of the writers closed so far, and the partitions they fill
	silverObjs, discObjs []lakeparquet.Object
	written              map[string]bool

	silverRows, discRows int64
}

// route evaluates the object and writes its rows; on return r holds the
// counts and objects. An object found unreadable midway sets o.Problem
// after removing what was written, and returns nil.
func route(ctx context.Context, d Deps, o *validate.Object, r *Record) error {
	rt := &router{d: d, o: o, labels: map[int64]string{}, silver: map[int64]*lakeparquet.Writer{}, written: map[string]bool{}}
	pcol := o.Table.Partition.Column
	seen := map[int64]bool{}
	ev, res, err := o.Evaluate(ctx, d.Lake, []string{pcol}, func(rec arrow.RecordBatch) error {
		i := rec.Schema().FieldIndices(pcol)[0]
		rt.days = partitionDays(rec.Column(i), rt.days)
		for _, day := range rt.days {
			seen[day] = true
		}
		return nil
	})
	if err != nil || ev == nil {
		return err
	}
	rt.ev, rt.res = ev, res
	rt.plan(slices.Sorted(maps.Keys(seen)))
	rt.schemas()

	passes := 1
	switch dq.Verdict(res.Verdict) {
	case dq.Reject:
		for _, rr := range res.RuleResults {
			if rr.RejectsObject {
				rt.gating = append(rt.gating, rr)
			}
		}
	default:
		passes = max(1, slices.Max(append(slices.Collect(maps.Values(rt.group)), 0))+1)
	}
	rowsIn := o.Source.NumRows()
	for pass := range passes {
		n, err := rt.pass(ctx, pass)
		if err != nil {
			rt.abort(err)
			var ue *dq.UnreadableError
			if errors.As(err, &ue) {
				if err := o.Unreadable(ctx, d.Lake, err); err != nil {
					return err
				}
				return rt.removeWritten(ctx)
			}
			return validate.StoreError(err, "route: %s: pass %d", o.Key, pass)
		}
		if n != rowsIn {
			return &ConservationError{Key: o.Key, RowsIn: rowsIn, Detail: fmt.Sprintf("pass %d read %d rows", pass, n)}
		}
	}

	r.Verdict, r.Reason = validate.Verdict(res.Verdict), validate.Clip(res.VerdictReason)
	r.RowsIn = rowsIn
	r.Silver, r.Discarded = rt.silverObjs, rt.discObjs
	for _, ob := range r.Silver {
		r.SilverRows += ob.Rows
	}
	for _, ob := range r.Discarded {
		r.DiscardedRows += ob.Rows
	}
	r.SilverObjects, r.DiscardedObjects = len(r.Silver), len(r.Discarded)
	if r.SilverRows != rt.silverRows || r.DiscardedRows != rt.discRows || rowsIn != r.SilverRows+r.DiscardedRows ||
		res.AggregatedMetrics.TotalRowsProcessed != rowsIn {
		return &ConservationError{Key: o.Key, RowsIn: rowsIn, Silver: r.SilverRows, Discarded: r.DiscardedRows,
			Detail: fmt.Sprintf("routed %d to silver and %d to discarded; evaluated %d", rt.silverRows, rt.discRows, res.AggregatedMetrics.TotalRowsProcessed)}
	}
	r.AllPartitions = slices.Sorted(maps.Keys(rt.written))
	r.Partitions = r.AllPartitions
	if len(r.Partitions) > maxPartitionsOut {
		r.Partitions, r.PartitionsTruncated = r.Partitions[:maxPartitionsOut], true
	}
	if err := o.WriteResult(ctx, d.Lake, "route", d.Clock(), r.Verdict, res); err != nil {
		return err
	}
	return nil
}

// plan assigns the partitions seen to passes of at most MaxOpenPartitions
// partitions each, in date order.
func (rt *router) plan(days []int64) {
	limit := rt.d.MaxOpenPartitions
	if limit <= 0 {
		limit = DefaultMaxOpenPartitions
	}
	rt.group = make(map[int64]int, len(days))
	for i, day := range days {
		rt.group[day] = i / limit
		rt.labels[day] = partitionLabel(rt.o.Table.Partition.Name, day)
	}
}

// partitionLabel is "<name>=YYYY-MM-DD", or Hive's default partition for
// NULL.
func partitionLabel(name string, day int64) string {
	if day == nullDay {
		return name + "=" + hiveDefaultPartition
	}
	return name + "=" + time.Unix(day*86400, 0).UTC().Format("2006-01-02")
}

// schemas fixes the silver schema (the table's columns, in the order of
// its schema.json, else the object's) and the discarded one (the same
// plus the data-quality columns).
func (rt *router) schemas() {
	sc := rt.o.Source.Schema()
	var names []string
	if ts := rt.o.TableSchema; ts != nil {
		for _, c := range ts.Columns {
			names = append(names, c.Name)
		}
	} else {
		for _, f := range sc.Fields() {
			names = append(names, f.Name)
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		f := sc.Field(sc.FieldIndices(name)[0])
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	rt.silverSchema = arrow.NewSchema(fields, nil)
	list := arrow.ListOf(arrow.BinaryTypes.String)
	rt.discSchema = arrow.NewSchema(append(slices.Clone(fields),
		arrow.Field{Name: colRulesPass, Type: list},
		arrow.Field{Name: colRulesFail, Type: list},
		arrow.Field{Name: colRulesSkip, Type: list},
		arrow.Field{Name: colResult, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: colFailedValue, Type: list},
	), nil)
}

// pass streams every row of the object once: in pass 0 the rows that go
// to discarded, in every pass the valid rows of that pass's partitions.
// It closes the pass's writers and returns the rows read.
func (rt *router) pass(ctx context.Context, pass int) (int64, error) {
	verdict := dq.Verdict(rt.res.Verdict)
	var offset int64
	err := rt.o.Source.Batches(ctx, nil, func(rec arrow.RecordBatch) error {
		if rt.src == nil {
			sc := rec.Schema()
			for _, f := range rt.silverSchema.Fields() {
				rt.src = append(rt.src, sc.FieldIndices(f.Name)[0])
			}
			rt.partCol = sc.FieldIndices(rt.o.Table.Partition.Column)[0]
		}
		n := int(rec.NumRows())
		var rows *dq.RowResults
		if verdict != dq.Pass {
			var err error
			if rows, err = rt.ev.Rows(rec, offset); err != nil {
				return fmt.Errorf("route: %s: %w", rt.o.Key, err)
			}
		}
		offset += int64(n)
		valid := func(i int) bool {
			return verdict == dq.Pass || verdict == dq.Split && rows.Passed(i)
		}
		if pass == 0 && verdict != dq.Pass {
			var bad []int
			for i := range n {
				if !valid(i) {
					bad = append(bad, i)
				}
			}
			if err := rt.writeDiscarded(ctx, rec, rows, bad); err != nil {
				return err
			}
		}
		if verdict == dq.Reject {
			return nil
		}
		rt.days = partitionDays(rec.Column(rt.partCol), rt.days)
		return rt.writeSilver(ctx, rec, pass, valid)
	})
	if err != nil {
		return offset, err
	}
	return offset, rt.closeWriters(pass == 0)
}

// writeSilver writes the valid rows of rec whose partition belongs to
// pass, each partition's rows to its writer.
func (rt *router) writeSilver(ctx context.Context, rec arrow.RecordBatch, pass int, valid func(int) bool) error {
	// group the rows by partition, in order of first appearance
	var order []int64
	rowsOf := map[int64][]int32{}
	for i, day := range rt.days {
		if rt.group[day] != pass || !valid(i) {
			continue
		}
		if _, ok := rowsOf[day]; !ok {
			order = append(order, day)
		}
		rowsOf[day] = append(rowsOf[day], int32(i))
	}
	if len(order) == 0 {
		return nil
	}
	cols := rt.sourceColumns(rec)
	if len(order) == 1 && len(rowsOf[order[0]]) == int(rec.NumRows()) {
		batch := array.NewRecordBatch(rt.silverSchema, cols, rec.NumRows())
		defer batch.Release()
		return rt.writeSilverBatch(ctx, order[0], batch)
	}
	var perm []int32
	for _, day := range order {
		perm = append(perm, rowsOf[day]...)
	}
	taken, err := take(ctx, cols, perm)
	if err != nil {
		return err
	}
	defer releaseAll(taken)
	start := int64(0)
	for _, day := range order {
		end := start + int64(len(rowsOf[day]))
		slice := make([]arrow.Array, len(taken))
		for c, a := range taken {
			slice[c] = array.NewSlice(a, start, end)
		}
		batch := array.NewRecordBatch(rt.silverSchema, slice, end-start)
		releaseAll(slice)
		err := rt.writeSilverBatch(ctx, day, batch)
		batch.Release()
		if err != nil {
			return err
		}
		start = end
	}
	return nil
}

func (rt *router) writeSilverBatch(ctx context.Context, day int64, batch arrow.RecordBatch) error {
	w := rt.silver[day]
	if w == nil {
		label := rt.labels[day]
		w = lakeparquet.NewWriter(ctx, rt.d.Lake, rt.silverSchema, func(part int) string { return rt.o.Keys.Silver(label, part) }, rt.d.Writer)
		rt.silver[day] = w
	}
	if err := w.Write(batch); err != nil {
		return fmt.Errorf("route: %s: write silver: %w", rt.o.Key, err)
	}
	rt.silverRows += batch.NumRows()
	return nil
}

// writeDiscarded writes rows bad of rec to discarded, with their outcomes.
func (rt *router) writeDiscarded(ctx context.Context, rec arrow.RecordBatch, rows *dq.RowResults, bad []int) error {
	if len(bad) == 0 {
		return nil
	}
	perm := make([]int32, len(bad))
	for k, i := range bad {
		perm[k] = int32(i)
	}
	cols, err := take(ctx, rt.sourceColumns(rec), perm)
	if err != nil {
		return err
	}
	defer releaseAll(cols)
	pass, fail, skip, vals := newListBuilder(), newListBuilder(), newListBuilder(), newListBuilder()
	result := array.NewStringBuilder(memory.DefaultAllocator)
	defer func() {
		for _, b := range []array.Builder{pass, fail, skip, vals, result} {
			b.Release()
		}
	}()
	for _, i := range bad {
		oc := rows.Outcome(i)
		if len(rt.gating) > 0 {
			oc = rt.addGating(oc)
		}
		appendList(pass, oc.DataQualityRulesPass)
		appendList(fail, oc.DataQualityRulesFail)
		appendList(skip, oc.DataQualityRulesSkip)
		result.Append(oc.DataQualityEvaluationResult)
		appendList(vals, oc.DataQualityFailedValues)
	}
	dqCols := []arrow.Array{pass.NewArray(), fail.NewArray(), skip.NewArray(), result.NewArray(), vals.NewArray()}
	defer releaseAll(dqCols)
	batch := array.NewRecordBatch(rt.discSchema, append(slices.Clone(cols), dqCols...), int64(len(bad)))
	defer batch.Release()
	if rt.disc == nil {
		rt.disc = lakeparquet.NewWriter(ctx, rt.d.Lake, rt.discSchema, rt.o.Keys.DiscardedRows, rt.d.Writer)
	}
	if err := rt.disc.Write(batch); err != nil {
		return fmt.Errorf("route: %s: write discarded: %w", rt.o.Key, err)
	}
	rt.discRows += int64(len(bad))
	return nil
}

// addGating adds the rules that rejected the whole object to a row's
// failed rules (out of its skipped ones, where dq lists dataset-level and
// unevaluable rules), with their failure reasons as the values.
func (rt *router) addGating(oc dq.RowOutcome) dq.RowOutcome {
	for _, g := range rt.gating {
		oc.DataQualityRulesSkip = slices.DeleteFunc(oc.DataQualityRulesSkip, func(s string) bool { return s == g.Rule })
		oc.DataQualityRulesPass = slices.DeleteFunc(oc.DataQualityRulesPass, func(s string) bool { return s == g.Rule })
		if !slices.Contains(oc.DataQualityRulesFail, g.Rule) {
			oc.DataQualityRulesFail = append(oc.DataQualityRulesFail, g.Rule)
			oc.DataQualityFailedValues = append(oc.DataQualityFailedValues, g.FailureReason)
		}
	}
	oc.DataQualityEvaluationResult = string(dq.Failed)
	return oc
}

// sourceColumns are rec's columns in the silver schema's order.
func (rt *router) sourceColumns(rec arrow.RecordBatch) []arrow.Array {
	cols := make([]arrow.Array, len(rt.src))
	for i, c := range rt.src {
		cols[i] = rec.Column(c)
	}
	return cols
}

// closeWriters closes the open silver writers (and, after pass 0, the
// discarded writer), keeping the objects they wrote.
func (rt *router) closeWriters(disc bool) error {
	for _, day := range slices.Sorted(maps.Keys(rt.silver)) {
		w := rt.silver[day]
		delete(rt.silver, day)
		objs, err := w.Close()
		if err != nil {
			return fmt.Errorf("route: %s: close silver %s: %w", rt.o.Key, rt.labels[day], err)
		}
		rt.silverObjs = append(rt.silverObjs, objs...)
		if len(objs) > 0 {
			rt.written[rt.labels[day]] = true
		}
	}
	if disc && rt.disc != nil {
		objs, err := rt.disc.Close()
		rt.disc = nil
		if err != nil {
			return fmt.Errorf("route: %s: close discarded: %w", rt.o.Key, err)
		}
		rt.discObjs = append(rt.discObjs, objs...)
	}
	return nil
}

// abort stops every open writer: their objects are never stored.
func (rt *router) abort(cause error) {
	for day, w := range rt.silver {
		w.Abort(cause)
		delete(rt.silver, day)
	}
	if rt.disc != nil {
		rt.disc.Abort(cause)
		rt.disc = nil
	}
}

// removeWritten deletes the objects already written, when the object
// turned out unreadable midway and is quarantined whole instead.
func (rt *router) removeWritten(ctx context.Context) error {
	for _, ob := range slices.Concat(rt.silverObjs, rt.discObjs) {
		if err := rt.d.Lake.Delete(ctx, ob.Key); err != nil {
			return validate.StoreError(err, "route: remove %q", ob.Key)
		}
	}
	rt.silverObjs, rt.discObjs = nil, nil
	return nil
}

// partitionDays returns the UTC day (days since 1970-01-01) of each value
// of a timestamp or date column, nullDay for NULL, reusing buf. A
// timestamp without a time zone is taken as UTC.
func partitionDays(a arrow.Array, buf []int64) []int64 {
	n := a.Len()
	if cap(buf) < n {
		buf = make([]int64, n)
	}
	buf = buf[:n]
	var value func(i int) int64
	switch a := a.(type) {
	case *array.Timestamp:
		per := map[arrow.TimeUnit]int64{arrow.Second: 86400, arrow.Millisecond: 86400e3, arrow.Microsecond: 86400e6, arrow.Nanosecond: 86400e9}[a.DataType().(*arrow.TimestampType).Unit]
		value = func(i int) int64 { return floorDiv(int64(a.Value(i)), per) }
	case *array.Date32:
		value = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date64:
		value = func(i int) int64 { return floorDiv(int64(a.Value(i)), 86400e3) }
	default:
		panic(fmt.Sprintf("route: partition column of type %s (validate.Open admits only timestamps and dates)", a.DataType()))
	}
	for i := range n {
		if a.IsNull(i) {
			buf[i] = nullDay
		} else {
			buf[i] = value(i)
		}
	}
	return buf
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// take gathers rows perm of every column.
func take(ctx context.Context, cols []arrow.Array, perm []int32) ([]arrow.Array, error) {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	b.AppendValues(perm, nil)
	idx := b.NewArray()
	b.Release()
	defer idx.Release()
	out := make([]arrow.Array, 0, len(cols))
	for _, c := range cols {
		t, err := compute.TakeArrayOpts(ctx, c, idx, compute.TakeOptions{BoundsCheck: false})
		if err != nil {
			releaseAll(out)
			return nil, fmt.Errorf("route: take rows: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

func newListBuilder() *array.ListBuilder {
	return array.NewListBuilder(memory.DefaultAllocator, arrow.BinaryTypes.String)
}

func appendList(b *array.ListBuilder, vs []string) {
	b.Append(true)
	vb := b.ValueBuilder().(*array.StringBuilder)
	for _, v := range vs {
		vb.Append(v)
	}
}
