package icetable

// The merge of one object into silver.<table>_current.
//
// The object's valid rows were written, as they came, into data files of
// _current (its candidate files; Writer with kind Current). The merge
// commits them in one RowDelta together with position delete files that
// remove, for each primary key the object carries:
//
//   - every row of the table with that key, when the object's version is
//     newer (a greater cursor) than all of them: it replaces them;
//   - the object's own row, when the table already holds a version with a
//     greater or equal cursor (an older object arriving late), and every
//     row of the object that another row of the object with the same key
//     and a greater cursor supersedes.
//
// So the latest version by the cursor wins, whatever order objects arrive
// in, and each key has one live row.
//
// Finding the table's rows of the object's keys looks only at the data
// files whose key range (manifest lower and upper bounds of the first key
// column) covers one of the object's keys. A file that maintenance sorted
// by key (sorted.go) is looked up in its key index (keyindex.go): the
// object's keys are found in it without reading the data file, and a
// row's cursor is known to be older than the object's version when its
// block's greatest cursor is; when it is not, or the index is missing or
// does not match, the file is read like the others: only the key and
// cursor columns, only of the row groups whose statistics may hold one of
// the keys, and the cursor column only of files whose greatest cursor
// reaches the object's smallest. Existing delete files are not read:
// every merge leaves each key with one live row whose cursor is the
// greatest of all the rows of that key in the table (the rows it removes
// have smaller or equal cursors, and compaction drops removed rows), so
// "the rows with the greatest cursor" identify the live row without
// them. The cost of a merge is therefore proportional to the object's
// rows, the key indexes of the sorted files its keys fall in and the key
// columns of the other files they fall in, not to the table's history or
// size.
//
// On a conflict (another commit landed first) the merge is rebased, not
// redone: only the data files that appeared since are read, and rows
// found in files that compaction removed are forgotten (their live
// copies are in the new files).

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"golang.org/x/sync/errgroup"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icebergio"
)

// cursor is a value of the cursor column; a NULL sorts before all others.
type cursor struct {
	v     int64
	valid bool
}

// cmpCursor orders cursors, NULL first.
func cmpCursor(a, b cursor) int {
	switch {
	case !a.valid && !b.valid:
		return 0
	case !a.valid:
		return -1
	case !b.valid:
		return 1
	case a.v < b.v:
		return -1
	case a.v > b.v:
		return 1
	}
	return 0
}

// rowRef is a row of a data file.
type rowRef struct {
	file string
	pos  int64
}

// candidate is the object's best row for a key.
type candidate struct {
	row rowRef
	cur cursor
}

// found is what the table holds for a key: its rows, and the greatest
// cursor among those whose cursor was read.
type found struct {
	rows  []rowRef
	max   cursor
	known bool
}

// merger holds a merge's state across commit attempts.
type merger struct {
	fs      *icebergio.FS
	table   string
	keyCols []string
	cursor  string
	names   []string // keyCols then cursor: the columns read

	cands  map[string]*candidate
	sorted [][]byte // the keys of cands, in order (for key indexes)
	losers []rowRef // the object's rows superseded within the object
	// candidate key range (first key column, when integer-like) and
	// smallest candidate cursor, for pruning
	keyInts []int64 // sorted; nil: no key pruning
	minCur  cursor
	// filter, for a single integer-like key column, rules out most rows
	// of the table before their key is built and looked up
	filter *intFilter

	existing  map[string]*found
	seen      map[string]bool               // table data files looked at
	manifests map[string][]iceberg.DataFile // live data files of each manifest read
	written   map[string]writtenDelete      // delete files of earlier attempts, by target
}

// writtenDelete is a position delete file written by an attempt.
type writtenDelete struct {
	positions []int64
	df        iceberg.DataFile
}

// newMerger reads the key and cursor columns of f's candidate files.
func (l *Lake) newMerger(ctx context.Context, t *contract.Table, f Files) (*merger, error) {
	m := &merger{
		fs: l.cat.FS(), table: f.Table, keyCols: t.PrimaryKey, cursor: t.Cursor,
		names: append(slices.Clone(t.PrimaryKey), t.Cursor),
		cands: map[string]*candidate{}, existing: map[string]*found{}, seen: map[string]bool{},
		manifests: map[string][]iceberg.DataFile{}, written: map[string]writtenDelete{},
	}
	intKeys, minCur, first := true, cursor{}, true
	for _, d := range f.Files {
		groups, err := m.rowGroups(ctx, d.Path, false)
		if err != nil {
			return nil, fmt.Errorf("icetable: merge %s: candidate file %s: %w", f.Table, d.Path, err)
		}
		err = m.readRowGroups(ctx, groups, nil, true, func(key []byte, row rowRef, cur cursor, firstKey arrow.Array, i int) {
			c, ok := m.cands[string(key)]
			switch {
			case !ok:
				m.cands[string(key)] = &candidate{row: row, cur: cur}
				if v, isInt := intValue(firstKey, i); isInt {
					m.keyInts = append(m.keyInts, v)
				} else {
					intKeys = false
				}
			case cmpCursor(cur, c.cur) > 0:
				m.losers = append(m.losers, c.row)
				c.row, c.cur = row, cur
			default:
				m.losers = append(m.losers, row)
			}
			if first || cmpCursor(cur, minCur) < 0 {
				minCur, first = cur, false
			}
		})
		if err != nil {
			return nil, fmt.Errorf("icetable: merge %s: candidate file %s: %w", f.Table, d.Path, err)
		}
	}
	m.minCur = minCur
	for k := range m.cands {
		m.sorted = append(m.sorted, []byte(k))
	}
	slices.SortFunc(m.sorted, bytes.Compare)
	if intKeys {
		slices.Sort(m.keyInts)
		if len(m.keyCols) == 1 {
			m.filter = newIntFilter(m.keyInts)
		}
	} else {
		m.keyInts = nil
	}
	return m, nil
}

// rowGroup is a row group of a data file and the position of its first
// row in the file.
type rowGroup struct {
	path  string
	index int
	first int64
}

// rowGroups lists the row groups of the data file at path; with prune,
// only those whose key statistics may hold a candidate key.
func (m *merger) rowGroups(ctx context.Context, path string, prune bool) ([]rowGroup, error) {
	r, err := openColumns(ctx, m.fs, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []rowGroup
	var pos int64
	for rg := range r.numRowGroups() {
		if !prune || m.rowGroupMayHold(r, rg) {
			out = append(out, rowGroup{path: path, index: rg, first: pos})
		}
		pos += r.rowGroupRows(rg)
	}
	return out, nil
}

// readRowGroups reads the key and cursor columns of the row groups groups
// (of one data file) and calls fn for every row whose key is wanted (all
// rows when wanted is nil), with the row's key, position, cursor (zero
// when withCursor is false: not read) and first key column.
func (m *merger) readRowGroups(ctx context.Context, groups []rowGroup, wanted map[string]*candidate, withCursor bool,
	fn func(key []byte, row rowRef, cur cursor, firstKey arrow.Array, i int)) error {
	if len(groups) == 0 {
		return nil
	}
	r, err := openColumns(ctx, m.fs, groups[0].path)
	if err != nil {
		return err
	}
	defer r.Close()
	names := m.keyCols
	if withCursor {
		names = m.names
	}
	var key []byte
	var ints []int64
	for _, g := range groups {
		err := r.read(ctx, g.index, names, g.first, func(cols []arrow.Array, first int64) error {
			keys := cols[:len(m.keyCols)]
			filtered := wanted != nil && m.filter != nil
			nulls := keys[0].NullN() > 0
			if filtered {
				ints = intValues(keys[0], ints[:0])
			}
			for i := range cols[0].Len() {
				if filtered && ((nulls && keys[0].IsNull(i)) || !m.filter.mayHave(ints[i])) {
					continue // not a candidate key, without building it
				}
				var err error
				if key, err = appendKey(key[:0], keys, i); err != nil {
					return err
				}
				if wanted != nil {
					if _, ok := wanted[string(key)]; !ok {
						continue
					}
				}
				var cur cursor
				if withCursor {
					if cur, err = cursorValue(cols[len(m.keyCols)], i); err != nil {
						return fmt.Errorf("cursor column %q: %w", m.cursor, err)
					}
				}
				fn(key, rowRef{file: g.path, pos: first + int64(i)}, cur, keys[0], i)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rowGroupMayHold reports whether row group rg of r may hold one of the
// candidate keys, by its statistics of the first key column.
func (m *merger) rowGroupMayHold(r *columnReader, rg int) bool {
	if m.keyInts == nil {
		return true
	}
	cc, err := r.pf.MetaData().RowGroup(rg).ColumnChunk(r.leaf(m.keyCols[0]))
	if err != nil {
		return true
	}
	if ok, err := cc.StatsSet(); err != nil || !ok {
		return true
	}
	st, err := cc.Statistics()
	if err != nil || !st.HasMinMax() || st.NullCount() > 0 {
		return true
	}
	switch st := st.(type) {
	case *metadata.Int64Statistics:
		return m.keysIn(st.Min(), st.Max())
	case *metadata.Int32Statistics:
		return m.keysIn(int64(st.Min()), int64(st.Max()))
	}
	return true
}

// keysIn reports whether a candidate key's first column lies in [lo, hi].
func (m *merger) keysIn(lo, hi int64) bool {
	i := sort.Search(len(m.keyInts), func(i int) bool { return m.keyInts[i] >= lo })
	return i < len(m.keyInts) && m.keyInts[i] <= hi
}

// fileMayHold reports whether the table data file df may hold a
// candidate key, by its manifest bounds of the first key column.
func (m *merger) fileMayHold(df iceberg.DataFile, keyID int) bool {
	if m.keyInts == nil {
		return true
	}
	lo, okLo := boundInt(df.LowerBoundValues()[keyID])
	hi, okHi := boundInt(df.UpperBoundValues()[keyID])
	if !okLo || !okHi {
		return true
	}
	return m.keysIn(lo, hi)
}

// needsCursor reports whether the cursor column of df must be read: not
// when the file's greatest cursor is below the object's smallest (its
// rows of the object's keys are all older).
func (m *merger) needsCursor(df iceberg.DataFile, cursorID int) bool {
	if !m.minCur.valid {
		return true
	}
	hi, ok := boundInt(df.UpperBoundValues()[cursorID])
	return !ok || hi >= m.minCur.v
}

// boundInt decodes an Iceberg bound of an int, long, date or timestamp
// column (little-endian, 4 or 8 bytes).
func boundInt(b []byte) (int64, bool) {
	switch len(b) {
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b))), true
	case 8:
		return int64(binary.LittleEndian.Uint64(b)), true
	}
	return 0, false
}

// scan brings m up to date with tbl's current snapshot: it forgets rows
// of data files that are no longer live and reads the live data files it
// has not looked at yet.
func (m *merger) scan(ctx context.Context, tbl *table.Table) error {
	live, err := m.liveDataFiles(ctx, tbl)
	if err != nil {
		return err
	}
	for _, e := range m.existing {
		e.rows = slices.DeleteFunc(e.rows, func(r rowRef) bool { _, ok := live[r.file]; return !ok })
	}
	schema := tbl.Schema()
	keyField, _ := schema.FindFieldByName(m.keyCols[0])
	curField, _ := schema.FindFieldByName(m.cursor)
	var todo []iceberg.DataFile
	for path, df := range live {
		if m.seen[path] {
			continue
		}
		m.seen[path] = true
		if m.fileMayHold(df, keyField.ID) {
			todo = append(todo, df)
		}
	}
	// files sorted by key are looked up in their key index; the others
	// (and a sorted file whose index is missing) are read, one task per
	// row group (a compacted table may be a single file)
	order := keyOrderID(tbl, m.keyCols)
	var mu sync.Mutex
	record := func(hits []hit, withCursor bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range hits {
			e := m.existing[h.key]
			if e == nil {
				e = &found{}
				m.existing[h.key] = e
			}
			e.rows = append(e.rows, h.row)
			if withCursor && (!e.known || cmpCursor(h.cur, e.max) > 0) {
				e.max, e.known = h.cur, true
			}
		}
	}
	readGroups := func(ctx context.Context, groups []rowGroup, withCursor bool) error {
		var hits []hit
		err := m.readRowGroups(ctx, groups, m.cands, withCursor, func(key []byte, row rowRef, cur cursor, _ arrow.Array, _ int) {
			hits = append(hits, hit{string(key), row, cur})
		})
		if err != nil {
			return fmt.Errorf("icetable: merge %s: data file %s: %w", m.table, groups[0].path, err)
		}
		record(hits, withCursor)
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	// reading key indexes waits on the store more than it computes
	ig, ictx := errgroup.WithContext(ctx)
	ig.SetLimit(indexReads)
	for _, df := range todo {
		withCursor := m.needsCursor(df, curField.ID)
		if id := df.SortOrderID(); order != table.UnsortedSortOrderID && id != nil && *id == order {
			ig.Go(func() error {
				hits, ok, err := m.lookupIndex(ictx, tbl.Location(), df, withCursor)
				if err != nil || ok {
					record(hits, false)
					return err
				}
				groups, err := m.rowGroups(ictx, df.FilePath(), true)
				if err != nil {
					return fmt.Errorf("icetable: merge %s: data file %s: %w", m.table, df.FilePath(), err)
				}
				if len(groups) == 0 {
					return nil
				}
				return readGroups(ictx, groups, withCursor)
			})
			continue
		}
		groups, err := m.rowGroups(ctx, df.FilePath(), true)
		if err != nil {
			return fmt.Errorf("icetable: merge %s: data file %s: %w", m.table, df.FilePath(), err)
		}
		for _, grp := range groups {
			g.Go(func() error { return readGroups(gctx, []rowGroup{grp}, withCursor) })
		}
	}
	return errors.Join(ig.Wait(), g.Wait())
}

// indexReads is how many key indexes a merge reads at once.
const indexReads = 16

// hit is a row of the table holding a candidate key, and its cursor when
// read.
type hit struct {
	key string
	row rowRef
	cur cursor
}

// lookupIndex finds the rows of the candidate keys in df, a data file of
// the table at location sorted by key, through its key index. It is not
// ok (and the data file must be read instead) when the index is missing
// or does not match df, or when withCursor and a row's block may hold a
// version as new as the candidate's (its cursor must be read). The hits'
// cursors are not read: each is older than its candidate.
func (m *merger) lookupIndex(ctx context.Context, location string, df iceberg.DataFile, withCursor bool) ([]hit, bool, error) {
	p := keyIndexPath(location, df.FilePath())
	x, err := readKeyIndex(ctx, m.fs, p, path.Base(df.FilePath()), df.Count(), df.FileSizeBytes())
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errKeyIndexMismatch) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("icetable: merge %s: key index %s: %w", m.table, p, err)
	}
	var hits []hit
	exact := false
	err = x.lookup(m.sorted, func(k int, pos int64, blockMax cursor) {
		key := m.sorted[k]
		if withCursor && cmpCursor(blockMax, m.cands[string(key)].cur) >= 0 {
			exact = true
		}
		hits = append(hits, hit{key: string(key), row: rowRef{file: df.FilePath(), pos: pos}})
	})
	if errors.Is(err, errKeyIndexMismatch) || exact {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("icetable: merge %s: key index %s: %w", m.table, p, err)
	}
	return hits, true, nil
}

// liveDataFiles returns the data files of tbl's current snapshot by path,
// reading only manifests it has not read before (manifests are
// immutable).
func (m *merger) liveDataFiles(ctx context.Context, tbl *table.Table) (map[string]iceberg.DataFile, error) {
	live := map[string]iceberg.DataFile{}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return live, nil
	}
	fs := m.fs.WithContext(ctx)
	mfs, err := snap.Manifests(fs)
	if err != nil {
		return nil, fmt.Errorf("icetable: merge %s: manifest list %s: %w", m.table, snap.ManifestList, err)
	}
	for _, mf := range mfs {
		if mf.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		dfs, ok := m.manifests[mf.FilePath()]
		if !ok {
			for e, err := range mf.Entries(fs, true) {
				if err != nil {
					return nil, fmt.Errorf("icetable: merge %s: manifest %s: %w", m.table, mf.FilePath(), err)
				}
				dfs = append(dfs, e.DataFile())
			}
			m.manifests[mf.FilePath()] = dfs
		}
		for _, df := range dfs {
			live[df.FilePath()] = df
		}
	}
	return live, nil
}

// commit decides, key by key, which rows the object replaces and which of
// its own rows are stale, and commits the object's candidate files with
// the position deletes in one RowDelta, provided tbl is still current.
// An object whose rows are all stale commits nothing.
func (m *merger) commit(ctx context.Context, tbl *table.Table, f Files, out *Committed) error {
	deletes := map[string][]int64{}
	for _, r := range m.losers {
		deletes[r.file] = append(deletes[r.file], r.pos)
	}
	out.Stale, out.Replaced = int64(len(m.losers)), 0
	for key, c := range m.cands {
		e := m.existing[key]
		switch {
		case e != nil && e.known && cmpCursor(e.max, c.cur) >= 0:
			deletes[c.row.file] = append(deletes[c.row.file], c.row.pos)
			out.Stale++
		case e != nil && len(e.rows) > 0:
			for _, r := range e.rows {
				deletes[r.file] = append(deletes[r.file], r.pos)
			}
			out.Replaced++
		}
	}
	if out.Stale == f.Rows {
		return nil // nothing to change
	}
	cands, err := dataFiles(tbl, f)
	if err != nil {
		return err
	}
	delFiles, err := m.deleteFiles(ctx, tbl, deletes)
	if err != nil {
		return err
	}
	txn := tbl.NewTransaction()
	if err := txn.AssertRefSnapshotID(table.MainBranch); err != nil {
		return fmt.Errorf("icetable: merge %s: %w", m.table, err)
	}
	rd := txn.NewRowDelta(summary(f.Object)).AddRows(cands...)
	if len(delFiles) > 0 {
		rd.AddDeletes(delFiles...)
	}
	if err := rd.Commit(ctx); err != nil {
		return fmt.Errorf("icetable: merge %s: %w", m.table, err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return fmt.Errorf("icetable: merge %s: %w", m.table, err)
	}
	out.SnapshotID = next.CurrentSnapshot().SnapshotID
	return nil
}

// deleteFiles writes one position delete file per data file in deletes
// (reusing the file an earlier attempt wrote for the same positions).
func (m *merger) deleteFiles(ctx context.Context, tbl *table.Table, deletes map[string][]int64) ([]iceberg.DataFile, error) {
	out := make([]iceberg.DataFile, 0, len(deletes))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for target, positions := range deletes {
		slices.Sort(positions)
		positions = slices.Compact(positions)
		mu.Lock()
		w, ok := m.written[target]
		if ok && slices.Equal(w.positions, positions) {
			out = append(out, w.df)
		}
		mu.Unlock()
		if ok && slices.Equal(w.positions, positions) {
			continue
		}
		g.Go(func() error {
			df, err := writePositionDeletes(gctx, m.fs, tbl.Spec(), tbl.Location(), target, positions)
			if err != nil {
				return fmt.Errorf("icetable: merge %s: position deletes of %s: %w", m.table, target, err)
			}
			mu.Lock()
			defer mu.Unlock()
			m.written[target] = writtenDelete{positions: positions, df: df}
			out = append(out, df)
			return nil
		})
	}
	return out, g.Wait()
}

// merge is one attempt of Commit for silver.<table>_current.
func (l *Lake) merge(ctx context.Context, m *merger, tbl *table.Table, f Files, out *Committed) error {
	if err := m.scan(ctx, tbl); err != nil {
		return err
	}
	return m.commit(ctx, tbl, f, out)
}

// intValue is row i of a as an int64, for integer-like columns.
func intValue(a arrow.Array, i int) (int64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Date32:
		return int64(a.Value(i)), true
	case *array.Timestamp:
		return int64(a.Value(i)), true
	}
	return 0, false
}

// intValues appends the values of the integer-like column a (zero for
// NULL) to out.
func intValues(a arrow.Array, out []int64) []int64 {
	switch a := a.(type) {
	case *array.Int64:
		return append(out, a.Int64Values()...)
	case *array.Timestamp:
		for _, v := range a.TimestampValues() {
			out = append(out, int64(v))
		}
		return out
	case *array.Int32:
		for _, v := range a.Int32Values() {
			out = append(out, int64(v))
		}
		return out
	}
	for i := range a.Len() {
		v, _ := intValue(a, i)
		out = append(out, v)
	}
	return out
}

// filterBits is the log2 of the bits of an intFilter (128 KiB: it stays in
// a core's cache).
const filterBits = 20

// intFilter is a one-hash Bloom filter of integer keys.
type intFilter struct{ bits []uint64 }

func newIntFilter(vals []int64) *intFilter {
	f := &intFilter{bits: make([]uint64, 1<<filterBits/64)}
	for _, v := range vals {
		h := hashInt(v)
		f.bits[h/64] |= 1 << (h % 64)
	}
	return f
}

// mayHave is false when v is surely not among the filter's values.
func (f *intFilter) mayHave(v int64) bool {
	h := hashInt(v)
	return f.bits[h/64]&(1<<(h%64)) != 0
}

// hashInt is Fibonacci hashing of v to filterBits bits.
func hashInt(v int64) uint64 { return uint64(v) * 0x9E3779B97F4A7C15 >> (64 - filterBits) }

// errCursorType is a cursor column whose values cannot be ordered here.
var errCursorType = errors.New("unsupported type (want a timestamp, date or integer)")

// cursorValue is row i of the cursor column a.
func cursorValue(a arrow.Array, i int) (cursor, error) {
	switch a.(type) {
	case *array.Int64, *array.Int32, *array.Int16, *array.Date32, *array.Timestamp:
	default:
		return cursor{}, fmt.Errorf("%s: %w", a.DataType(), errCursorType)
	}
	v, ok := intValue(a, i)
	if !ok {
		return cursor{v: math.MinInt64}, nil
	}
	return cursor{v: v, valid: true}, nil
}
