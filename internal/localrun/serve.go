package localrun

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/schedule"
	"github.com/medallionlake/lake/internal/store"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Schedule starts the ingest path; nil: no scheduled starts.
	Schedule schedule.Schedule
	// Start is the input of each scheduled start.
	Start pipeline.StartInput
	// Poll is how often bronze/landing/ is listed (default 2s).
	Poll time.Duration
	// Lease configures the lake's serve lease: its TTL, and how long to
	// wait for another serve's. Its Log defaults to the Runner's.
	Lease lease.Options
	// MaintainSchedule starts the maintenance of the lake's Iceberg
	// tables (the maintain state machine); nil: none.
	MaintainSchedule schedule.Schedule
	// Maintain is the input of each scheduled maintenance.
	Maintain maintain.Start
}

// marker records that serve started an execution for one object version,
// and whether it finished. A finished marker keeps a failed object from
// being retried on every poll (replay it with `lake run`); a started
// marker with no execution in flight is a serve that stopped mid-way, so
// the object is run again (the route step is idempotent).
type marker struct {
	Key       string    `json:"key"`
	ETag      string    `json:"etag"`
	Execution string    `json:"execution,omitempty"`
	Status    string    `json:"status"` // STARTED, or the execution's final status
	At        time.Time `json:"at"`
}

func markerKey(obj store.ObjectInfo) string { return layout.ServeMarker(obj.Key, obj.ETag) }

// Serve stays up until ctx is done: it starts the ingest path on the
// schedule and one execution for each new object in bronze/landing/, as
// EventBridge would. Each object version is processed once, across
// restarts: a marker under _meta/serve/objects/ is written before its
// execution starts and updated when it ends. When ctx is done it stops
// starting executions and waits for those in flight, which run to their
// end (they are not cancelled half-way).
//
// One Serve at a time serves a lake: it first takes the lease at layout.ServeLease
// (waiting opts.Lease.Wait for another serve's), returning an error
// wrapping *lease.HeldError if it cannot, and renews it until the
// executions in flight have ended, then releases it. Should the lease be
// lost (taken over after renewals failed until it expired), Serve stops
// as if ctx were done and returns the *lease.LostError.
func (r *Runner) Serve(ctx context.Context, opts ServeOptions) error {
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Lease.Log == nil {
		opts.Lease.Log = r.log
	}
	l, err := lease.Acquire(ctx, r.lake, layout.ServeLease, opts.Lease)
	if err != nil {
		return fmt.Errorf("another lake serve is serving this lake: %w", err)
	}
	h := l.Holder()
	fmt.Fprintf(r.log, "serve: holding the lake's lease %s (host %s, pid %d)\n", layout.ServeLease, h.Host, h.PID)
	// the lease is renewed until the executions in flight have ended
	ctx, release := l.Hold(ctx)
	defer release()

	runCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, max(r.Concurrency, 1))
	ingest := make(chan struct{}, 1) // held while a scheduled run is in flight
	// seen are the marker keys of the objects in landing that this serve
	// has started or found finished: only objects new to it are looked
	// up, once.
	seen := map[string]bool{}

	fire := r.next(opts.Schedule, "scheduled start")
	maintainFire := r.next(opts.MaintainSchedule, "maintenance")
	maintaining := make(chan struct{}, 1) // held while a maintenance is in flight
	poll := time.NewTicker(opts.Poll)
	defer poll.Stop()
	// Executions a dead process left RUNNING are marked ABORTED now and
	// as their leases expire.
	reap := time.NewTicker(execstore.DefaultTTL)
	defer reap.Stop()
	if err := r.ReapAbandoned(ctx); err != nil {
		fmt.Fprintf(r.log, "serve: %v\n", err)
	}
	for {
		if err := r.pollOnce(ctx, runCtx, &wg, seen, sem); err != nil {
			fmt.Fprintf(r.log, "serve: %v\n", err)
		}
		select {
		case <-ctx.Done():
			var lostErr *lease.LostError
			if err := context.Cause(ctx); errors.As(err, &lostErr) {
				fmt.Fprintf(r.log, "serve: %v; stopping, waiting for executions in flight\n", err)
				return fmt.Errorf("serve: %w", err)
			}
			fmt.Fprintln(r.log, "serve: stopping; waiting for executions in flight")
			return nil
		case <-poll.C:
		case <-reap.C:
			if err := r.ReapAbandoned(ctx); err != nil {
				fmt.Fprintf(r.log, "serve: %v\n", err)
			}
		case <-maintainFire:
			maintainFire = r.next(opts.MaintainSchedule, "maintenance")
			select {
			case maintaining <- struct{}{}:
				wg.Add(1)
				go func() {
					defer func() { <-maintaining; wg.Done() }()
					r.maintainOnce(ctx, opts)
				}()
			default:
				fmt.Fprintln(r.log, "serve: the previous maintenance is still running; skipping this one")
			}
		case <-fire:
			fire = r.next(opts.Schedule, "scheduled start")
			select {
			case ingest <- struct{}{}:
				wg.Add(1)
				go func() {
					defer func() { <-ingest; wg.Done() }()
					if _, err := r.Start(runCtx, opts.Start); err != nil {
						fmt.Fprintf(r.log, "serve: scheduled start: %v\n", err)
					}
				}()
			default:
				fmt.Fprintln(r.log, "serve: the previous scheduled execution is still running; skipping this start")
			}
		}
	}
}

// next is a channel that receives when s fires next (nil, which never
// receives, when s is nil or never fires again); what names it in the
// log.
func (r *Runner) next(s schedule.Schedule, what string) <-chan time.Time {
	if s == nil {
		return nil
	}
	next := s.Next(r.now())
	if next.IsZero() {
		fmt.Fprintf(r.log, "serve: the %s schedule never fires again\n", what)
		return nil
	}
	fmt.Fprintf(r.log, "serve: next %s at %s\n", what, next.Format(time.RFC3339))
	return time.After(time.Until(next))
}

// maintainOnce runs one execution of the maintain state machine under the
// lake's maintenance lease, unless another process (`lake maintain`)
// holds it. When ctx is done (serve stops), the maintenance in flight is
// stopped: it is safe to stop at any point, and the next one finishes
// its work.
func (r *Runner) maintainOnce(ctx context.Context, opts ServeOptions) {
	held, release, err := maintain.Lock(ctx, r.lake, lease.Options{TTL: opts.Lease.TTL, Log: r.log})
	if ctx.Err() != nil {
		return // stopping
	}
	if err != nil {
		fmt.Fprintf(r.log, "serve: skipping this maintenance: %v\n", err)
		return
	}
	defer release()
	if _, err := r.Maintain(held, opts.Maintain); err != nil {
		fmt.Fprintf(r.log, "serve: maintenance: %v\n", err)
	}
}

// pollOnce starts an execution for every object in landing that has no
// marker, a STARTED marker left by an earlier serve, or a finished one
// and a pending commit, and that seen does not hold yet; seen is then
// left holding only objects still in landing.
func (r *Runner) pollOnce(ctx, runCtx context.Context, wg *sync.WaitGroup, seen map[string]bool, sem chan struct{}) error {
	objs, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(objs))
	defer maps.DeleteFunc(seen, func(mk string, _ bool) bool { return !listed[mk] })
	for _, obj := range objs {
		mk := markerKey(obj)
		listed[mk] = true
		if seen[mk] {
			continue
		}
		m, err := r.readMarker(ctx, mk)
		if err != nil {
			return err
		}
		seen[mk] = true
		if m != nil && m.Status != "STARTED" {
			// It finished before, and failed since it is still in landing:
			// it is run again only when routed with its commit pending,
			// once per serve.
			pending, err := pendingCommit(ctx, r.lake, obj)
			if err != nil {
				delete(seen, mk)
				return err
			}
			if !pending {
				continue
			}
			fmt.Fprintf(r.log, "serve: %s: routed, commit pending: running it again\n", obj.Key)
		}
		if _, err := store.PutJSON(ctx, r.lake, mk, marker{Key: obj.Key, ETag: obj.ETag, Status: "STARTED", At: r.now().UTC()}, nil); err != nil {
			delete(seen, mk)
			return err
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			done := marker{Key: obj.Key, ETag: obj.ETag, Status: "ERROR", At: r.now().UTC()}
			exec, err := r.Object(runCtx, obj)
			if err != nil {
				fmt.Fprintf(r.log, "serve: %s: %v\n", obj.Key, err)
			} else {
				done.Execution, done.Status = exec.Name, exec.Status
			}
			if _, err := store.PutJSON(runCtx, r.lake, mk, done, nil); err != nil {
				fmt.Fprintf(r.log, "serve: %s: marking done: %v\n", obj.Key, err)
			}
		}()
	}
	return nil
}

// pendingCommit reports whether obj, in landing, was routed (its route
// record is stored) but not committed: its execution failed after route.
func pendingCommit(ctx context.Context, lake store.Store, obj store.ObjectInfo) (bool, error) {
	table, err := layout.TableOf(obj.Key)
	if err != nil {
		return false, nil // not a table's object: the run reports it
	}
	return store.Exists(ctx, lake, layout.KeysFor(table, obj.Key, obj.ETag).RouteRecord())
}

func (r *Runner) readMarker(ctx context.Context, key string) (*marker, error) {
	var m marker
	if _, ok, err := store.GetJSON(ctx, r.lake, key, &m); !ok || err != nil {
		return nil, err
	}
	return &m, nil
}
