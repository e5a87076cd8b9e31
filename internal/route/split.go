package route

import (
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
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/store"
)

// splitter routes one usable object's rows in one pass.
type splitter struct {
	o       *bronze.Object
	verdict dq.Verdict
	states  *dq.RowCursor
	render  *dq.RowRenderer
	// outcomes is scratch: the outcomes of a chunk of discarded rows
	outcomes []dq.RowOutcome

	silverSchema, discSchema *arrow.Schema
	src                      []int // source column of each silver field

	silver, current, disc *icetable.Writer

	rows, silverRows, discRows int64
}

// split reads the object once and writes its rows, by the row log in
// in.RowLogKey, as data files of the table's Iceberg tables (uncommitted:
// the commit step commits them), filling r. An object found unreadable
// midway is not an error: the Problem is returned, for the object to be
// quarantined; data files already written are left to maintenance as
// orphans, as are those of any failed split.
func split(ctx context.Context, d Deps, o *bronze.Object, in Input, r *Record) (*bronze.Problem, error) {
	src, problem, err := o.Open(ctx, d.Lake, lakeparquet.ReadOptions{})
	if err != nil || problem != nil {
		return problem, err
	}
	log, err := openRowLog(ctx, d.Lake, o, in, src.NumRows())
	if err != nil {
		return nil, err
	}
	states, err := log.Cursor()
	if err != nil {
		return nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	defer states.Close()
	render, err := log.Renderer(src.Schema())
	if err != nil {
		return nil, fmt.Errorf("route: %s: %w", o.Key, err)
	}
	sp := &splitter{o: o, verdict: dq.Verdict(in.Verdict), states: states, render: render}
	sp.schemas(src.Schema())
	if err := sp.open(ctx, d, o); err != nil {
		return nil, err
	}
	err = src.Batches(ctx, nil, func(rec arrow.RecordBatch) error { return sp.batch(ctx, rec) })
	if err != nil {
		sp.abort()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		var ue *lakeparquet.UnreadableError
		if errors.As(err, &ue) {
			return o.Unreadable(ctx, d.Lake, err)
		}
		return nil, store.Wrap(err, "route: %s", o.Key)
	}
	if r.Silver, err = sp.silver.Close(); err == nil {
		if r.Current, err = sp.current.Close(); err == nil {
			r.Discarded, err = sp.disc.Close()
		}
	}
	if err != nil {
		sp.abort()
		return nil, store.Wrap(err, "route: %s", o.Key)
	}
	r.Verdict, r.Reason = in.Verdict, in.Reason
	r.RowsIn, r.SilverRows, r.DiscardedRows = sp.rows, r.Silver.Rows, r.Discarded.Rows
	r.SilverFiles, r.DiscardedFiles = len(r.Silver.Files), len(r.Discarded.Files)
	if r.SilverRows != sp.silverRows || r.DiscardedRows != sp.discRows || r.Current.Rows != r.SilverRows ||
		sp.rows != r.SilverRows+r.DiscardedRows || sp.rows != src.NumRows() {
		return nil, &ConservationError{Key: o.Key, RowsIn: src.NumRows(), Silver: r.SilverRows, Discarded: r.DiscardedRows,
			Detail: fmt.Sprintf("read %d rows, routed %d to silver (%d to its current table) and %d to discarded", sp.rows, sp.silverRows, r.Current.Rows, sp.discRows)}
	}
	parts := map[string]bool{}
	for _, f := range r.Silver.Files {
		parts[f.PartitionPath] = true
	}
	r.Partitions = slices.Sorted(maps.Keys(parts))
	if len(r.Partitions) > maxPartitionsOut {
		r.Partitions, r.PartitionsTruncated = r.Partitions[:maxPartitionsOut], true
	}
	return nil, nil
}

// open opens the writers of the table's three Iceberg tables: creating or
// evolving a table (a new nullable column) happens here, before any row is
// written; a drift it cannot take is a *icetable.SchemaDriftError.
func (sp *splitter) open(ctx context.Context, d Deps, o *bronze.Object) error {
	obj := icetable.Object{Key: o.Key, ETag: o.Info.ETag}
	var err error
	if sp.silver, err = d.Iceberg.NewWriter(ctx, icetable.Silver, o.Table, obj, sp.silverSchema); err != nil {
		return store.Wrap(err, "route: %s", o.Key)
	}
	if sp.current, err = d.Iceberg.NewWriter(ctx, icetable.Current, o.Table, obj, sp.silverSchema); err != nil {
		sp.abort()
		return store.Wrap(err, "route: %s", o.Key)
	}
	if sp.disc, err = d.Iceberg.NewWriter(ctx, icetable.Discarded, o.Table, obj, sp.discSchema); err != nil {
		sp.abort()
		return store.Wrap(err, "route: %s", o.Key)
	}
	return nil
}

// abort stops the writers that are open; what they stored is left to
// maintenance as orphans.
func (sp *splitter) abort() {
	for _, w := range []*icetable.Writer{sp.silver, sp.current, sp.disc} {
		if w != nil {
			w.Abort()
		}
	}
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
// plus Glue's data-quality columns), and where each comes from.
func (sp *splitter) schemas(sc *arrow.Schema) {
	fields := sp.o.Columns(sc)
	sp.silverSchema = arrow.NewSchema(fields, nil)
	sp.discSchema = arrow.NewSchema(slices.Concat(fields, icetable.DQColumns), nil)
	for _, f := range fields {
		sp.src = append(sp.src, sc.FieldIndices(f.Name)[0])
	}
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
	return sp.writeSilver(ctx, rec, valid, n-len(bad))
}

// writeSilver writes the good valid rows of rec to silver and to its
// current table.
func (sp *splitter) writeSilver(ctx context.Context, rec arrow.RecordBatch, valid func(int) bool, good int) error {
	cols := sp.sourceColumns(rec)
	if good < int(rec.NumRows()) {
		perm := make([]int32, 0, good)
		for i := range int(rec.NumRows()) {
			if valid(i) {
				perm = append(perm, int32(i))
			}
		}
		taken, err := take(ctx, cols, perm)
		if err != nil {
			return err
		}
		defer releaseAll(taken)
		cols = taken
	}
	batch := array.NewRecordBatch(sp.silverSchema, cols, int64(good))
	defer batch.Release()
	if err := sp.silver.Write(batch); err != nil {
		return fmt.Errorf("route: %s: write silver: %w", sp.o.Key, err)
	}
	if err := sp.current.Write(batch); err != nil {
		return fmt.Errorf("route: %s: write silver current: %w", sp.o.Key, err)
	}
	sp.silverRows += int64(good)
	return nil
}

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
	reject := sp.verdict == dq.Reject
	sp.outcomes = sp.outcomes[:0]
	for _, i := range bad {
		sp.outcomes = append(sp.outcomes, sp.render.Outcome(states, int(i), reject))
	}
	dqCols := dqColumns(sp.outcomes)
	clear(sp.outcomes) // their values may point into rec
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

// dqColumns are the Glue columns of the rows with outcomes os, in the
// order of icetable.DQColumns. Each array's buffers are allocated once, at
// their final size.
func dqColumns(os []dq.RowOutcome) []arrow.Array {
	results := make([]string, len(os))
	for i := range os {
		results[i] = os[i].DataQualityEvaluationResult
	}
	lists := []func(i int) []string{
		func(i int) []string { return os[i].DataQualityRulesPass },
		func(i int) []string { return os[i].DataQualityRulesFail },
		func(i int) []string { return os[i].DataQualityRulesSkip },
		func(i int) []string { return results[i : i+1] },
		func(i int) []string { return os[i].DataQualityFailedValues },
	}
	out := make([]arrow.Array, len(lists))
	for k, get := range lists {
		values := stringData(len(os), get)
		typ := icetable.DQColumns[k].Type
		if typ.ID() == arrow.STRING {
			out[k] = array.MakeFromData(values)
			values.Release()
			continue
		}
		offsets := make([]int32, 0, len(os)+1)
		offsets = append(offsets, 0)
		n := int32(0)
		for i := range os {
			n += int32(len(get(i)))
			offsets = append(offsets, n)
		}
		list := array.NewData(typ, len(os), []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets))}, []arrow.ArrayData{values}, 0, 0)
		values.Release()
		out[k] = array.MakeFromData(list)
		list.Release()
	}
	return out
}

// stringData is the string array of the strings get returns for rows 0
// to n-1, one after the other.
func stringData(n int, get func(i int) []string) arrow.ArrayData {
	count, size := 0, 0
	for i := range n {
		for _, v := range get(i) {
			count, size = count+1, size+len(v)
		}
	}
	offsets := make([]int32, 0, count+1)
	offsets = append(offsets, 0)
	data := make([]byte, 0, size)
	for i := range n {
		for _, v := range get(i) {
			data = append(data, v...)
			offsets = append(offsets, int32(len(data)))
		}
	}
	return array.NewData(arrow.BinaryTypes.String, count,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}, nil, 0, 0)
}
