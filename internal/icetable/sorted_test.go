package icetable_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/store"
)

// liveFiles lists the data files of the kind of table's current snapshot.
func (f *fixture) liveFiles(t testing.TB, kind icetable.Kind) []iceberg.DataFile {
	t.Helper()
	snap := f.load(t, kind).CurrentSnapshot()
	if snap == nil {
		return nil
	}
	mfs, err := snap.Manifests(f.fs)
	if err != nil {
		t.Fatal(err)
	}
	var out []iceberg.DataFile
	for _, mf := range mfs {
		if mf.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range mf.Entries(f.fs, true) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e.DataFile())
		}
	}
	return out
}

// keyOrder is the ID of _current's sort order on order_id, failing the
// test when it has none.
func (f *fixture) keyOrder(t testing.TB) int {
	t.Helper()
	for _, o := range f.load(t, icetable.Current).Metadata().SortOrders() {
		if o.Len() == 1 && o.Field(0).Transform.String() == "identity" && o.Field(0).Direction == "asc" {
			return o.OrderID()
		}
	}
	t.Fatal("_current has no sort order on its key")
	return 0
}

// indexKey is the lake key of the key index of the data file df of
// _current.
func (f *fixture) indexKey(t testing.TB, df iceberg.DataFile) string {
	t.Helper()
	return "silver/orders_current/keys/" + strings.TrimSuffix(path.Base(df.FilePath()), ".parquet") + ".keys"
}

// sortedFile is a data file of _current and its range of order_id.
type sortedFile struct {
	lo, hi int64
	df     iceberg.DataFile
}

// checkSorted checks that every data file of _current is marked sorted
// by its key, holds its rows in key order, has a key index, and that no
// two files' key ranges overlap; it returns the files in key order.
func (f *fixture) checkSorted(t testing.TB) []sortedFile {
	t.Helper()
	order := f.keyOrder(t)
	db := duck(t)
	var spans []sortedFile
	for _, df := range f.liveFiles(t, icetable.Current) {
		if id := df.SortOrderID(); id == nil || *id != order {
			t.Errorf("data file %s: sort order %v, want %d", df.FilePath(), id, order)
			continue
		}
		local := filepath.Join(f.dir, strings.TrimPrefix(df.FilePath(), f.fs.Root()+"/"))
		var unordered, n int64
		var lo, hi int64
		err := db.QueryRow(`SELECT count(*) FILTER (WHERE order_id < prev), count(*), min(order_id), max(order_id) FROM (
			SELECT order_id, lag(order_id) OVER (ORDER BY file_row_number) AS prev FROM read_parquet(?, file_row_number = true))`, local).Scan(&unordered, &n, &lo, &hi)
		if err != nil {
			t.Fatal(err)
		}
		if unordered != 0 || n != df.Count() {
			t.Errorf("data file %s: %d rows of %d below the row before them (%d in the manifest)", df.FilePath(), unordered, n, df.Count())
		}
		if _, err := f.st.Stat(t.Context(), f.indexKey(t, df)); err != nil {
			t.Errorf("data file %s has no key index: %v", df.FilePath(), err)
		}
		spans = append(spans, sortedFile{lo, hi, df})
	}
	slices.SortFunc(spans, func(a, b sortedFile) int { return int(a.lo - b.lo) })
	for i, s := range spans {
		if i > 0 && s.lo <= spans[i-1].hi {
			t.Errorf("data files %s [%d, %d] and %s [%d, %d] overlap", spans[i-1].df.FilePath(), spans[i-1].lo, spans[i-1].hi, s.df.FilePath(), s.lo, s.hi)
		}
	}
	return spans
}

// scattered merges objects of ids drawn at random below n, each at a
// version above the last, and returns every row merged.
func (f *fixture) scattered(t testing.TB, rnd *rand.Rand, objects, rows int, n int64, firstVersion int) [][]order {
	t.Helper()
	var all [][]order
	for i := range objects {
		ids := make([]int64, rows)
		for j := range ids {
			ids[j] = rnd.Int64N(n)
		}
		rs := versions(firstVersion+i, ids...) // unsorted, with duplicates
		all = append(all, rs)
		f.merge(t, fmt.Sprintf("scattered-%d-%d", firstVersion, i), rs)
	}
	return all
}

func TestMaintainSortsCurrent(t *testing.T) {
	tests := []struct {
		name string
		opts icetable.MaintainOptions
	}{
		{"in memory", icetable.MaintainOptions{TargetFileSize: 8 << 10}},
		// every batch read is a sorted part of its own, more parts than
		// are merged at once
		{"temporary parts", icetable.MaintainOptions{TargetFileSize: 8 << 10, SortMemory: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, icetable.Options{})
			rnd := rand.New(rand.NewPCG(3, 4))
			all := f.scattered(t, rnd, 20, 150, 2000, 1)
			m := f.maintain(t, icetable.Current, tt.opts)
			if m.DeleteFiles != 0 || m.DataFiles < 3 {
				t.Errorf("maintenance = %+v, want several data files and no delete files", m)
			}
			f.checkCurrent(t, all...)
			f.checkSorted(t)
			if got, want := f.dataKeys(t, "silver/orders_current"), planKeys(f.plan(t, icetable.Current, time.Time{})); len(got) != len(want)+m.RewrittenDataFiles+m.RemovedDeleteFiles {
				t.Errorf("%d files under data/, want the %d of the plan and the %d replaced (no temporary part left)", len(got), len(want), m.RewrittenDataFiles+m.RemovedDeleteFiles)
			}

			// merges into the sorted table, and maintenance again
			more := f.scattered(t, rnd, 4, 100, 2500, 100)
			all = append(all, more...)
			f.checkCurrent(t, all...)
			f.maintain(t, icetable.Current, tt.opts)
			f.checkCurrent(t, all...)
			f.checkSorted(t)
			if got, want := f.duckRows(t, duck(t), f.plan(t, icetable.Current, time.Time{})), latest(all...); !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("DuckDB reads %d orders from the sorted _current, want %d", len(got), len(want))
			}
		})
	}
}

func TestMaintainRewritesOnlyWhatChanged(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	opts := icetable.MaintainOptions{TargetFileSize: 16 << 10}
	var all [][]order
	for i := range 10 {
		rows := versions(1, span(int64(i*1000), int64(i*1000+1000))...)
		all = append(all, rows)
		f.merge(t, fmt.Sprintf("load-%d", i), rows)
	}
	f.maintain(t, icetable.Current, opts)
	before := f.checkSorted(t)
	if len(before) < 4 {
		t.Fatalf("%d sorted files, want several", len(before))
	}
	// recent orders change and new ones come: only the last file's range
	// and beyond
	upd := slices.Concat(versions(5, span(9990, 10000)...), versions(2, span(10000, 10050)...))
	all = append(all, upd)
	f.merge(t, "recent", upd)
	m := f.maintain(t, icetable.Current, opts)
	f.checkCurrent(t, all...)
	after := f.checkSorted(t)
	kept := 0
	for _, b := range before {
		if slices.ContainsFunc(after, func(a sortedFile) bool { return a.df.FilePath() == b.df.FilePath() }) {
			kept++
		}
	}
	if kept < len(before)-2 || m.RewrittenDataFiles > 3 {
		t.Errorf("maintenance after changes in the last key range rewrote %d files and kept %d of %d; want all but the last (or two) kept", m.RewrittenDataFiles, kept, len(before))
	}
	if again := f.maintain(t, icetable.Current, opts); again.RewrittenDataFiles != 0 {
		t.Errorf("maintenance of a compacted _current rewrote %d files", again.RewrittenDataFiles)
	}
}

// countingStore counts the bytes read from each key, and the objects
// written.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	read    map[string]int64
	written []string
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	info, err := c.Store.Put(ctx, key, r, opts)
	if err == nil {
		c.mu.Lock()
		c.written = append(c.written, key)
		c.mu.Unlock()
	}
	return info, err
}

func (c *countingStore) count(key string, rc io.ReadCloser) io.ReadCloser {
	return &countingReader{ReadCloser: rc, add: func(n int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.read[key] += int64(n)
	}}
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	rc, info, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return c.count(key, rc), info, nil
}

func (c *countingStore) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := c.Store.GetRange(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return c.count(key, rc), nil
}

// reset forgets what was read and written.
func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read, c.written = map[string]int64{}, nil
}

// writtenUnder lists the objects written under prefix.
func (c *countingStore) writtenUnder(prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.written {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// bytesRead returns the bytes read of each key.
func (c *countingStore) bytesRead() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.read)
}

type countingReader struct {
	io.ReadCloser
	add func(int)
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.add(n)
	return n, err
}

// newCountingFixture opens a folder lake whose reads and writes are
// counted.
func newCountingFixture(t *testing.T) (*fixture, *countingStore) {
	t.Helper()
	var cs *countingStore
	f := newFolderFixture(t, icetable.Options{}, func(st store.Store) store.Store {
		cs = &countingStore{Store: st, read: map[string]int64{}}
		return cs
	})
	return f, cs
}

func TestMergeReadsKeyIndexesNotDataFiles(t *testing.T) {
	f, cs := newCountingFixture(t)
	var all [][]order
	for i := range 8 {
		rows := versions(1, span(int64(i*2500), int64(i*2500+2500))...)
		all = append(all, rows)
		f.merge(t, fmt.Sprintf("load-%d", i), rows)
	}
	f.maintain(t, icetable.Current, icetable.MaintainOptions{TargetFileSize: 32 << 10})
	sorted := f.checkSorted(t)
	if len(sorted) < 4 {
		t.Fatalf("%d sorted files, want several", len(sorted))
	}
	key := func(df iceberg.DataFile) string { return strings.TrimPrefix(df.FilePath(), f.fs.Root()+"/") }

	// keys spread over every file but the first
	rnd := rand.New(rand.NewPCG(5, 6))
	var ids []int64
	for _, sf := range sorted[1:] {
		for range 50 {
			ids = append(ids, sf.lo+rnd.Int64N(sf.hi-sf.lo+1))
		}
	}
	slices.Sort(ids)
	upd := updates(7, slices.Compact(ids)...) // newer than every row of the table
	files := f.write(t, icetable.Current, "spread", upd)
	cs.reset()
	c := f.commit(t, files)
	read := cs.bytesRead()
	if c.Replaced != int64(len(upd)) {
		t.Errorf("merge = %+v, want %d replaced", c, len(upd))
	}
	all = append(all, upd)
	f.checkCurrent(t, all...)
	for i, sf := range sorted {
		if n := read[key(sf.df)]; n != 0 {
			t.Errorf("the merge read %d bytes of the sorted data file %s", n, key(sf.df))
		}
		n, ok := read[f.indexKey(t, sf.df)]
		switch {
		case i == 0 && ok:
			t.Errorf("the merge read the key index of %s, whose key range holds none of its keys", key(sf.df))
		case i > 0 && n == 0:
			t.Errorf("the merge did not read the key index of %s", key(sf.df))
		}
	}

	// an object with versions older than the table's for some keys: the
	// cursors of that file are read, and the older rows are stale
	k := sorted[0].lo
	older := slices.Concat(versions(0, k, k+1), updates(9, k+2))
	c = f.merge(t, "older", older)
	if c.Stale != 2 || c.Replaced != 1 {
		t.Errorf("merge of older versions = %+v, want 2 stale and 1 replaced", c)
	}
	all = append(all, older)
	f.checkCurrent(t, all...)

	// a missing, or a corrupt, key index: the data file is read instead
	ctx := t.Context()
	if err := f.st.Delete(ctx, f.indexKey(t, sorted[1].df)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Put(ctx, f.indexKey(t, sorted[2].df), strings.NewReader("LAKEKIX1 not really"), nil); err != nil {
		t.Fatal(err)
	}
	fallback := updates(12, sorted[1].lo, sorted[1].hi, sorted[2].lo, sorted[2].hi)
	files = f.write(t, icetable.Current, "fallback", fallback)
	cs.reset()
	if c := f.commit(t, files); c.Replaced != 4 {
		t.Errorf("merge without usable key indexes = %+v, want 4 replaced", c)
	}
	all = append(all, fallback)
	f.checkCurrent(t, all...)
	read = cs.bytesRead()
	for _, sf := range sorted[1:3] {
		if read[key(sf.df)] == 0 {
			t.Errorf("the merge did not read %s, whose key index is unusable", key(sf.df))
		}
	}
}

func TestMaintainRemovesStaleKeyIndexes(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.t.SnapshotRetention = contract.Duration(time.Millisecond)
	opts := icetable.MaintainOptions{TargetFileSize: 16 << 10, OrphanAge: time.Nanosecond}
	rnd := rand.New(rand.NewPCG(7, 8))
	all := f.scattered(t, rnd, 10, 200, 2000, 1)
	f.maintain(t, icetable.Current, opts)
	all = append(all, f.scattered(t, rnd, 3, 200, 2000, 50)...)
	time.Sleep(5 * time.Millisecond)
	f.maintain(t, icetable.Current, opts) // rewrites everything
	time.Sleep(5 * time.Millisecond)
	f.maintain(t, icetable.Current, opts) // expires the replaced files
	f.checkCurrent(t, all...)
	f.checkKeyIndexes(t)

	// an index deleted by another tool is written again
	live := f.checkSorted(t)
	if err := f.st.Delete(t.Context(), f.indexKey(t, live[0].df)); err != nil {
		t.Fatal(err)
	}
	f.maintain(t, icetable.Current, opts)
	f.checkKeyIndexes(t)
	cs := f.checkSorted(t)
	upd := updates(60, cs[0].lo, cs[0].hi)
	if c := f.merge(t, "after-repair", upd); c.Replaced != 2 {
		t.Errorf("merge through a rewritten key index = %+v, want 2 replaced", c)
	}
	f.checkCurrent(t, append(all, upd)...)
}

// checkKeyIndexes checks that the key indexes of _current are exactly
// those of its live data files.
func (f *fixture) checkKeyIndexes(t testing.TB) {
	t.Helper()
	var want []string
	for _, sf := range f.checkSorted(t) {
		want = append(want, f.indexKey(t, sf.df))
	}
	slices.Sort(want)
	var got []string
	for info, err := range f.st.List(t.Context(), "silver/orders_current/keys/") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("key indexes %q, want those of the live data files %q", got, want)
	}
}

func TestMaintainSortsCompositeKeys(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.t.PrimaryKey = []string{"currency", "order_id"}
	rnd := rand.New(rand.NewPCG(9, 10))
	all := f.scattered(t, rnd, 12, 100, 1000, 1)
	f.maintain(t, icetable.Current, icetable.MaintainOptions{TargetFileSize: 8 << 10})
	f.checkCurrent(t, all...)
	// merges through the key indexes (string keys: prefix-compressed)
	all = append(all, f.scattered(t, rnd, 3, 100, 1000, 40)...)
	f.checkCurrent(t, all...)
	f.maintain(t, icetable.Current, icetable.MaintainOptions{TargetFileSize: 8 << 10})
	f.checkCurrent(t, all...)
}

func TestMaintainCurrentEveryType(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	w, err := f.lake.NewWriter(t.Context(), icetable.Current, f.t, icetable.Object{Key: "all", ETag: "e"}, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, allTypes)
	defer b.Release()
	// keys out of order (the sort gathers rows one by one), every tenth
	// row NULL but for its key and timestamps
	for _, id := range rand.New(rand.NewPCG(11, 12)).Perm(400) {
		if id%10 != 0 {
			allTypesRow(b, int64(id))
		} else {
			allTypesNullRow(b, int64(id))
		}
	}
	files, err := writeBuilt(w, b)
	if err != nil {
		t.Fatal(err)
	}
	f.commit(t, files)
	db := duck(t)
	rows := func() []string {
		t.Helper()
		q := f.duckSQL(t, f.plan(t, icetable.Current, time.Time{}))
		rs, err := db.Query(`SELECT concat_ws(' | ', order_id, c_smallint, c_integer, c_real, c_double, c_boolean, c_text, hex(c_bytea), c_date, c_time,
			c_timestamp, created_at, updated_at, c_numeric, c_int_array::VARCHAR, c_text_array::VARCHAR, c_interval::VARCHAR) FROM (` + q + `) ORDER BY order_id`)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := rows()
	f.maintain(t, icetable.Current, icetable.MaintainOptions{TargetFileSize: 8 << 10})
	f.checkSorted(t)
	if after := rows(); !slices.Equal(after, before) {
		t.Errorf("_current after the sorted compaction reads\n%q\nwant\n%q", after[:min(3, len(after))], before[:3])
	}
}

func TestMaintainReadsObjectsInKeyOrderAsRuns(t *testing.T) {
	f, cs := newCountingFixture(t)
	// an object of 100,000 rows in key order (an initial load), larger
	// than the sort's memory; one of 20,000 rows in reverse order
	inOrder := versions(1, span(0, 100_000)...)
	f.merge(t, "in-order", inOrder)
	reversed := versions(1, span(100_000, 120_000)...)
	slices.Reverse(reversed)
	f.merge(t, "reversed", reversed)
	cs.reset()
	m := f.maintain(t, icetable.Current, icetable.MaintainOptions{SortMemory: 8 << 20})
	f.checkCurrent(t, inOrder, reversed)
	f.checkSorted(t)
	// only the output (data files and their key indexes): no temporary
	// sorted part, which sorting the 100,000 rows would have needed
	if got := cs.writtenUnder("silver/orders_current/data/"); len(got) != m.AddedDataFiles {
		t.Errorf("maintenance wrote %d data files, %d of them added: %q", len(got), m.AddedDataFiles, got)
	}
}

func TestMergeThroughKeyIndexesOnEachBackend(t *testing.T) {
	onEachBackend(t, func(t *testing.T, f *fixture) {
		rnd := rand.New(rand.NewPCG(13, 14))
		all := f.scattered(t, rnd, 6, 200, 3000, 1)
		f.maintain(t, icetable.Current, icetable.MaintainOptions{TargetFileSize: 8 << 10})
		order := f.keyOrder(t)
		files := f.liveFiles(t, icetable.Current)
		if len(files) < 2 {
			t.Fatalf("%d data files after maintenance, want several", len(files))
		}
		for _, df := range files {
			if id := df.SortOrderID(); id == nil || *id != order {
				t.Errorf("data file %s: sort order %v, want %d", df.FilePath(), id, order)
			}
			if _, err := f.st.Stat(t.Context(), f.indexKey(t, df)); err != nil {
				t.Errorf("data file %s has no key index: %v", df.FilePath(), err)
			}
		}
		var ids []int64
		for range 300 {
			ids = append(ids, rnd.Int64N(3000))
		}
		slices.Sort(ids)
		upd := updates(9, slices.Compact(ids)...)
		all = append(all, upd)
		f.merge(t, "upd", upd)
		f.checkCurrent(t, all...)
	})
}
