package icetable_test

import (
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
//     keys; the median of 5 rounds of each, and their ratio;
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
	round := 2
	for _, keys := range []struct {
		name   string
		lo, hi int64
	}{{"random keys", 0, n}, {"newest 1% of keys", n - n/100, n}} {
		var appendT, mergeT []time.Duration
		for r := range 5 {
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
			appendT, mergeT = append(appendT, t1.Sub(t0)), append(mergeT, t2.Sub(t1))
		}
		a, mg := median(appendT), median(mergeT)
		t.Logf("BENCH merge cost (%s): write+append 5,000 rows %v, write+merge into %d rows %v: ratio %.2f (target <= 3)",
			keys.name, a.Round(time.Millisecond), n, mg.Round(time.Millisecond), float64(mg)/float64(a))
	}

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
