// Package execstore keeps the state machine executions that run locally
// (lake run, lake serve, the served Step Functions API) in the lake, and
// tells the executions still running from those whose process died.
//
// Each execution is kept under _meta/executions/<name>/: execution.json,
// shaped like DescribeExecution's answer (the meta.executions table reads
// it), and history.json, {"events": [...]} shaped like
// GetExecutionHistory's. While an execution runs, the process running it
// holds a lease on it, _meta/leases/executions/<name>.json, which it renews
// every TTL/4 (writing the history so far at the same time) and deletes
// once the execution's end is written.
//
// An execution that says RUNNING is dead when its lease has expired, when
// it has no lease, or when its lease names a process on this host (same
// host name and PID namespace) that no longer exists. Whoever finds a dead
// execution (List, Load, Reap) marks it ABORTED with the reason, and ends
// its history with an ExecutionAborted event. docs/asl.md explains the
// choice.
//
// Imported by the local runner (internal/localrun), the served API
// (internal/sfnapi) and cmd/lake.
package execstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// Prefix is where executions are kept: <Prefix><name>/execution.json and
// <Prefix><name>/history.json.
const Prefix = layout.ExecutionsPrefix

// LeasePrefix is where the leases of running executions are kept:
// <LeasePrefix><name>.json.
const LeasePrefix = layout.ExecutionLeasesPrefix

// AbandonedError is the Error of an execution found dead and marked
// ABORTED; its Cause says why and by whom.
const AbandonedError = "Lake.ExecutionAbandoned"

// DefaultTTL is how long a lease lasts unless renewed.
const DefaultTTL = time.Minute

// ErrNoExecution is returned (wrapped) by Load for an execution that is
// not stored.
var ErrNoExecution = errors.New("no such execution")

// Owner identifies the process that runs an execution.
type Owner struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	PIDNS string `json:"pid_namespace,omitempty"` // Linux: /proc/self/ns/pid's link
	ID    string `json:"id"`                      // random, one per process
}

// Lease is what a running execution's owner renews.
type Lease struct {
	Execution string    `json:"execution"`
	Owner     Owner     `json:"owner"`
	Renewed   time.Time `json:"renewed"`
	Expires   time.Time `json:"expires"`
}

// Options configure a Store.
type Options struct {
	// TTL is how long a lease lasts; it is renewed every TTL/4. Default
	// DefaultTTL.
	TTL time.Duration
	// Finder names who marks dead executions ABORTED, in their cause
	// (e.g. "lake executions"). Default "lake".
	Finder string
	// Log receives problems renewing leases (nil: discarded).
	Log io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store records executions in a lake and reads them back. It is an
// asl.Recorder; one Store serves any number of concurrent executions.
type Store struct {
	lake   store.Store
	owner  Owner
	ttl    time.Duration
	finder string
	log    io.Writer
	now    func() time.Time

	mu   sync.Mutex
	live map[string]*running // executions this Store is recording
}

var _ asl.Recorder = (*Store)(nil)

// running is an execution this process is recording.
type running struct {
	mu      sync.Mutex
	exec    asl.Execution
	events  []asl.Event
	flushed int // events already in history.json
	stop    chan struct{}
	done    chan struct{}
}

// New returns a Store over lake.
func New(lake store.Store, opts Options) *Store {
	s := &Store{lake: lake, owner: self(), ttl: opts.TTL, finder: opts.Finder, log: opts.Log, now: opts.Now, live: map[string]*running{}}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.finder == "" {
		s.finder = "lake"
	}
	if s.log == nil {
		s.log = io.Discard
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// self identifies this process.
func self() Owner {
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	var id [8]byte
	_, _ = rand.Read(id[:])
	return Owner{Host: host, PID: os.Getpid(), PIDNS: ns, ID: hex.EncodeToString(id[:])}
}

// Record keeps ev. On an execution's first event (ExecutionStarted, or
// ExecutionRedriven for a redrive, whose earlier history it reads back) it
// takes the lease and writes the execution; on its last it writes the
// history and the execution and gives the lease up.
func (s *Store) Record(ctx context.Context, exec *asl.Execution, ev asl.Event) error {
	name := exec.Name
	switch {
	case ev.Type == "ExecutionStarted" || ev.Type == "ExecutionRedriven":
		var prior []asl.Event
		if ev.Type == "ExecutionRedriven" {
			var err error
			if _, prior, err = s.read(ctx, name, true); err != nil {
				return err
			}
		}
		r := &running{exec: *exec, events: append(prior, ev), stop: make(chan struct{}), done: make(chan struct{})}
		s.mu.Lock()
		s.live[name] = r
		s.mu.Unlock()
		if err := s.start(ctx, r); err != nil {
			s.forget(name, r)
			return err
		}
		go s.renew(name, r)
		return nil
	}
	s.mu.Lock()
	r := s.live[name]
	s.mu.Unlock()
	if r == nil {
		return fmt.Errorf("execstore: event %d (%s) of execution %s, which did not start here", ev.ID, ev.Type, name)
	}
	r.mu.Lock()
	r.exec = *exec
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if !asl.EndsExecution(ev.Type) {
		return nil
	}
	close(r.stop)
	<-r.done
	defer s.forget(name, r)
	if err := s.flush(ctx, name, r); err != nil {
		return err
	}
	if err := s.put(ctx, layout.Execution(name, "execution.json"), exec); err != nil {
		return err
	}
	if err := s.lake.Delete(ctx, layout.ExecutionLease(name)); err != nil {
		return fmt.Errorf("execstore: releasing the lease of %s: %w", name, err)
	}
	return nil
}

// start takes the lease of a starting execution, then writes its history
// so far and its description: a RUNNING execution.json always has a lease
// behind it.
func (s *Store) start(ctx context.Context, r *running) error {
	name := r.exec.Name
	if err := s.putLease(ctx, name); err != nil {
		return err
	}
	if err := s.flush(ctx, name, r); err != nil {
		return err
	}
	return s.put(ctx, layout.Execution(name, "execution.json"), r.exec)
}

// renew renews r's lease every TTL/4 and writes its history so far, until
// r ends.
func (s *Store) renew(name string, r *running) {
	defer close(r.done)
	t := time.NewTicker(s.ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/4)
		err := s.putLease(ctx, name)
		if err == nil {
			err = s.flush(ctx, name, r)
		}
		cancel()
		if err != nil {
			fmt.Fprintf(s.log, "execstore: renewing the lease of %s: %v\n", name, err)
		}
	}
}

func (s *Store) forget(name string, r *running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[name] == r {
		delete(s.live, name)
	}
}

func (s *Store) putLease(ctx context.Context, name string) error {
	now := s.now().UTC()
	return s.put(ctx, layout.ExecutionLease(name), Lease{Execution: name, Owner: s.owner, Renewed: now, Expires: now.Add(s.ttl)})
}

// flush writes r's history if it has events not yet written.
func (s *Store) flush(ctx context.Context, name string, r *running) error {
	r.mu.Lock()
	if r.flushed == len(r.events) {
		r.mu.Unlock()
		return nil
	}
	events := slices.Clone(r.events)
	r.mu.Unlock()
	if err := s.put(ctx, layout.Execution(name, "history.json"), history{Events: events}); err != nil {
		return err
	}
	r.mu.Lock()
	r.flushed = max(r.flushed, len(events))
	r.mu.Unlock()
	return nil
}

type history struct {
	Events []asl.Event `json:"events"`
}

// List returns the stored executions, newest first. A RUNNING one that is
// dead is marked ABORTED on the way.
func (s *Store) List(ctx context.Context) ([]asl.Execution, error) {
	var out []asl.Execution
	for info, err := range s.lake.List(ctx, Prefix) {
		if err != nil {
			return nil, fmt.Errorf("execstore: listing executions: %w", err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, Prefix), "/execution.json")
		if !ok {
			continue
		}
		var e asl.Execution
		if _, err := s.get(ctx, info.Key, &e); err != nil {
			return nil, err
		}
		if e.Status == asl.StatusRunning {
			if ended, err := s.check(ctx, name); err != nil {
				return nil, err
			} else if ended != nil {
				e = *ended
			}
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b asl.Execution) int { return b.StartDate.Compare(a.StartDate) })
	return out, nil
}

// Load returns a stored execution and its history: all of it once the
// execution has ended; while it runs, what this process has recorded so
// far, or else what its owner last wrote. A dead execution is marked
// ABORTED first.
func (s *Store) Load(ctx context.Context, name string) (*asl.Execution, []asl.Event, error) {
	if !asl.ValidName(name) {
		return nil, nil, fmt.Errorf("execstore: execution %q: %w", name, ErrNoExecution)
	}
	if e, events, ok := s.liveCopy(name); ok {
		return e, events, nil
	}
	e, events, err := s.read(ctx, name, false)
	if err != nil || e.Status != asl.StatusRunning {
		return e, events, err
	}
	ended, err := s.check(ctx, name)
	if err != nil || ended == nil {
		return e, events, err
	}
	_, events, err = s.read(ctx, name, true)
	return ended, events, err
}

// liveCopy returns what this process holds of a running execution.
func (s *Store) liveCopy(name string) (*asl.Execution, []asl.Event, bool) {
	s.mu.Lock()
	r := s.live[name]
	s.mu.Unlock()
	if r == nil {
		return nil, nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.exec
	return &e, slices.Clone(r.events), true
}

// read reads an execution and its history (nil when history.json does not
// exist, or, with historyOnly, when neither does).
func (s *Store) read(ctx context.Context, name string, historyOnly bool) (*asl.Execution, []asl.Event, error) {
	var e asl.Execution
	if !historyOnly {
		ok, err := s.get(ctx, layout.Execution(name, "execution.json"), &e)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, fmt.Errorf("execstore: execution %q: %w", name, ErrNoExecution)
		}
	}
	var h history
	if _, err := s.get(ctx, layout.Execution(name, "history.json"), &h); err != nil {
		return nil, nil, err
	}
	return &e, h.Events, nil
}

// Reap checks every execution that holds a lease and marks the dead ones
// ABORTED; it returns them. Stale leases of executions that ended are
// removed.
func (s *Store) Reap(ctx context.Context) ([]asl.Execution, error) {
	var names []string
	for info, err := range s.lake.List(ctx, LeasePrefix) {
		if err != nil {
			return nil, fmt.Errorf("execstore: listing leases: %w", err)
		}
		if name, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, LeasePrefix), ".json"); ok {
			names = append(names, name)
		}
	}
	var out []asl.Execution
	for _, name := range names {
		ended, err := s.check(ctx, name)
		if err != nil {
			return out, err
		}
		if ended != nil {
			out = append(out, *ended)
		}
	}
	return out, nil
}

// check looks at execution name: if it is RUNNING and dead it marks it
// ABORTED and returns it; if it has ended it removes a lease left behind.
// It returns nil for an execution still running (or not stored).
func (s *Store) check(ctx context.Context, name string) (*asl.Execution, error) {
	for {
		rc, info, err := s.lake.Get(ctx, layout.Execution(name, "execution.json"))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("execstore: reading execution %s: %w", name, err)
		}
		var e asl.Execution
		err = json.NewDecoder(rc).Decode(&e)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("execstore: decoding execution %s: %w", name, err)
		}
		var lease *Lease
		var l Lease
		if ok, err := s.get(ctx, layout.ExecutionLease(name), &l); err != nil {
			return nil, err
		} else if ok {
			lease = &l
		}
		if e.Status != asl.StatusRunning {
			if lease != nil {
				return nil, s.lake.Delete(ctx, layout.ExecutionLease(name))
			}
			return nil, nil
		}
		reason := s.dead(name, lease)
		if reason == "" {
			return nil, nil
		}
		ended, err := s.abandon(ctx, &e, info.ETag, reason)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // its owner wrote meanwhile: look again
		}
		return ended, err
	}
}

// dead says why execution name, RUNNING with lease, is dead, or "" if it
// may still be running.
func (s *Store) dead(name string, lease *Lease) string {
	now := s.now().UTC()
	switch {
	case lease == nil:
		return "it holds no lease (it was started by an older lake, or its lease was lost)"
	case lease.Owner.ID == s.owner.ID:
		s.mu.Lock()
		_, mine := s.live[name]
		s.mu.Unlock()
		if !mine {
			return fmt.Sprintf("this process (pid %d on %s) started it but is no longer running it: writing its end failed", lease.Owner.PID, lease.Owner.Host)
		}
	case lease.Owner.Host == s.owner.Host && lease.Owner.PIDNS == s.owner.PIDNS && lease.Owner.PIDNS != "" && !processExists(lease.Owner.PID):
		return fmt.Sprintf("the process running it (pid %d on %s) no longer exists; it last renewed its lease at %s",
			lease.Owner.PID, lease.Owner.Host, lease.Renewed.Format(time.RFC3339))
	case now.After(lease.Expires):
		return fmt.Sprintf("its lease, held by pid %d on %s, expired at %s (last renewed at %s): that process died, hung or lost access to the lake",
			lease.Owner.PID, lease.Owner.Host, lease.Expires.Format(time.RFC3339), lease.Renewed.Format(time.RFC3339))
	}
	return ""
}

// processExists reports whether a process with this pid exists (in this
// PID namespace).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// abandon marks e, read with etag, ABORTED because of reason, and ends its
// history with an ExecutionAborted event. The write is conditional on
// etag, so an owner that writes meanwhile wins (ErrPreconditionFailed).
func (s *Store) abandon(ctx context.Context, e *asl.Execution, etag, reason string) (*asl.Execution, error) {
	now := s.now().UTC()
	ended := *e
	ended.Status, ended.StopDate, ended.Error = asl.StatusAborted, &now, AbandonedError
	ended.Cause = fmt.Sprintf("The execution was abandoned: %s. %s found it at %s and marked it ABORTED; its history ends with the last events its owner wrote.",
		reason, s.finder, now.Format(time.RFC3339))
	_, events, err := s.read(ctx, e.Name, true)
	if err != nil {
		return nil, err
	}
	var last int64
	if n := len(events); n > 0 {
		last = events[n-1].ID
	}
	if n := len(events); n == 0 || !asl.EndsExecution(events[n-1].Type) {
		events = append(events, asl.Event{ID: last + 1, PreviousEventID: last, Timestamp: now, Type: "ExecutionAborted",
			Details: &asl.EventDetails{Error: ended.Error, Cause: ended.Cause}})
	}
	if err := s.put(ctx, Prefix+e.Name+"/history.json", history{Events: events}); err != nil {
		return nil, err
	}
	if err := s.putIf(ctx, Prefix+e.Name+"/execution.json", &ended, etag); err != nil {
		return nil, err
	}
	if err := s.lake.Delete(ctx, LeasePrefix+e.Name+".json"); err != nil {
		return nil, fmt.Errorf("execstore: removing the lease of %s: %w", e.Name, err)
	}
	return &ended, nil
}

func (s *Store) put(ctx context.Context, key string, v any) error { return s.putIf(ctx, key, v, "") }

// putIf writes v at key as one line of JSON (the JSON Lines form Athena's
// JSON SerDe reads), only over the object with etag when etag is set.
func (s *Store) putIf(ctx context.Context, key string, v any, etag string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("execstore: encoding %s: %w", key, err)
	}
	b = append(b, '\n')
	if _, err := s.lake.Put(ctx, key, bytes.NewReader(b), &store.PutOptions{ContentType: "application/json", IfMatch: etag}); err != nil {
		return fmt.Errorf("execstore: writing %s: %w", key, err)
	}
	return nil
}

// get reads the JSON at key into v; false if it does not exist.
func (s *Store) get(ctx context.Context, key string, v any) (bool, error) {
	rc, _, err := s.lake.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("execstore: reading %s: %w", key, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(v); err != nil {
		return false, fmt.Errorf("execstore: decoding %s: %w", key, err)
	}
	return true, nil
}
