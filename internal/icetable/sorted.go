package icetable

// Compaction of silver.<table>_current, sorted by primary key.
//
// Maintain keeps _current as data files sorted by the primary key whose
// key ranges do not overlap, each with a key index beside it
// (keyindex.go), so that a merge finds the rows of its keys by reading
// small indexes, not the data files' key columns. The table's metadata
// holds a sort order on the key columns (ascending, NULLs first; not the
// default order, so other writers are not asked to sort) and every file
// written here carries its ID (the data file's sort_order_id); files
// without it (an object's rows, as the route step wrote them) are
// unsorted.
//
// A compaction rewrites, as one sorted stream cut into files of about the
// target size:
//
//   - every unsorted file and every sorted file with position deletes
//     (deletes applied: the rows they remove are dropped);
//   - every sorted file whose range of the first key column (manifest
//     bounds) overlaps the range of a file rewritten, so that the output
//     overlaps no file kept;
//   - the sorted files smaller than 3/4 of the target, when anything is
//     rewritten or when two of them are next to each other in key order.
//
// Sorted files kept are left alone, and no output file spans one (the
// stream is cut at their lower bounds). The sorted files rewritten are
// read in key order, as runs (chains of files whose ranges follow each
// other), and so are the unsorted files whose rows happen to be in key
// order (an initial load); the other unsorted rows are sorted in memory,
// SortMemory at a time, each part but the last written to a temporary
// sorted file (under data/, deleted afterwards; an orphan if the process
// dies). The runs are merged (at most maxRuns at once; more are merged
// into temporary files first) into the output files, whose key indexes
// are written as they close (sortmerge.go). The rewrite commits like
// iceberg-go's compaction (RewriteFiles: a commit that a concurrent
// delete of a rewritten file would invalidate is refused and planned
// again).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/contract"
)

// DefaultSortMemory is MaintainOptions.SortMemory when it is 0.
const DefaultSortMemory = 128 << 20

// maxRuns bounds the sorted runs merged at once (each holds a batch and
// its reader's pages in memory).
const maxRuns = 16

// maxPieces is the most slices of batches that a gathered batch is
// concatenated from; gathered from more, it is taken row by row.
const maxPieces = 8

// sortBatchRows is the rows of the batches compaction reads and builds.
const sortBatchRows = 16 << 10

// maintenanceObject names compaction in the messages of its writers.
var maintenanceObject = Object{Key: "maintenance"}

// keySortOrder is the sort order on the key columns keyCols of sc,
// ascending, NULLs first.
func keySortOrder(sc *iceberg.Schema, keyCols []string) (table.SortOrder, error) {
	fields := make([]table.SortField, 0, len(keyCols))
	for _, c := range keyCols {
		f, ok := sc.FindFieldByName(c)
		if !ok {
			return table.SortOrder{}, fmt.Errorf("no primary key column %q", c)
		}
		fields = append(fields, table.SortField{SourceIDs: []int{f.ID}, Transform: iceberg.IdentityTransform{}, Direction: table.SortASC, NullOrder: table.NullsFirst})
	}
	return table.NewSortOrder(table.InitialSortOrderID, fields)
}

// keyOrderID is the ID of tbl's sort order on the key columns keyCols, or
// 0 (unsorted) when it has none.
func keyOrderID(tbl *table.Table, keyCols []string) int {
	want, err := keySortOrder(tbl.Schema(), keyCols)
	if err != nil {
		return table.UnsortedSortOrderID
	}
	for _, o := range tbl.Metadata().SortOrders() {
		if o.Len() != want.Len() {
			continue
		}
		same := true
		for i := range o.Len() {
			same = same && o.Field(i).Equals(want.Field(i))
		}
		if same {
			return o.OrderID()
		}
	}
	return table.UnsortedSortOrderID
}

// ensureKeyOrder returns tbl with its sort order on the key columns
// (adding it if missing) and the order's ID.
func (l *Lake) ensureKeyOrder(ctx context.Context, tbl *table.Table, keyCols []string) (*table.Table, int, error) {
	if id := keyOrderID(tbl, keyCols); id != table.UnsortedSortOrderID {
		return tbl, id, nil
	}
	order, err := keySortOrder(tbl.Schema(), keyCols)
	if err != nil {
		return nil, 0, err
	}
	if _, _, err := l.cat.CommitTable(ctx, tbl.Identifier(), nil, []table.Update{table.NewAddSortOrderUpdate(&order)}); err != nil {
		return nil, 0, err
	}
	next, err := l.load(ctx, tbl.Identifier())
	if err != nil {
		return nil, 0, err
	}
	id := keyOrderID(next, keyCols)
	if id == table.UnsortedSortOrderID {
		return nil, 0, errors.New("the key sort order was added but is not in the table")
	}
	return next, id, nil
}

// boundKey is the encoding (appendKey's) of b, an Iceberg single-value
// bound of a column of type typ, or nil when it has none.
func boundKey(typ iceberg.Type, b []byte) []byte {
	switch typ.(type) {
	case iceberg.Int32Type, iceberg.Int64Type, iceberg.DateType, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType:
		v, ok := boundInt(b)
		if !ok {
			return nil
		}
		return appendSigned([]byte{1}, v)
	case iceberg.StringType, iceberg.BinaryType:
		return appendEscaped([]byte{1}, b)
	case iceberg.DecimalType:
		if len(b) == 0 || len(b) > 16 {
			return nil
		}
		var full [16]byte
		if b[0]&0x80 != 0 {
			for i := range full {
				full[i] = 0xFF
			}
		}
		copy(full[16-len(b):], b)
		out := appendSigned([]byte{1}, int64(binary.BigEndian.Uint64(full[:8])))
		return append(out, full[8:]...)
	case iceberg.BooleanType:
		if len(b) != 1 {
			return nil
		}
		return []byte{1, b[0]}
	}
	return nil
}

// keyRange is the range of a data file's first key column, encoded; a
// nil lo is below every key, a nil hi above every key.
type keyRange struct{ lo, hi []byte }

// overlaps reports whether the closed ranges r and o share a key.
func (r keyRange) overlaps(o keyRange) bool {
	return (r.hi == nil || o.lo == nil || bytes.Compare(o.lo, r.hi) <= 0) &&
		(o.hi == nil || r.lo == nil || bytes.Compare(r.lo, o.hi) <= 0)
}

// fileRange is df's range of the first key column (field), from its
// manifest statistics.
func fileRange(df iceberg.DataFile, field iceberg.NestedField) keyRange {
	var r keyRange
	if lo, ok := df.LowerBoundValues()[field.ID]; ok {
		r.lo = boundKey(field.Type, lo)
	}
	if hi, ok := df.UpperBoundValues()[field.ID]; ok {
		r.hi = boundKey(field.Type, hi)
	}
	if r.hi == nil {
		r.lo = nil // an unknown upper bound: anything may be in it
	}
	if n, ok := df.NullValueCounts()[field.ID]; (!ok || n > 0) && r.lo != nil {
		r.lo = []byte{0} // NULL keys sort first
	}
	return r
}

// planFile is a data file of _current and its scan tasks, in order.
type planFile struct {
	df      iceberg.DataFile
	tasks   []table.FileScanTask
	sorted  bool
	deletes bool
	rng     keyRange
}

// sortedPlan is what a compaction of _current rewrites.
type sortedPlan struct {
	chains   [][]*planFile // sorted files rewritten: runs of files in key order
	unsorted []*planFile
	old      []iceberg.DataFile // every data file rewritten
	deletes  []iceberg.DataFile // the delete files that apply only to them
	cuts     [][]byte           // lower bounds of the sorted files kept, ascending
	bytes    int64              // size of the data files rewritten (dataBytes)
	rows     int64              // and their rows
}

// planSortedCompaction plans the compaction of tbl (see the top of this
// file), or returns nil when there is nothing to do.
func planSortedCompaction(ctx context.Context, tbl *table.Table, keyCol string, orderID int, target int64) (*sortedPlan, error) {
	field, ok := tbl.Schema().FindFieldByName(keyCol)
	if !ok {
		return nil, fmt.Errorf("no primary key column %q", keyCol)
	}
	scan := tbl.Scan()
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	files := map[string]*planFile{}
	var order []*planFile
	deleteTargets := map[string][]string{} // delete file -> data files it applies to
	deleteFiles := map[string]iceberg.DataFile{}
	for _, task := range tasks {
		p := task.File.FilePath()
		f := files[p]
		if f == nil {
			id := task.File.SortOrderID()
			sorted := orderID != table.UnsortedSortOrderID && id != nil && *id == orderID
			f = &planFile{df: task.File, sorted: sorted, rng: fileRange(task.File, field)}
			files[p] = f
			order = append(order, f)
		}
		f.tasks = append(f.tasks, task)
		for _, d := range task.DeleteFiles {
			f.deletes = true
			if !slices.Contains(deleteTargets[d.FilePath()], p) {
				deleteTargets[d.FilePath()] = append(deleteTargets[d.FilePath()], p)
			}
			deleteFiles[d.FilePath()] = d
		}
		if len(task.EqualityDeleteFiles) > 0 || len(task.DeletionVectorFiles) > 0 {
			return nil, fmt.Errorf("data file %s has equality deletes or deletion vectors, which _current never has", p)
		}
	}
	for _, f := range order {
		slices.SortFunc(f.tasks, func(a, b table.FileScanTask) int { return cmp.Compare(a.Start, b.Start) })
	}

	// the sorted files in key order, and what to rewrite
	var sortedFiles []*planFile
	rewrite := map[*planFile]bool{}
	for _, f := range order {
		if f.sorted {
			sortedFiles = append(sortedFiles, f)
		}
		if !f.sorted || f.deletes {
			rewrite[f] = true
		}
	}
	sortByLow(sortedFiles)
	small := func(f *planFile) bool { return f.df.FileSizeBytes() < target*3/4 }
	for i := 1; i < len(sortedFiles) && len(rewrite) == 0; i++ {
		a, b := sortedFiles[i-1], sortedFiles[i]
		if small(a) && small(b) && a.df.FileSizeBytes()+b.df.FileSizeBytes() <= target {
			rewrite[b] = true // two small neighbours that fit in one file
		}
	}
	if len(rewrite) == 0 {
		return nil, nil
	}
	for _, f := range sortedFiles {
		if small(f) {
			rewrite[f] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, f := range sortedFiles {
			if rewrite[f] {
				continue
			}
			for g := range rewrite {
				if f.rng.overlaps(g.rng) {
					rewrite[f], changed = true, true
					break
				}
			}
		}
	}
	if len(rewrite) == 1 {
		for f := range rewrite {
			if f.sorted && !f.deletes {
				return nil, nil // a lone small file would only be copied
			}
		}
	}

	p := &sortedPlan{}
	for _, f := range order {
		if !rewrite[f] {
			continue
		}
		p.old = append(p.old, f.df)
		p.bytes += dataBytes(f.df)
		p.rows += f.df.Count()
		if !f.sorted {
			p.unsorted = append(p.unsorted, f)
		}
	}
	var chained []*planFile
	for _, f := range sortedFiles {
		if rewrite[f] {
			chained = append(chained, f)
		} else {
			p.cuts = append(p.cuts, f.rng.lo)
		}
	}
	p.chains = chains(chained)
	for d, targets := range deleteTargets {
		all := true
		for _, t := range targets {
			all = all && rewrite[files[t]]
		}
		if all {
			p.deletes = append(p.deletes, deleteFiles[d])
		}
	}
	return p, nil
}

// dataBytes is the size of df's column chunks (its size without the
// Parquet footer, when the manifest has its column sizes).
func dataBytes(df iceberg.DataFile) int64 {
	var n int64
	for _, size := range df.ColumnSizes() {
		n += size
	}
	if n <= 0 || n > df.FileSizeBytes() {
		return df.FileSizeBytes()
	}
	return n
}

// sortByLow sorts files by the low end of their key range.
func sortByLow(files []*planFile) {
	slices.SortStableFunc(files, func(a, b *planFile) int {
		switch {
		case a.rng.lo == nil && b.rng.lo == nil:
			return 0
		case a.rng.lo == nil:
			return -1
		case b.rng.lo == nil:
			return 1
		}
		return bytes.Compare(a.rng.lo, b.rng.lo)
	})
}

// chains arranges sorted files into as few chains as it can, each a list
// of files whose key ranges follow one another (so that reading a chain
// file after file reads keys in order): each file, by the low end of its
// range, goes to the first chain whose last file ends below it.
func chains(files []*planFile) [][]*planFile {
	files = slices.Clone(files)
	sortByLow(files)
	var out [][]*planFile
	for _, f := range files {
		placed := false
		for i, c := range out {
			last := c[len(c)-1]
			if last.rng.hi != nil && f.rng.lo != nil && bytes.Compare(last.rng.hi, f.rng.lo) < 0 {
				out[i], placed = append(c, f), true
				break
			}
		}
		if !placed {
			out = append(out, []*planFile{f})
		}
	}
	return out
}

// compactCurrent compacts tbl, a _current table, sorted by t's primary
// key (see the top of this file).
func (l *Lake) compactCurrent(ctx context.Context, tbl *table.Table, t *contract.Table, opts MaintainOptions, m *Maintenance) (*table.Table, error) {
	if tbl.CurrentSnapshot() == nil {
		return tbl, nil
	}
	tbl, orderID, err := l.ensureKeyOrder(ctx, tbl, t.PrimaryKey)
	if err != nil {
		return nil, err
	}
	p, err := planSortedCompaction(ctx, tbl, t.PrimaryKey[0], orderID, opts.TargetFileSize)
	if err != nil || p == nil {
		return tbl, err
	}
	c := &sortCompaction{l: l, ctx: ctx, tbl: tbl, t: t, orderID: orderID, sortMemory: opts.SortMemory}
	defer c.removeTemporary()
	out, err := c.run(p, opts.TargetFileSize)
	if err != nil {
		c.removeOutput()
		return nil, err
	}
	txn := tbl.NewTransaction()
	rw := txn.NewRewrite(iceberg.Properties{"lake.maintenance": "compaction"})
	rw.ApplyResult(table.CompactionGroupResult{OldDataFiles: p.old, NewDataFiles: out, SafePosDeletes: p.deletes})
	if err := rw.Commit(ctx); err != nil {
		c.removeOutput()
		return nil, err
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		if errors.Is(err, table.ErrCommitFailed) {
			c.removeOutput() // planned again
		}
		return nil, err
	}
	m.RewrittenDataFiles += len(p.old)
	m.AddedDataFiles += len(out)
	m.RemovedDeleteFiles += len(p.deletes)
	return next, nil
}

// sortCompaction is one compaction of _current being executed.
type sortCompaction struct {
	l          *Lake
	ctx        context.Context
	tbl        *table.Table
	t          *contract.Table
	orderID    int
	sortMemory int64

	scan   *table.Scan
	schema *arrow.Schema
	keyIdx []int
	curIdx int

	temporary []iceberg.DataFile // sorted parts written, to delete
	output    []string           // data files and key indexes written
}

// run writes the sorted output of p, files of about target bytes, and
// returns them.
func (c *sortCompaction) run(p *sortedPlan, target int64) ([]iceberg.DataFile, error) {
	c.scan = c.tbl.Scan(table.WithMaxConcurrency(1), table.WithArrowBatchSize(sortBatchRows))
	defer c.scan.Close()
	var runs []sortedRun
	defer func() {
		for _, r := range runs {
			r.close()
		}
	}()
	// an object's rows often come in key order: a large unsorted file
	// whose rows are sorted is read as a run, not sorted again
	var sorted, unsorted []*planFile
	for _, ch := range p.chains {
		sorted = append(sorted, ch...)
	}
	for _, f := range p.unsorted {
		ok := false
		if f.df.Count() >= checkSortedRows {
			var err error
			if ok, err = c.inKeyOrder(f.df.FilePath()); err != nil {
				return nil, err
			}
		}
		if ok {
			sorted = append(sorted, f)
		} else {
			unsorted = append(unsorted, f)
		}
	}
	for _, chain := range chains(sorted) {
		var tasks []table.FileScanTask
		for _, f := range chain {
			tasks = append(tasks, f.tasks...)
		}
		r, err := c.readRun(path.Base(chain[0].df.FilePath()), tasks)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	mem, err := c.sortUnsorted(unsorted)
	if err != nil {
		return nil, err
	}
	for _, df := range c.temporary {
		r, err := c.readRun(path.Base(df.FilePath()), []table.FileScanTask{{File: df, Length: df.FileSizeBytes()}})
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if mem != nil {
		runs = append(runs, mem)
	}
	// merge the temporary parts beyond maxRuns first
	for len(runs) > maxRuns {
		n := min(maxRuns, len(runs)-maxRuns+1)
		part, err := c.mergeToTemporary(runs[len(runs)-n:])
		runs = runs[:len(runs)-n]
		if err != nil {
			return nil, err
		}
		if part == nil {
			continue // their rows were all deleted
		}
		r, err := c.readRun(path.Base(part.FilePath()), []table.FileScanTask{{File: part, Length: part.FileSizeBytes()}})
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, nil // every row was deleted
	}
	bytesPerRow := 1.0
	if p.rows > 0 {
		bytesPerRow = max(1, float64(p.bytes)/float64(p.rows))
	}
	out := &sortedOutput{c: c, cuts: p.cuts, target: target, bytesPerRow: bytesPerRow, index: true}
	if err := c.merge(runs, out); err != nil {
		return nil, err
	}
	runs = nil // merge closed them
	return out.files, nil
}

// checkSortedRows is the size from which an unsorted file is checked for
// rows in key order: below it, sorting costs less than checking.
const checkSortedRows = 4 * sortBatchRows

// inKeyOrder reports whether the rows of the data file at path are in key
// order, reading its key columns.
func (c *sortCompaction) inKeyOrder(path string) (bool, error) {
	r, err := openColumns(c.ctx, c.l.cat.FS(), path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer r.Close()
	var prev, key []byte
	sorted := true
	for rg := range r.numRowGroups() {
		err := r.read(c.ctx, rg, c.t.PrimaryKey, 0, func(cols []arrow.Array, _ int64) error {
			for i := range cols[0].Len() {
				var err error
				if key, err = appendKey(key[:0], cols, i); err != nil {
					return err
				}
				if bytes.Compare(key, prev) < 0 {
					sorted = false
					return errStopReading
				}
				prev, key = key, prev
			}
			return nil
		})
		if errors.Is(err, errStopReading) || !sorted {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return true, nil
}

// errStopReading ends a read early.
var errStopReading = errors.New("stop reading")

// setSchema records the schema of the rows read (the table's, projected
// by the scan) and finds the key and cursor columns in it.
func (c *sortCompaction) setSchema(sc *arrow.Schema) error {
	if c.schema != nil {
		if !c.schema.Equal(sc) {
			return fmt.Errorf("rows read with schema %s, earlier ones with %s", sc, c.schema)
		}
		return nil
	}
	keyIdx, err := columnIndices(sc, c.t.PrimaryKey)
	if err != nil {
		return err
	}
	curIdx, err := columnIndices(sc, []string{c.t.Cursor})
	if err != nil {
		return err
	}
	c.schema, c.keyIdx, c.curIdx = sc, keyIdx, curIdx[0]
	return nil
}

// sortUnsorted reads the rows of the unsorted files, sorts them
// SortMemory at a time and writes each part but the last to a temporary
// file (c.temporary); it returns the last part, in memory, or nil.
func (c *sortCompaction) sortUnsorted(files []*planFile) (sortedRun, error) {
	budget := c.sortMemory
	if budget <= 0 {
		budget = DefaultSortMemory
	}
	var buf sortBuffer
	defer buf.release()
	for _, f := range files {
		r, err := c.readRun(path.Base(f.df.FilePath()), f.tasks)
		if err != nil {
			return nil, err
		}
		for {
			rec, keys, err := r.next()
			if err != nil || rec == nil {
				r.close()
				if err != nil {
					return nil, err
				}
				break
			}
			buf.add(rec, keys)
			// sorting doubles what is held: half the budget for the rows
			if buf.bytes >= budget/2 {
				if _, err := c.mergeToTemporary([]sortedRun{buf.sorted(c.schema)}); err != nil {
					r.close()
					return nil, err
				}
			}
		}
	}
	if buf.rows == 0 {
		return nil, nil
	}
	return buf.sorted(c.schema), nil
}

// mergeToTemporary merges runs (closing them) into a temporary sorted
// file, and returns it (nil when the runs hold no row).
func (c *sortCompaction) mergeToTemporary(runs []sortedRun) (iceberg.DataFile, error) {
	out := &sortedOutput{c: c, target: math.MaxInt64, bytesPerRow: 1}
	if err := c.merge(runs, out); err != nil {
		return nil, err
	}
	c.temporary = append(c.temporary, out.files...)
	switch len(out.files) {
	case 0:
		return nil, nil
	case 1:
		return out.files[0], nil
	}
	return nil, fmt.Errorf("a sorted part made %d files, want 1", len(out.files))
}

// removeTemporary deletes the temporary sorted parts (best effort: what
// is left is an orphan for a later maintenance).
func (c *sortCompaction) removeTemporary() {
	fs := c.l.cat.FS().WithContext(context.WithoutCancel(c.ctx))
	for _, df := range c.temporary {
		fs.Remove(df.FilePath())
	}
}

// removeOutput deletes the output of a compaction that did not commit
// (best effort, as removeTemporary).
func (c *sortCompaction) removeOutput() {
	fs := c.l.cat.FS().WithContext(context.WithoutCancel(c.ctx))
	for _, p := range c.output {
		fs.Remove(p)
	}
}
