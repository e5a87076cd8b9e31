package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/medallionlake/lake/internal/store"
)

// ExecutionsPrefix is where StoreRecorder keeps executions in the lake:
// <prefix><name>/execution.json (as DescribeExecution) and
// <prefix><name>/history.json (as GetExecutionHistory: {"events": [...]}).
const ExecutionsPrefix = "_meta/executions/"

// StoreRecorder stores executions and their histories in the lake. The
// execution is written when it starts (RUNNING) and again, with its
// history, when it ends; the history is held in memory until then.
type StoreRecorder struct {
	st store.Store

	mu     sync.Mutex
	events map[string][]Event
}

// NewStoreRecorder returns a recorder that writes to st.
func NewStoreRecorder(st store.Store) *StoreRecorder {
	return &StoreRecorder{st: st, events: map[string][]Event{}}
}

var _ Recorder = (*StoreRecorder)(nil)
var _ Recorder = (*MemoryRecorder)(nil)

// Record buffers ev and writes the execution on its first and last event.
func (r *StoreRecorder) Record(ctx context.Context, exec *Execution, ev Event) error {
	r.mu.Lock()
	r.events[exec.Name] = append(r.events[exec.Name], ev)
	var history []Event
	if isTerminal(ev.Type) {
		history = r.events[exec.Name]
		delete(r.events, exec.Name)
	}
	r.mu.Unlock()
	if history != nil {
		if err := r.put(ctx, exec.Name, "history.json", map[string]any{"events": history}); err != nil {
			return err
		}
	}
	if ev.Type == "ExecutionStarted" || history != nil {
		return r.put(ctx, exec.Name, "execution.json", exec)
	}
	return nil
}

func (r *StoreRecorder) put(ctx context.Context, name, file string, v any) error {
	b, err := jsonLine(v)
	if err != nil {
		return fmt.Errorf("asl: encoding %s of execution %s: %w", file, name, err)
	}
	key := ExecutionsPrefix + name + "/" + file
	if _, err := r.st.Put(ctx, key, bytes.NewReader(b), &store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("asl: storing %s: %w", key, err)
	}
	return nil
}

// ListExecutions returns the executions stored under ExecutionsPrefix,
// newest first.
func ListExecutions(ctx context.Context, st store.Store) ([]Execution, error) {
	var out []Execution
	for info, err := range st.List(ctx, ExecutionsPrefix) {
		if err != nil {
			return nil, fmt.Errorf("asl: listing executions: %w", err)
		}
		if !strings.HasSuffix(info.Key, "/execution.json") {
			continue
		}
		var e Execution
		if err := getJSON(ctx, st, info.Key, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Execution) int { return b.StartDate.Compare(a.StartDate) })
	return out, nil
}

// ErrNoExecution is returned (wrapped) by LoadExecution for an execution
// that is not stored.
var ErrNoExecution = errors.New("no such execution")

// LoadExecution reads a stored execution and its history (empty while it
// is still running).
func LoadExecution(ctx context.Context, st store.Store, name string) (*Execution, []Event, error) {
	if !executionName.MatchString(name) {
		return nil, nil, fmt.Errorf("asl: execution %q: %w", name, ErrNoExecution)
	}
	var e Execution
	if err := getJSON(ctx, st, ExecutionsPrefix+name+"/execution.json", &e); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("asl: execution %q: %w", name, ErrNoExecution)
		}
		return nil, nil, err
	}
	if e.Status == StatusRunning {
		return &e, nil, nil
	}
	var h struct {
		Events []Event `json:"events"`
	}
	if err := getJSON(ctx, st, ExecutionsPrefix+name+"/history.json", &h); err != nil {
		return nil, nil, err
	}
	return &e, h.Events, nil
}

func getJSON(ctx context.Context, st store.Store, key string, v any) error {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("asl: reading %s: %w", key, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(v); err != nil {
		return fmt.Errorf("asl: decoding %s: %w", key, err)
	}
	return nil
}

// jsonLine encodes v on one line ending in a newline: the JSON Lines form
// that Athena's JSON SerDe reads (execution.json is the meta.executions
// table's record).
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}
