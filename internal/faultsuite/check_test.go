package faultsuite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/reconcile"
)

// state is what the lake holds after a run, as the checks count it.
type state struct {
	lost        int // source versions in neither silver nor discarded
	duplicates  int // extra copies of versions in silver and discarded
	quarantined int // objects quarantined
	problems    []string
}

func (s *state) problem(format string, args ...any) {
	s.problems = append(s.problems, strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " "))
}

// summary is the first problems, clipped, for a row of the results table.
func (s *state) summary() string {
	var out []string
	for _, p := range s.problems[:min(len(s.problems), 2)] {
		if r := []rune(p); len(r) > 100 {
			p = string(r[:100]) + "…"
		}
		out = append(out, p)
	}
	if n := len(s.problems) - len(out); n > 0 {
		out = append(out, fmt.Sprintf("%d more", n))
	}
	return strings.Join(out, "; ")
}

// ok reports whether the lake is as a fault-free run leaves it.
func (s *state) ok() bool { return len(s.problems) == 0 }

// baselines are the order_ids that a fault-free run discards, by seed
// size: the control case of that size records them.
var (
	baselineMu sync.Mutex
	baselines  = map[int64]map[int64]bool{}
)

// inspect reads the lake through the query path of `lake query` (DuckDB
// over the Iceberg tables, deletes applied) and the store, and compares
// it with the source: every version exactly once in silver or discarded,
// discarded exactly as a fault-free run of the same seed discards,
// `_current` one row per valid key at its latest valid version, nothing
// quarantined, bronze empty, reconcile with nothing to repair, and no
// execution left RUNNING.
func (e *env) inspect(t *testing.T, control bool) *state {
	t.Helper()
	ctx := context.Background()
	s := &state{}
	cfg := e.config(t, e.direct)
	eng, err := query.Open(ctx, cfg.Iceberg, localcatalog.New(e.direct), query.Options{Tables: []string{"orders"}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	read := func(table string) []version {
		var w collect
		if err := eng.Query(ctx, "SELECT order_id, epoch_us(updated_at) FROM "+table, &w); err != nil {
			s.problem("read %s: %v", table, err)
		}
		return w.rows
	}

	// Every version exactly once in silver or discarded, split as a
	// fault-free run splits it.
	seen := map[version]int{}
	discardedIDs := map[int64]bool{}
	for _, table := range []string{"silver.orders", "discarded.orders"} {
		for _, v := range read(table) {
			seen[v]++
			if !e.versions[v] {
				s.problem("%s holds order %d at %d µs, which the source never had", table, v.id, v.us)
			}
			if table == "discarded.orders" {
				discardedIDs[v.id] = true
			}
		}
	}
	for v := range e.versions {
		if seen[v] == 0 {
			s.lost++
		}
	}
	for _, n := range seen {
		s.duplicates += max(n-1, 0)
	}
	if s.lost > 0 || s.duplicates > 0 {
		s.problem("%d source versions lost, %d duplicated in silver and discarded", s.lost, s.duplicates)
	}
	wantDiscarded := e.seeded.Rows - e.seeded.Valid
	if got := int64(len(discardedIDs)); got != wantDiscarded {
		s.problem("%d orders discarded, the seed made %d defective", got, wantDiscarded)
	}
	baselineMu.Lock()
	base := baselines[e.seeded.Rows]
	if base == nil && control && s.ok() {
		baselines[e.seeded.Rows] = discardedIDs
	}
	baselineMu.Unlock()
	if base != nil {
		for id := range discardedIDs {
			if !base[id] {
				s.problem("order %d discarded; a fault-free run keeps it", id)
			}
		}
		for id := range base {
			if !discardedIDs[id] {
				s.problem("order %d not discarded; a fault-free run discards it", id)
			}
		}
	}

	// _current: one row per valid key, its latest valid version.
	latest := map[int64]int64{}
	for v := range e.versions {
		if !discardedIDs[v.id] && v.us > latest[v.id] {
			latest[v.id] = v.us
		}
	}
	current := map[int64]int{}
	for _, v := range read("silver.orders_current") {
		current[v.id]++
		if want, valid := latest[v.id]; !valid || v.us != want {
			s.problem("orders_current has order %d at %d µs, want %d (valid: %v)", v.id, v.us, want, valid)
		}
	}
	for id := range latest {
		if current[id] != 1 {
			s.problem("orders_current has %d rows of order %d, want 1", current[id], id)
		}
	}

	// Nothing quarantined, bronze empty.
	for _, c := range []struct {
		prefix string
		n      *int
	}{{layout.DiscardedPrefix + "orders/quarantine/", &s.quarantined}, {layout.LandingPrefix, nil}} {
		for info, err := range e.direct.List(ctx, c.prefix) {
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.n == nil:
				s.problem("%s is still in bronze", info.Key)
			case strings.HasSuffix(info.Key, "/report.json"):
				*c.n++
				s.problem("%s: quarantined", info.Key)
			}
		}
	}

	// Reconcile finds nothing to repair.
	rep, err := pipeline.New(cfg).Reconcile(ctx, reconcile.Options{DryRun: true})
	if err != nil {
		s.problem("reconcile --dry-run: %v", err)
	} else {
		for _, f := range rep.Findings {
			s.problem("reconcile --dry-run: %s %s: %s", f.Object, f.State, f.Detail)
		}
	}

	// No execution left RUNNING (List marks dead ones ABORTED).
	execs, err := execstore.New(e.direct, execstore.Options{}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range execs {
		if x.Status == asl.StatusRunning {
			s.problem("execution %s is still RUNNING", x.Name)
		}
	}
	return s
}

// collect is a format.Writer that keeps (order_id, µs) rows.
type collect struct{ rows []version }

func (c *collect) Header([]format.Column) error { return nil }
func (c *collect) Close() error                 { return nil }

func (c *collect) Row(vals []format.Value) error {
	var v version
	var err error
	if v.id, err = strconv.ParseInt(vals[0].Text, 10, 64); err != nil {
		return err
	}
	if v.us, err = strconv.ParseInt(vals[1].Text, 10, 64); err != nil {
		return err
	}
	c.rows = append(c.rows, v)
	return nil
}
