package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/store"
)

// Options tune an Ingester. The zero value is the default.
type Options struct {
	// ObjectSize is the target size in bytes of one bronze object; larger
	// extracts are split into several (0: the Parquet writer's default).
	ObjectSize int64
	// BatchRows is the number of rows decoded into one Arrow batch
	// (0: pgarrow's default).
	BatchRows int
	// Parallel is how many key ranges Run splits a table into and
	// extracts at once, each on its own connection, all in one snapshot
	// exported by the planning transaction (0 or 1: one range, read in the
	// planning transaction itself).
	Parallel int
	// ReplicaLag, when the source is a standby, is the lag window: the run's
	// upper bound is held this far below the last replayed commit, and only
	// transactions on the primary shorter than ReplicaLag are guaranteed
	// not to be lost. Zero refuses to ingest from a standby (*StandbyError).
	ReplicaLag time.Duration
	// Margin is subtracted from the upper bound read from pg_stat_activity,
	// to cover the instant between a transaction taking its start time and
	// publishing it (0: DefaultMargin). A larger margin delays rows by that
	// much; it never duplicates or loses any.
	Margin time.Duration
	// ConnectTimeout bounds connecting to the source (0: 10s, unless the
	// URL sets connect_timeout).
	ConnectTimeout time.Duration
	// Progress, when set, receives human-readable progress lines.
	Progress func(format string, args ...any)
}

// DefaultMargin is the default Options.Margin.
const DefaultMargin = time.Second

// Ingester extracts source tables into the lake's bronze layer.
type Ingester struct {
	Store  store.Store
	Source string // PostgreSQL URL of the source (primary or standby)
	Tables []*contract.Table
	Options
}

// New returns an Ingester over the contracts in tables.
func New(st store.Store, source string, tables []*contract.Table, opts Options) *Ingester {
	return &Ingester{Store: st, Source: source, Tables: tables, Options: opts}
}

func (in *Ingester) contract(name string) (*contract.Table, error) {
	t, err := contract.Find(in.Tables, name)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return t, nil
}

func (in *Ingester) progress(format string, args ...any) {
	if in.Progress != nil {
		in.Progress(format, args...)
	}
}

// Run ingests one table: it plans the run (Options.Parallel key ranges),
// extracts every range in one consistent snapshot, and advances the
// watermark from the plan's Lo to its Hi. An error before the watermark
// write leaves the watermark unchanged; the next run redoes the same
// interval into the same keys (Plan's pending bounds), so nothing is lost
// or extracted twice (docs/ingest.md).
func (in *Ingester) Run(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	t, err := in.contract(req.Table)
	if err != nil {
		return nil, err
	}
	s, p, err := in.plan(ctx, t, in.Parallel)
	if err != nil {
		return nil, err
	}
	defer s.close()
	in.progress("ingest %s: cursor %s in [%s, %s) (%s), %d range(s)", t.Name, t.Cursor, fmtLo(p.Lo), p.Hi, p.HiReason, len(p.Items))

	var results []Result
	if len(p.Items) == 1 {
		r, err := s.extract(ctx, p.Items[0])
		if err != nil {
			return nil, err
		}
		results = []Result{*r}
	} else {
		snap, err := s.exportSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		results, err = in.extractAll(ctx, p.Items, snap)
		if err != nil {
			return nil, err
		}
	}
	// The planning transaction (and with it the exported snapshot) is
	// only needed until every range is read.
	s.close()
	res, err := in.Commit(ctx, CommitRequest{Plan: *p, Results: results})
	if err != nil {
		return nil, err
	}
	res.DurationMs = time.Since(start).Milliseconds()
	in.progress("ingest %s: %d rows in %d objects (%d bytes), watermark %s, %d ms", t.Name, res.Rows, len(res.Objects), res.Bytes, res.Watermark, res.DurationMs)
	return res, nil
}

// extractAll extracts items concurrently, each reading the exported
// snapshot snap on its own connection. The first error cancels the rest.
func (in *Ingester) extractAll(ctx context.Context, items []WorkItem, snap string) ([]Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]Result, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i := range items {
		item := items[i]
		item.Snapshot = snap
		wg.Go(func() {
			r, err := in.Extract(ctx, item)
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			results[i] = *r
		})
	}
	wg.Wait()
	// Report the first real error, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return results, nil
}

// Plan reads the watermark, fixes the run's upper bound and splits the
// table into at most req.Parts key ranges (docs/ingest.md). It also writes
// the table's column schema to _meta/tables/<table>/schema.json.
func (in *Ingester) Plan(ctx context.Context, req PlanRequest) (*Plan, error) {
	t, err := in.contract(req.Table)
	if err != nil {
		return nil, err
	}
	s, p, err := in.plan(ctx, t, req.Parts)
	if err != nil {
		return nil, err
	}
	s.close()
	return p, nil
}

// Extract lands one work item's rows in bronze, in a REPEATABLE READ, READ
// ONLY transaction of its own (or in item.Snapshot), and does not touch the
// watermark: Commit does, once every item of the plan is extracted.
func (in *Ingester) Extract(ctx context.Context, item WorkItem) (*Result, error) {
	t, err := in.contract(item.Table)
	if err != nil {
		return nil, err
	}
	s, err := in.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.begin(ctx, item.Snapshot); err != nil {
		return nil, err
	}
	return s.extract(ctx, item)
}

func fmtLo(lo *Instant) string {
	if lo == nil {
		return "-infinity"
	}
	return lo.String()
}
