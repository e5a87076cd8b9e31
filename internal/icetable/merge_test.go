package icetable_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
)

// merge writes rows as object key into _current and commits them.
func (f *fixture) merge(t testing.TB, key string, rows []order) icetable.Committed {
	t.Helper()
	return f.commit(t, f.write(t, icetable.Current, key, rows))
}

// checkCurrent checks that _current holds exactly the latest version of
// each id of rows.
func (f *fixture) checkCurrent(t testing.TB, rows ...[]order) {
	t.Helper()
	got, want := f.scan(t, icetable.Current), latest(rows...)
	if maps.EqualFunc(got, want, slices.Equal) {
		return
	}
	n := 0
	for id, w := range want {
		if g := got[id]; !slices.Equal(g, w) {
			if n++; n <= 5 {
				t.Errorf("order %d: _current holds %q, want %q", id, g, w)
			}
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("order %d: _current holds %q, want nothing", id, g)
		}
	}
	t.Errorf("%d of %d orders differ", n, len(want))
}

func TestMergeLatestByCursorNotArrival(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	first := versions(1, span(0, 300)...)
	if c := f.merge(t, "first", first); c.Replaced != 0 || c.Stale != 0 {
		t.Errorf("first merge = %+v, want nothing replaced or stale", c)
	}
	f.checkCurrent(t, first)

	// newer versions of 100..199
	newer := versions(5, span(100, 200)...)
	if c := f.merge(t, "newer", newer); c.Replaced != 100 || c.Stale != 0 {
		t.Errorf("newer merge = %+v, want 100 replaced", c)
	}
	f.checkCurrent(t, first, newer)

	// an older object (versions 3 of 150..249) arrives after the newer one:
	// 150..199 are stale, 200..249 replace version 1
	older := versions(3, span(150, 250)...)
	if c := f.merge(t, "older", older); c.Replaced != 50 || c.Stale != 50 {
		t.Errorf("older merge = %+v, want 50 replaced and 50 stale", c)
	}
	f.checkCurrent(t, first, newer, older)

	// an object holding only stale rows commits nothing
	before := f.load(t, icetable.Current).CurrentSnapshot().SnapshotID
	if c := f.merge(t, "all-stale", versions(2, span(100, 150)...)); c.Stale != 50 || c.SnapshotID != 0 {
		t.Errorf("all-stale merge = %+v, want 50 stale and no snapshot", c)
	}
	if got := f.load(t, icetable.Current).CurrentSnapshot().SnapshotID; got != before {
		t.Errorf("an all-stale merge made snapshot %d", got)
	}

	// the same version again (equal cursor) keeps the row there
	if c := f.merge(t, "same-again", versions(5, span(100, 110)...)); c.Stale != 10 || c.Replaced != 0 {
		t.Errorf("equal-cursor merge = %+v, want 10 stale", c)
	}
	f.checkCurrent(t, first, newer, older)
}

func TestMergeDuplicatesWithinObject(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	// ids 0..99 at version 2, then 0..49 again at version 7 and 50..99 at
	// version 1, in one object
	rows := slices.Concat(versions(2, span(0, 100)...), versions(7, span(0, 50)...), versions(1, span(50, 100)...))
	c := f.merge(t, "dups", rows)
	if c.Stale != 100 || c.Replaced != 0 {
		t.Errorf("merge = %+v, want the 100 superseded rows of the object stale", c)
	}
	f.checkCurrent(t, rows)
}

func TestMergeIdempotent(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.merge(t, "a", versions(1, span(0, 100)...))
	files := f.write(t, icetable.Current, "b", versions(2, span(50, 150)...))
	first := f.commit(t, files)
	again := f.commit(t, files)
	if !again.Already || again.SnapshotID != first.SnapshotID {
		t.Errorf("repeated merge = %+v, want Already at %d", again, first.SnapshotID)
	}
	f.checkCurrent(t, versions(1, span(0, 100)...), versions(2, span(50, 150)...))
}

func TestMergeManyFilesPruned(t *testing.T) {
	// one object per range of 1000 ids: 20 files with disjoint key ranges
	f := newFixture(t, icetable.Options{})
	var all [][]order
	for i := range 20 {
		rows := versions(1, span(int64(i*1000), int64(i*1000+1000))...)
		all = append(all, rows)
		f.merge(t, fmt.Sprintf("load-%d", i), rows)
	}
	// updates scattered over three of the ranges, some older than what
	// they meet
	upd := slices.Concat(versions(4, 5, 17, 999), versions(4, 7001, 7002), versions(0, 19500, 19999))
	c := f.merge(t, "upd", upd)
	if c.Replaced != 5 || c.Stale != 2 {
		t.Errorf("merge = %+v, want 5 replaced and 2 stale", c)
	}
	f.checkCurrent(t, append(all, upd)...)
}

func TestMergeConcurrentSameKeys(t *testing.T) {
	onEachBackend(t, func(t *testing.T, f *fixture) {
		base := versions(1, span(0, 400)...)
		f.merge(t, "base", base)
		// 12 objects, each a different version of overlapping keys; no
		// matter the commit order, the greatest version of each key wins
		const objects = 12
		all := [][]order{base}
		files := make([]icetable.Files, objects)
		for i := range objects {
			rows := versions(2+(i*7)%objects, span(int64(i*20), int64(i*20+100))...)
			all = append(all, rows)
			files[i] = f.write(t, icetable.Current, fmt.Sprintf("o%02d", i), rows)
		}
		attempts := f.commitAll(t, files)
		t.Logf("attempts per merge: %v", attempts)
		f.checkCurrent(t, all...)
	})
}

func TestMergeCompositeKey(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	// key (currency, order_id): strings and integers, no integer pruning
	f.t.PrimaryKey = []string{"currency", "order_id"}
	rows := versions(1, span(0, 200)...)
	f.merge(t, "a", rows)
	newer := versions(2, span(100, 300)...)
	if c := f.merge(t, "b", newer); c.Replaced != 100 || c.Stale != 0 {
		t.Errorf("composite-key merge = %+v, want 100 replaced", c)
	}
	f.checkCurrent(t, rows, newer)
}

func TestMergeNullCursor(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	sc := ordersSchema
	write := func(key string, ids []int64, u int, nullCursor bool) icetable.Committed {
		t.Helper()
		w, err := f.lake.NewWriter(t.Context(), icetable.Current, f.t, icetable.Object{Key: key, ETag: "e"}, sc)
		if err != nil {
			t.Fatal(err)
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		defer b.Release()
		rec := batch(versions(u, ids...))
		defer rec.Release()
		for c := range sc.NumFields() {
			for i := range len(ids) {
				if nullCursor && sc.Field(c).Name == "updated_at" {
					b.Field(c).AppendNull()
					continue
				}
				appendValue(b.Field(c), rec.Column(c), i)
			}
		}
		files, err := writeBuilt(w, b)
		if err != nil {
			t.Fatal(err)
		}
		return f.commit(t, files)
	}
	write("nulls", []int64{1, 2}, 1, true)
	// a NULL cursor again does not replace a NULL cursor; any cursor does
	if c := write("nulls-again", []int64{1}, 2, true); c.Stale != 1 {
		t.Errorf("NULL over NULL = %+v, want stale", c)
	}
	if c := write("values", []int64{2}, 3, false); c.Replaced != 1 {
		t.Errorf("a cursor over NULL = %+v, want replaced", c)
	}
	if c := write("null-late", []int64{2}, 4, true); c.Stale != 1 {
		t.Errorf("NULL over a cursor = %+v, want stale", c)
	}
	got := f.scan(t, icetable.Current)
	if len(got[1]) != 1 || len(got[2]) != 1 || got[2][0] != "S3@"+version(2, 3).Updated.Format(time.RFC3339) {
		t.Errorf("_current holds %v", got)
	}
}

// TestBucketPartitions writes, merges and maintains tables partitioned by
// bucket[4] of the key, an integer column.
func TestBucketPartitions(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.t.Partition = contract.Partition{Column: "order_id", Transform: "bucket[4]"}
	first, second := versions(1, span(0, 400)...), versions(2, span(100, 200)...)
	files := f.write(t, icetable.Silver, "a", first)
	parts := map[string]bool{}
	for _, d := range files.Files {
		parts[d.PartitionPath] = true
	}
	if len(parts) != 4 {
		t.Errorf("partitions %v, want the 4 buckets of order_id", slices.Sorted(maps.Keys(parts)))
	}
	f.commit(t, files)
	f.commit(t, f.write(t, icetable.Silver, "b", second))
	f.merge(t, "a", first)
	f.merge(t, "b", second)
	f.checkCurrent(t, first, second)
	f.maintain(t, icetable.Current, icetable.MaintainOptions{})
	f.checkCurrent(t, first, second)
	rows := 0
	for _, vs := range f.scan(t, icetable.Silver) {
		rows += len(vs)
	}
	if want := len(first) + len(second); rows != want {
		t.Errorf("silver holds %d versions, want %d", rows, want)
	}
}
