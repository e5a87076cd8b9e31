package icetable

// The sorted runs of a compaction of _current, their k-way merge, and
// the output files with their key indexes (see sorted.go).

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"iter"
	"math"
	"path"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// sortedRun is a stream of record batches in key order.
type sortedRun interface {
	// next returns the next batch (nil at the end) and its rows' keys.
	next() (arrow.RecordBatch, keyBatch, error)
	name() string
	close()
}

// readRun is the rows of scan tasks, read in order.
type readRun struct {
	label string
	pull  func() (arrow.RecordBatch, error, bool)
	stop  func()
	c     *sortCompaction
}

// readRun reads tasks in order (deletes applied) as a run named label.
func (c *sortCompaction) readRun(label string, tasks []table.FileScanTask) (*readRun, error) {
	sc, recs, err := c.scan.ReadTasks(c.ctx, tasks)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", label, err)
	}
	if err := c.setSchema(sc); err != nil {
		return nil, fmt.Errorf("read %s: %w", label, err)
	}
	pull, stop := iter.Pull2(recs)
	return &readRun{label: label, pull: pull, stop: stop, c: c}, nil
}

func (r *readRun) next() (arrow.RecordBatch, keyBatch, error) {
	for {
		rec, err, ok := r.pull()
		if !ok {
			return nil, keyBatch{}, nil
		}
		if err != nil {
			return nil, keyBatch{}, fmt.Errorf("read %s: %w", r.label, err)
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		keys, err := encodeKeys(rec, r.c.keyIdx)
		if err != nil {
			rec.Release()
			return nil, keyBatch{}, fmt.Errorf("read %s: %w", r.label, err)
		}
		return rec, keys, nil
	}
}

func (r *readRun) name() string { return r.label }
func (r *readRun) close()       { r.stop() }

// sortBuffer holds unsorted rows to sort.
type sortBuffer struct {
	recs  []arrow.RecordBatch
	keys  []keyBatch
	rows  int
	bytes int64
}

func (b *sortBuffer) add(rec arrow.RecordBatch, keys keyBatch) {
	b.recs = append(b.recs, rec)
	b.keys = append(b.keys, keys)
	b.rows += int(rec.NumRows())
	b.bytes += recordBytes(rec) + int64(len(keys.buf)+4*len(keys.ends))
}

// recordBytes is the memory that rec's buffers take.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}

func (b *sortBuffer) release() {
	for _, r := range b.recs {
		r.Release()
	}
	*b = sortBuffer{}
}

// sorted empties the buffer into a run of its rows in key order.
func (b *sortBuffer) sorted(sc *arrow.Schema) sortedRun {
	type ref struct{ batch, row int32 }
	refs := make([]ref, 0, b.rows)
	for i, k := range b.keys {
		for j := range k.len() {
			refs = append(refs, ref{int32(i), int32(j)})
		}
	}
	keyOf := func(r ref) []byte { return b.keys[r.batch].key(int(r.row)) }
	slices.SortStableFunc(refs, func(x, y ref) int { return bytes.Compare(keyOf(x), keyOf(y)) })
	run := &memRun{schema: sc}
	for i := 0; i < len(refs); i += sortBatchRows {
		part := refs[i:min(i+sortBatchRows, len(refs))]
		g := gatherer{schema: sc}
		for _, r := range part {
			g.add(b.recs[r.batch], int(r.row), keyOf(r), cursor{})
		}
		run.parts = append(run.parts, g)
	}
	// the gatherers hold their own references to the batches
	b.release()
	return run
}

// memRun is buffered rows in key order, built batch by batch.
type memRun struct {
	schema *arrow.Schema
	parts  []gatherer
}

func (r *memRun) next() (arrow.RecordBatch, keyBatch, error) {
	if len(r.parts) == 0 {
		return nil, keyBatch{}, nil
	}
	g := r.parts[0]
	r.parts = r.parts[1:]
	keys := g.keys
	rec, err := g.build(context.Background())
	return rec, keys, err
}

func (r *memRun) name() string { return "sorted rows in memory" }

func (r *memRun) close() {
	for i := range r.parts {
		r.parts[i].release()
	}
	r.parts = nil
}

// gatherer assembles a record batch from rows of other batches.
type gatherer struct {
	schema *arrow.Schema
	chunks []arrow.RecordBatch
	bases  []int64
	last   arrow.RecordBatch
	lastI  int
	next   int64 // rows of the chunks
	idx    []int64
	keys   keyBatch
	curs   []cursor
}

// add appends row of rec, with its key and cursor.
func (g *gatherer) add(rec arrow.RecordBatch, row int, key []byte, cur cursor) {
	if rec != g.last {
		g.lastI = -1
		for i, c := range g.chunks {
			if c == rec {
				g.lastI = i
				break
			}
		}
		if g.lastI < 0 {
			rec.Retain()
			g.chunks = append(g.chunks, rec)
			g.bases = append(g.bases, g.next)
			g.next += rec.NumRows()
			g.lastI = len(g.chunks) - 1
		}
		g.last = rec
	}
	g.idx = append(g.idx, g.bases[g.lastI]+int64(row))
	g.keys.add(key)
	g.curs = append(g.curs, cur)
}

func (g *gatherer) len() int { return len(g.idx) }

// build returns the gathered rows as a batch and empties g.
func (g *gatherer) build(ctx context.Context) (arrow.RecordBatch, error) {
	defer g.release()
	n := int64(len(g.idx))
	// few runs of consecutive rows of a batch: slices of the batches
	type piece struct {
		chunk    int
		from, to int64
	}
	var pieces []piece
	chunk := 0
	for _, x := range g.idx {
		if x < g.bases[chunk] || (chunk+1 < len(g.bases) && x >= g.bases[chunk+1]) {
			chunk = sort.Search(len(g.bases), func(c int) bool { return g.bases[c] > x }) - 1
		}
		off := x - g.bases[chunk]
		if last := len(pieces) - 1; last >= 0 && pieces[last].chunk == chunk && pieces[last].to == off {
			pieces[last].to++
			continue
		}
		if len(pieces) > maxPieces {
			break // too many: take the rows one by one
		}
		pieces = append(pieces, piece{chunk, off, off + 1})
	}
	if len(pieces) == 1 {
		return g.chunks[pieces[0].chunk].NewSlice(pieces[0].from, pieces[0].to), nil
	}
	if len(pieces) <= maxPieces {
		return g.columns(n, func(c int) (arrow.Array, error) {
			parts := make([]arrow.Array, len(pieces))
			for i, pc := range pieces {
				parts[i] = array.NewSlice(g.chunks[pc.chunk].Column(c), pc.from, pc.to)
			}
			defer func() {
				for _, part := range parts {
					part.Release()
				}
			}()
			return array.Concatenate(parts, memory.DefaultAllocator)
		})
	}
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	defer ib.Release()
	ib.AppendValues(g.idx, nil)
	indices := ib.NewArray()
	defer indices.Release()
	return g.columns(n, func(c int) (arrow.Array, error) {
		parts := make([]arrow.Array, len(g.chunks))
		for i, ch := range g.chunks {
			parts[i] = ch.Column(c)
		}
		return takeRows(ctx, g.schema.Field(c).Type, parts, indices)
	})
}

// columns builds a batch of n rows whose column c is column(c).
func (g *gatherer) columns(n int64, column func(c int) (arrow.Array, error)) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, g.schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for c := range cols {
		var err error
		if cols[c], err = column(c); err != nil {
			return nil, fmt.Errorf("column %s: %w", g.schema.Field(c).Name, err)
		}
	}
	return array.NewRecordBatch(g.schema, cols, n), nil
}

// takeRows returns the rows indices of the concatenation of parts.
func takeRows(ctx context.Context, dt arrow.DataType, parts []arrow.Array, indices arrow.Array) (arrow.Array, error) {
	if len(parts) == 1 {
		return compute.TakeArray(ctx, parts[0], indices)
	}
	chunked := arrow.NewChunked(dt, parts)
	defer chunked.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), &compute.ChunkedDatum{Value: chunked}, &compute.ArrayDatum{Value: indices.Data()})
	if err != nil {
		return nil, err
	}
	defer out.Release()
	switch out := out.(type) {
	case *compute.ArrayDatum:
		return out.MakeArray(), nil
	case *compute.ChunkedDatum:
		return array.Concatenate(out.Chunks(), memory.DefaultAllocator)
	}
	return nil, fmt.Errorf("take returned a %s", out.Kind())
}

// release drops g's references and empties it.
func (g *gatherer) release() {
	for _, c := range g.chunks {
		c.Release()
	}
	*g = gatherer{schema: g.schema}
}

// runCursor is a run being merged: its current batch and row.
type runCursor struct {
	run  sortedRun
	rec  arrow.RecordBatch
	keys keyBatch
	row  int
	last []byte // the previous key, to check the run's order
}

// runHeap orders runs by their current key.
type runHeap []*runCursor

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	return bytes.Compare(h[i].keys.key(h[i].row), h[j].keys.key(h[j].row)) < 0
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// advance moves r to its next row, reading its next batch when needed;
// false at the end of the run.
func (r *runCursor) advance() (bool, error) {
	if r.rec != nil {
		r.last = append(r.last[:0], r.keys.key(r.row)...)
	}
	r.row++
	if r.rec != nil && r.row < int(r.rec.NumRows()) {
		return r.checkOrder()
	}
	if r.rec != nil {
		r.rec.Release()
	}
	rec, keys, err := r.run.next()
	if err != nil || rec == nil {
		r.rec = nil
		return false, err
	}
	r.rec, r.keys, r.row = rec, keys, 0
	return r.checkOrder()
}

// checkOrder fails when r's current key is below the previous one.
func (r *runCursor) checkOrder() (bool, error) {
	if bytes.Compare(r.keys.key(r.row), r.last) < 0 {
		return false, fmt.Errorf("%s is not sorted by the primary key", r.run.name())
	}
	return true, nil
}

// merge merges runs, closing them, into out.
func (c *sortCompaction) merge(runs []sortedRun, out *sortedOutput) (err error) {
	h := make(runHeap, 0, len(runs))
	defer func() {
		for _, r := range runs {
			r.close()
		}
		for _, r := range h {
			if r.rec != nil {
				r.rec.Release()
			}
		}
		if err != nil {
			out.abort()
		}
	}()
	for _, r := range runs {
		rc := &runCursor{run: r, row: -1}
		ok, err := rc.advance()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, rc)
		}
	}
	heap.Init(&h)
	g := gatherer{schema: c.schema}
	defer g.release()
	flush := func() error {
		if g.len() == 0 {
			return nil
		}
		keys, curs := g.keys, g.curs
		rec, err := g.build(c.ctx)
		if err != nil {
			return err
		}
		defer rec.Release()
		return out.write(rec, keys, curs)
	}
	for len(h) > 0 {
		r := h[0]
		key := r.keys.key(r.row)
		if out.cutBefore(key, g.len()) {
			if err := flush(); err != nil {
				return err
			}
			if err := out.closeFile(); err != nil {
				return err
			}
		}
		cur, err := cursorValue(r.rec.Column(c.curIdx), r.row)
		if err != nil {
			return fmt.Errorf("cursor column %q: %w", c.t.Cursor, err)
		}
		g.add(r.rec, r.row, key, cur)
		if g.len() == sortBatchRows {
			if err := flush(); err != nil {
				return err
			}
		}
		ok, err := r.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return out.closeFile()
}

// sortedOutput writes a sorted stream into data files of about target
// bytes, cut at cuts, with their key indexes when index is set.
type sortedOutput struct {
	c           *sortCompaction
	cuts        [][]byte
	cutPos      int // cuts below the keys written so far
	target      int64
	bytesPerRow float64
	index       bool

	w        *Writer
	fileRows int64
	idx      keyIndexBuilder
	files    []iceberg.DataFile
}

// cutBefore reports whether the file being written must end before the
// row with key k (pending rows are gathered but not written yet).
func (o *sortedOutput) cutBefore(k []byte, pending int) bool {
	n := o.cutPos
	for n < len(o.cuts) && bytes.Compare(o.cuts[n], k) < 0 {
		n++
	}
	crossed := n != o.cutPos
	o.cutPos = n
	rows := o.fileRows + int64(pending)
	if rows == 0 {
		return false
	}
	return crossed || float64(rows)*o.bytesPerRow >= float64(o.target)
}

// write writes rec, the next rows, with their keys and cursors.
func (o *sortedOutput) write(rec arrow.RecordBatch, keys keyBatch, curs []cursor) error {
	if o.w == nil {
		o.w = startWriter(o.c.ctx, o.c.tbl, Current, maintenanceObject, o.c.schema, math.MaxInt64)
		o.idx = keyIndexBuilder{}
	}
	if o.index {
		for i := range keys.len() {
			if err := o.idx.add(keys.key(i), curs[i]); err != nil {
				return err
			}
		}
	}
	o.fileRows += rec.NumRows()
	return o.w.Write(rec)
}

// closeFile finishes the file being written, if any, and its index.
func (o *sortedOutput) closeFile() error {
	if o.w == nil {
		return nil
	}
	w := o.w
	o.w = nil
	dfs, err := w.finish()
	for _, df := range dfs {
		o.c.output = append(o.c.output, df.FilePath())
	}
	if err != nil {
		return err
	}
	if len(dfs) != 1 || dfs[0].Count() != o.fileRows {
		return fmt.Errorf("a sorted output file of %d rows was written as %d files", o.fileRows, len(dfs))
	}
	df := dfs[0]
	if o.fileRows > 0 {
		o.bytesPerRow = max(1, float64(df.FileSizeBytes())/float64(o.fileRows))
	}
	o.fileRows = 0
	if o.index {
		if df, err = withSortOrder(o.c.tbl, df, o.c.orderID); err != nil {
			return err
		}
		p := keyIndexPath(o.c.tbl.Location(), df.FilePath())
		o.c.output = append(o.c.output, p)
		if err := o.c.l.cat.FS().WithContext(o.c.ctx).WriteFile(p, o.idx.finish(path.Base(df.FilePath()), df.FileSizeBytes())); err != nil {
			return fmt.Errorf("key index %s: %w", p, err)
		}
	}
	o.files = append(o.files, df)
	return nil
}

// abort stops the file being written.
func (o *sortedOutput) abort() {
	if o.w != nil {
		o.w.Abort()
		o.w = nil
	}
}

// withSortOrder is df (a data file of tbl) marked as sorted by the sort
// order id.
func withSortOrder(tbl *table.Table, df iceberg.DataFile, id int) (iceberg.DataFile, error) {
	b, err := iceberg.NewDataFileBuilder(tbl.Spec(), iceberg.EntryContentData, df.FilePath(), df.FileFormat(), df.Partition(), nil, nil, df.Count(), df.FileSizeBytes())
	if err != nil {
		return nil, err
	}
	b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
		NaNValueCounts(df.NaNValueCounts()).LowerBoundValues(df.LowerBoundValues()).UpperBoundValues(df.UpperBoundValues()).
		SortOrderID(id)
	if s := df.SplitOffsets(); len(s) > 0 {
		b.SplitOffsets(slices.Clone(s))
	}
	return b.Build(), nil
}
