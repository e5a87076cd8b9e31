package icetable_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/icetable"
)

// benchRows is the size of _current in TestBenchIceberg
// (LAKE_BENCH_ROWS, default 10,000,000).
func benchRows(t *testing.T) int64 {
	if v := os.Getenv("LAKE_BENCH_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("LAKE_BENCH_ROWS=%q: %v", v, err)
		}
		return n
	}
	return 10_000_000
}

// TestBenchIceberg measures, on one folder lake, in one run
// (scripts/bench-iceberg.sh; skipped unless LAKE_BENCH_ICEBERG=1):
//
//  1. merge cost: merging 5,000 changed rows into a _current of
//     LAKE_BENCH_ROWS rows (write + merge commit) against writing those
//     5,000 rows alone (write + append commit to silver), keys drawn at
//     random over the whole table and, second, among the newest 1% of
//     keys; the median of 5 rounds of each, and their ratio, with the
//     key indexes and, alternating with those rounds, without them (as
//     merges ran before them);
//  2. concurrency: 16 objects of 5,000 rows with overlapping keys merged
//     into that _current at once: all commit, and the attempts they took.
func TestBenchIceberg(t *testing.T) {
	if os.Getenv("LAKE_BENCH_ICEBERG") != "1" {
		t.Skip("a benchmark: run scripts/bench-iceberg.sh (LAKE_BENCH_ICEBERG=1)")
	}
	n := benchRows(t)
	f := newFixture(t, icetable.Options{})

	start := time.Now()
	const chunk = 500_000
	for from := int64(0); from < n; from += chunk {
		f.merge(t, fmt.Sprintf("load-%d", from), versions(1, span(from, min(from+chunk, n))...))
	}
	t.Logf("BENCH load: %d rows into _current in %.1fs", n, time.Since(start).Seconds())
	start = time.Now()
	m := f.maintain(t, icetable.Current, icetable.MaintainOptions{})
	t.Logf("BENCH maintain: %.1fs, %d data files of _current, %.1f MB", time.Since(start).Seconds(), m.DataFiles, float64(m.DataBytes)/1e6)

	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(lo, hi int64, k int) []int64 {
		seen := map[int64]bool{}
		for len(seen) < k {
			seen[lo+rnd.Int64N(hi-lo)] = true
		}
		ids := make([]int64, 0, k)
		for id := range seen {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	ctx := t.Context()
	indexes := map[string][]byte{}
	var indexBytes int
	for info, err := range f.st.List(ctx, "silver/orders_current/keys/") {
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.fs.WithContext(ctx).ReadFile(f.fs.Location(info.Key))
		if err != nil {
			t.Fatal(err)
		}
		indexes[info.Key] = b
		indexBytes += len(b)
	}
	t.Logf("BENCH key indexes: %d, %.2f MB (%.3f bytes a row)", len(indexes), float64(indexBytes)/1e6, float64(indexBytes)/float64(n))

	setIndexes := func(on bool) {
		for k, b := range indexes {
			var err error
			if on {
				_, err = f.st.Put(ctx, k, bytes.NewReader(b), nil)
			} else {
				err = f.st.Delete(ctx, k)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	// rounds alternate with and without the key indexes (without them,
	// the merge reads the key column, as it did before them), so that
	// both see the same table
	modes := []string{"key indexes", "no key indexes"}
	round := 2
	for _, keys := range []struct {
		name   string
		lo, hi int64
	}{{"random keys", 0, n}, {"newest 1% of keys", n - n/100, n}} {
		appendT, mergeT := map[string][]time.Duration{}, map[string][]time.Duration{}
		for r := range 10 {
			mode := modes[r%2]
			setIndexes(mode == "key indexes")
			round++
			rows := updates(round, pick(keys.lo, keys.hi, 5000)...)
			t0 := time.Now()
			f.commit(t, f.write(t, icetable.Silver, fmt.Sprintf("append-%d", round), rows))
			t1 := time.Now()
			c := f.commit(t, f.write(t, icetable.Current, fmt.Sprintf("merge-%d", round), rows))
			t2 := time.Now()
			if c.Replaced != 5000 {
				t.Fatalf("round %d: merge replaced %d rows, want 5000", r, c.Replaced)
			}
			appendT[mode], mergeT[mode] = append(appendT[mode], t1.Sub(t0)), append(mergeT[mode], t2.Sub(t1))
		}
		for _, mode := range modes {
			a, mg := median(appendT[mode]), median(mergeT[mode])
			t.Logf("BENCH merge cost (%s, %s): write+append 5,000 rows %v, write+merge into %d rows %v: ratio %.2f (target <= 3)",
				keys.name, mode, a.Round(time.Millisecond), n, mg.Round(time.Millisecond), float64(mg)/float64(a))
		}
	}
	setIndexes(true)

	// 16 objects at once, keys drawn from a pool of 20,000
	pool := pick(0, n, 20000)
	const objects = 16
	files := make([]icetable.Files, objects)
	var all [][]order
	for i := range objects {
		ids := make([]int64, 0, 5000)
		for _, j := range rnd.Perm(len(pool))[:5000] {
			ids = append(ids, pool[j])
		}
		slices.Sort(ids)
		rows := updates(100+rnd.IntN(50), ids...)
		all = append(all, rows)
		files[i] = f.write(t, icetable.Current, fmt.Sprintf("concurrent-%d", i), rows)
	}
	start = time.Now()
	attempts := f.commitAll(t, files)
	elapsed := time.Since(start)
	retries := 0
	for _, a := range attempts {
		retries += a - 1
	}
	t.Logf("BENCH concurrency: %d objects of 5,000 rows (overlapping keys) merged at once in %.1fs; attempts %v: %d retries",
		objects, elapsed.Seconds(), attempts, retries)

	// every pool key holds its greatest version, and nothing is duplicated
	want := latest(all...)
	db := duck(t)
	q := f.duckSQL(t, f.plan(t, icetable.Current, time.Time{}))
	var rowsOut int64
	if err := db.QueryRow("SELECT count(*) FROM (" + q + ")").Scan(&rowsOut); err != nil {
		t.Fatal(err)
	}
	if rowsOut != n {
		t.Errorf("_current holds %d rows, want %d (one per key)", rowsOut, n)
	}
	got := map[int64]string{}
	rs, err := db.Query("SELECT order_id, status FROM ("+q+") WHERE order_id IN (SELECT unnest(?::BIGINT[]))", pool)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var status string
		if err := rs.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		got[id] = status
	}
	bad := 0
	for id, w := range want {
		if s, _, _ := cutAt(w[0]); got[id] != s {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d contended keys do not hold their greatest version", bad, len(want))
	}
}

// updates returns, for ids, their version u made after the load (as in
// the source, an update stamps updated_at with the time of the update:
// later than every version loaded).
func updates(u int, ids ...int64) []order {
	out := versions(u, ids...)
	for i := range out {
		out[i].Updated = day0.AddDate(1, 0, 0).Add(time.Duration(u) * time.Hour)
	}
	return out
}

// cutAt splits "status@updated".
func cutAt(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '@' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
