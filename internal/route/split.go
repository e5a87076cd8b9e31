package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
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

// splitter routes one usable object's rows in one pass.
type splitter struct {
	o       *bronze.Object
	verdict dq.Verdict
	states  *dq.RowCursor
	render  *dq.RowRenderer

	silverSchema, discSchema *arrow.Schema
	src                      []int // source column of each silver field
	partCol                  int
	days                     []int64

	silver *lakeparquet.PartitionWriter
	disc   *lakeparquet.Writer

	rows, silverRows, discRows int64
}

// written are the objects a split stored, for removal when the object
// turns out to have changed.
type written struct {
	keys []string
}

// remove deletes the objects.
func (w *written) remove(ctx context.Context, d Deps) error {
	for _, k := range w.keys {
		if err := d.Lake.Delete(ctx, k); err != nil {
			return store.Wrap(err, "route: remove %q", k)
		}
	}
	return nil
}

// split reads the object once and writes its rows to silver and
// discarded by the row log in.RowLogKey, filling r. An object found
// unreadable midway is not an error: what was written is removed and the
// Problem returned, for the object to be quarantined.
func split(ctx context.Context, d Deps, o *bronze.Object, in Input, r *Record) (*written, *bronze.Problem, error) {
	src, problem, err := o.Open(ctx, d.Lake, lakeparquet.ReadOptions{})
	if err != nil || problem != nil {
		return nil, problem, err
	}
	log, err := openRowLog(ctx, d.Lake, o, in, src.NumRows())
	if err != nil {
		return nil, nil, err
	}
	states, err := log.Cursor()
	if err != nil {
		return nil, nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	defer states.Close()
	render, err := log.Renderer(src.Schema())
	if err != nil {
		return nil, nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	sp := &splitter{o: o, verdict: dq.Verdict(in.Verdict), states: states, render: render}
	sp.schemas(src.Schema())
	sp.silver = lakeparquet.NewPartitionWriter(ctx, d.Lake, sp.silverSchema, o.Keys.Silver, lakeparquet.PartitionOptions{Options: d.Writer, Memory: d.Memory})
	// Rejected rows carry lists of rule texts: their row groups are kept
	// small, since a row group is held in memory until it is complete.
	discOpts := d.Writer
	discOpts.RowGroupRows = min(cmp.Or(discOpts.RowGroupRows, discardRowGroup), discardRowGroup)
	sp.disc = lakeparquet.NewWriter(ctx, d.Lake, sp.discSchema, o.Keys.DiscardedRows, discOpts)

	err = src.Batches(ctx, nil, func(rec arrow.RecordBatch) error { return sp.batch(ctx, rec) })
	silverObjs, serr := sp.silver.Close()
	discObjs, derr := sp.disc.Close()
	w := &written{}
	for _, ob := range sp.silver.Stored() {
		w.keys = append(w.keys, ob.Key)
	}
	for _, ob := range discObjs {
		w.keys = append(w.keys, ob.Key)
	}
	if err == nil {
		err = errors.Join(serr, derr)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, err
		}
		var ue *lakeparquet.UnreadableError
		if errors.As(err, &ue) {
			problem, err := o.Unreadable(ctx, d.Lake, err)
			if err != nil {
				return nil, nil, err
			}
			return nil, problem, w.remove(ctx, d)
		}
		return nil, nil, store.Wrap(err, "route: %s", o.Key)
	}

	r.Verdict, r.Reason = in.Verdict, in.Reason
	r.RowsIn = sp.rows
	r.Silver, r.Discarded = silverObjs, discObjs
	parts := map[string]bool{}
	for _, ob := range silverObjs {
		r.SilverRows += ob.Rows
		parts[ob.Partition] = true
	}
	for _, ob := range discObjs {
		r.DiscardedRows += ob.Rows
	}
	r.SilverObjects, r.DiscardedObjects = len(silverObjs), len(discObjs)
	if r.SilverRows != sp.silverRows || r.DiscardedRows != sp.discRows || sp.rows != r.SilverRows+r.DiscardedRows ||
		sp.rows != src.NumRows() {
		return nil, nil, &ConservationError{Key: o.Key, RowsIn: src.NumRows(), Silver: r.SilverRows, Discarded: r.DiscardedRows,
			Detail: fmt.Sprintf("read %d rows, routed %d to silver and %d to discarded", sp.rows, sp.silverRows, sp.discRows)}
	}
	r.Partitions = slices.Sorted(maps.Keys(parts))
	if len(r.Partitions) > maxPartitionsOut {
		r.Partitions, r.PartitionsTruncated = r.Partitions[:maxPartitionsOut], true
	}
	if r.SilverColumns, err = catalog.Columns(sp.silverSchema); err != nil {
		return nil, nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	if r.DiscardedColumns, err = catalog.Columns(sp.discSchema); err != nil {
		return nil, nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	return w, nil, nil
}

// openRowLog opens the validate step's row log and checks that it is the
// object's: same key and ETag, same number of rows.
func openRowLog(ctx context.Context, st store.Store, o *bronze.Object, in Input, rows int64) (*dq.RowLog, error) {
	if in.RowLogKey == "" {
		return nil, &ResultMismatchError{Key: o.Key, Detail: "the validation result names no row log"}
	}
	info, err := st.Stat(ctx, in.RowLogKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &ResultMismatchError{Key: o.Key, Detail: "its row log " + in.RowLogKey + " is missing"}
	}
	if err != nil {
		return nil, store.Wrap(err, "route: stat %q", in.RowLogKey)
	}
	log, err := dq.OpenRowLog(store.NewReaderAt(ctx, st, in.RowLogKey, info.Size), info.Size)
	var le *dq.RowLogError
	switch {
	case errors.As(err, &le):
		return nil, &ResultMismatchError{Key: o.Key, Detail: err.Error()}
	case err != nil:
		return nil, store.Wrap(err, "route: read %q", in.RowLogKey)
	}
	switch m := log.Meta(); {
	case m["key"] != o.Key || m["etag"] != o.Info.ETag:
		return nil, &ResultMismatchError{Key: o.Key, Detail: fmt.Sprintf("its row log is of %q at ETag %s, the object's ETag is %s", m["key"], m["etag"], o.Info.ETag)}
	case log.Rows() != rows:
		return nil, &ResultMismatchError{Key: o.Key, Detail: fmt.Sprintf("its row log covers %d rows, the object has %d", log.Rows(), rows)}
	}
	return log, nil
}

// schemas fixes the silver schema (the table's columns, in the order of
// its schema.json, else the object's) and the discarded one (the same
// plus the data-quality columns), and where each comes from.
func (sp *splitter) schemas(sc *arrow.Schema) {
	fields := sp.o.Columns(sc)
	sp.silverSchema = arrow.NewSchema(fields, nil)
	list := arrow.ListOf(arrow.BinaryTypes.String)
	sp.discSchema = arrow.NewSchema(append(slices.Clone(fields),
		arrow.Field{Name: colRulesPass, Type: list},
		arrow.Field{Name: colRulesFail, Type: list},
		arrow.Field{Name: colRulesSkip, Type: list},
		arrow.Field{Name: colResult, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: colFailedValue, Type: list},
	), nil)
	for _, f := range fields {
		sp.src = append(sp.src, sc.FieldIndices(f.Name)[0])
	}
	sp.partCol = sc.FieldIndices(sp.o.Table.Partition.Column)[0]
}

// batch routes one batch of the object's rows.
func (sp *splitter) batch(ctx context.Context, rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	states, err := sp.states.Next(n)
	if err != nil {
		return fmt.Errorf("route: %s: %w", sp.o.Key, err)
	}
	sp.rows += int64(n)
	var valid func(i int) bool
	switch sp.verdict {
	case dq.Pass:
		valid = func(int) bool { return true }
	case dq.Split:
		valid = states.Passed
	default:
		valid = func(int) bool { return false }
	}
	var bad []int32
	for i := range n {
		if !valid(i) {
			bad = append(bad, int32(i))
		}
	}
	if err := sp.writeDiscarded(ctx, rec, states, bad); err != nil {
		return err
	}
	if len(bad) == n {
		return nil
	}
	sp.days = partitionDays(rec.Column(sp.partCol), sp.days)
	return sp.writeSilver(ctx, rec, valid)
}

// writeSilver writes the valid rows of rec, each to its partition.
func (sp *splitter) writeSilver(ctx context.Context, rec arrow.RecordBatch, valid func(int) bool) error {
	// group the rows by partition, in order of first appearance
	var order []int64
	rowsOf := map[int64][]int32{}
	for i, day := range sp.days {
		if !valid(i) {
			continue
		}
		if _, ok := rowsOf[day]; !ok {
			order = append(order, day)
		}
		rowsOf[day] = append(rowsOf[day], int32(i))
	}
	cols := sp.sourceColumns(rec)
	if len(order) == 1 && len(rowsOf[order[0]]) == int(rec.NumRows()) {
		batch := array.NewRecordBatch(sp.silverSchema, cols, rec.NumRows())
		defer batch.Release()
		return sp.writeSilverBatch(order[0], batch)
	}
	// one take per partition, so that what each partition keeps holds
	// only its own rows
	for _, day := range order {
		taken, err := take(ctx, cols, rowsOf[day])
		if err != nil {
			return err
		}
		batch := array.NewRecordBatch(sp.silverSchema, taken, int64(len(rowsOf[day])))
		releaseAll(taken)
		err = sp.writeSilverBatch(day, batch)
		batch.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (sp *splitter) writeSilverBatch(day int64, batch arrow.RecordBatch) error {
	p := layout.PartitionDir(sp.o.Table.Partition.Name, layout.PartitionValue(day))
	if err := sp.silver.Write(p, batch); err != nil {
		return fmt.Errorf("route: %s: write silver: %w", sp.o.Key, err)
	}
	sp.silverRows += batch.NumRows()
	return nil
}

// discardRowGroup is the most rows of a discarded object's row group.
const discardRowGroup = 32 << 10

// discardChunk is how many rejected rows are turned into one batch for
// discarded at a time: their Glue columns repeat rule texts, so a batch of
// them is several times the size of the rows.
const discardChunk = 8 << 10

// writeDiscarded writes rows bad of rec to discarded, with their outcomes,
// in batches of at most discardChunk rows.
func (sp *splitter) writeDiscarded(ctx context.Context, rec arrow.RecordBatch, states *dq.RowStates, bad []int32) error {
	if len(bad) == 0 {
		return nil
	}
	if err := sp.render.Bind(rec); err != nil {
		return fmt.Errorf("route: %s: %w", sp.o.Key, err)
	}
	for len(bad) > 0 {
		n := min(len(bad), discardChunk)
		if err := sp.writeDiscardedChunk(ctx, rec, states, bad[:n]); err != nil {
			return err
		}
		bad = bad[n:]
	}
	return nil
}

func (sp *splitter) writeDiscardedChunk(ctx context.Context, rec arrow.RecordBatch, states *dq.RowStates, bad []int32) error {
	cols := sp.sourceColumns(rec)
	if len(bad) < int(rec.NumRows()) {
		taken, err := take(ctx, cols, bad)
		if err != nil {
			return err
		}
		defer releaseAll(taken)
		cols = taken
	}
	pass, fail, skip, vals := newListBuilder(), newListBuilder(), newListBuilder(), newListBuilder()
	result := array.NewStringBuilder(memory.DefaultAllocator)
	defer func() {
		for _, b := range []array.Builder{pass, fail, skip, vals, result} {
			b.Release()
		}
	}()
	reject := sp.verdict == dq.Reject
	for _, i := range bad {
		oc := sp.render.Outcome(states, int(i), reject)
		appendList(pass, oc.DataQualityRulesPass)
		appendList(fail, oc.DataQualityRulesFail)
		appendList(skip, oc.DataQualityRulesSkip)
		result.Append(oc.DataQualityEvaluationResult)
		appendList(vals, oc.DataQualityFailedValues)
	}
	dqCols := []arrow.Array{pass.NewArray(), fail.NewArray(), skip.NewArray(), result.NewArray(), vals.NewArray()}
	defer releaseAll(dqCols)
	batch := array.NewRecordBatch(sp.discSchema, append(slices.Clone(cols), dqCols...), int64(len(bad)))
	defer batch.Release()
	if err := sp.disc.Write(batch); err != nil {
		return fmt.Errorf("route: %s: write discarded: %w", sp.o.Key, err)
	}
	sp.discRows += int64(len(bad))
	return nil
}

// sourceColumns are rec's columns in the silver schema's order.
func (sp *splitter) sourceColumns(rec arrow.RecordBatch) []arrow.Array {
	cols := make([]arrow.Array, len(sp.src))
	for i, c := range sp.src {
		cols[i] = rec.Column(c)
	}
	return cols
}

// partitionDays returns the UTC day (days since 1970-01-01) of each value
// of a timestamp or date column, layout.NullDay for NULL, reusing buf. A
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
		panic(fmt.Sprintf("route: partition column of type %s (bronze admits only timestamps and dates)", a.DataType()))
	}
	for i := range n {
		if a.IsNull(i) {
			buf[i] = layout.NullDay
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
