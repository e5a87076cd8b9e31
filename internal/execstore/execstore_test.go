package execstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
)

func newLake(t *testing.T, dir string) store.Store {
	t.Helper()
	lake, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lake.Close() })
	return lake
}

// machine loads def with handlers, on a fake clock when clock is set.
func machine(t *testing.T, def string, handlers map[string]asl.Handler, clock asl.Clock) *asl.Machine {
	t.Helper()
	m, err := asl.Load([]byte(def), asl.Options{Name: "test", Handlers: handlers, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// both records to each of its recorders.
type both []asl.Recorder

func (rs both) Record(ctx context.Context, exec *asl.Execution, ev asl.Event) error {
	for _, r := range rs {
		if err := r.Record(ctx, exec, ev); err != nil {
			return err
		}
	}
	return nil
}

const failingDef = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:fails",
	"Retry":[{"ErrorEquals":["plainError"],"MaxAttempts":1,"IntervalSeconds":1}],"End":true}}}`

type plainError string

func (e plainError) Error() string { return string(e) }

// TestRecordListLoad stores two executions and reads them back.
func TestRecordListLoad(t *testing.T) {
	ctx := context.Background()
	lake := newLake(t, t.TempDir())
	s := New(lake, Options{})
	clock := asl.NewFakeClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	fails := func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, plainError("boom") }
	mem := &asl.MemoryRecorder{}
	m := machine(t, failingDef, map[string]asl.Handler{"fails": fails}, clock)
	if _, err := m.Run(ctx, json.RawMessage(`{"table":"orders"}`), asl.RunOptions{Name: "first", Recorder: both{s, mem}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	ok := machine(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, nil, clock)
	if _, err := ok.Run(ctx, json.RawMessage(`{"b":1,"a":2}`), asl.RunOptions{Name: "second", Recorder: s}); err != nil {
		t.Fatal(err)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "second" || list[1].Name != "first" {
		t.Fatalf("List = %+v, want second then first", list)
	}
	if got := list[0]; got.Status != asl.StatusSucceeded || string(got.Output) != `{"b":1,"a":2}` {
		t.Fatalf("second = %+v, want SUCCEEDED with output {\"b\":1,\"a\":2}", got)
	}
	exec, events, err := s.Load(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	if exec.Status != asl.StatusFailed || exec.Error != "plainError" {
		t.Fatalf("first = %+v, want FAILED plainError", exec)
	}
	got, _ := json.Marshal(events)
	want, _ := json.Marshal(mem.Events("first"))
	if !bytes.Equal(got, want) {
		t.Fatalf("stored history differs from the recorded one:\n%s\n%s", got, want)
	}
	if leases := keys(t, lake, LeasePrefix); len(leases) != 0 {
		t.Fatalf("leases left after the executions ended: %v", leases)
	}
	if _, _, err := s.Load(ctx, "missing"); !errors.Is(err, ErrNoExecution) {
		t.Fatalf("Load(missing) err=%v, want ErrNoExecution", err)
	}
	if _, _, err := s.Load(ctx, "../x"); !errors.Is(err, ErrNoExecution) {
		t.Fatalf("Load(../x) err=%v, want ErrNoExecution", err)
	}
}

func keys(t *testing.T, lake store.Store, prefix string) []string {
	t.Helper()
	var out []string
	for info, err := range lake.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// blocking is a machine whose task waits until release is closed, and a
// channel closed once the task has started.
func blocking(t *testing.T) (m *asl.Machine, started, release chan struct{}) {
	started, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	block := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		once.Do(func() { close(started) })
		<-release
		return json.RawMessage(`"done"`), nil
	}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:block","End":true}}}`
	return machine(t, def, map[string]asl.Handler{"block": block}, nil), started, release
}

// TestRunningExecution checks what a running execution looks like to the
// process running it and to another one, and that an expired lease makes
// it dead to the other.
func TestRunningExecution(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lake := newLake(t, dir)
	owner := New(lake, Options{TTL: time.Hour})
	m, started, release := blocking(t)
	done := make(chan *asl.Execution, 1)
	go func() {
		ex, err := m.Run(ctx, nil, asl.RunOptions{Name: "slow", Recorder: owner})
		if err != nil {
			t.Error(err)
		}
		done <- ex
	}()
	<-started

	_, events, err := owner.Load(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n < 3 || events[n-1].Type != "LambdaFunctionStarted" {
		t.Fatalf("live history=%v, want it to end with LambdaFunctionStarted", typesOf(events))
	}

	now := time.Now()
	other := New(newLake(t, dir), Options{Finder: "lake executions", Now: func() time.Time { return now }})
	other.owner.Host = "elsewhere" // another machine: only the lease's expiry tells
	e, events, err := other.Load(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != asl.StatusRunning || len(events) == 0 || events[0].Type != "ExecutionStarted" {
		t.Fatalf("to another process: %s with history %v, want RUNNING with the history written so far", e.Status, typesOf(events))
	}

	now = now.Add(2 * time.Hour) // past the lease
	list, err := other.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != asl.StatusAborted || list[0].Error != AbandonedError ||
		!strings.Contains(list[0].Cause, "expired at") || !strings.Contains(list[0].Cause, "lake executions found it") {
		t.Fatalf("after the lease expired: %+v, want ABORTED Lake.ExecutionAbandoned saying the lease expired and who found it", list)
	}
	_, events, err = other.Load(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != "ExecutionAborted" || last.Details == nil || last.Details.Error != AbandonedError || last.ID != events[len(events)-2].ID+1 {
		t.Fatalf("history of the abandoned execution ends with %+v, want an ExecutionAborted event", last)
	}

	// The owner was only slow: it writes the real end when it gets there.
	close(release)
	if ex := <-done; ex.Status != asl.StatusSucceeded {
		t.Fatalf("owner's execution %+v", ex)
	}
	e, _, err = other.Load(ctx, "slow")
	if err != nil || e.Status != asl.StatusSucceeded {
		t.Fatalf("after the owner finished: %+v, %v; want SUCCEEDED", e, err)
	}
}

// TestNoLease marks a RUNNING execution with no lease (left by an older
// lake) ABORTED.
func TestNoLease(t *testing.T) {
	ctx := context.Background()
	lake := newLake(t, t.TempDir())
	s := New(lake, Options{})
	old := asl.Execution{Name: "old", Status: asl.StatusRunning, StartDate: time.Now().UTC(), Input: json.RawMessage(`{}`)}
	if err := s.put(ctx, Prefix+"old/execution.json", old); err != nil {
		t.Fatal(err)
	}
	e, events, err := s.Load(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != asl.StatusAborted || !strings.Contains(e.Cause, "holds no lease") {
		t.Fatalf("execution=%+v, want ABORTED because it holds no lease", e)
	}
	if len(events) != 1 || events[0].Type != "ExecutionAborted" || events[0].ID != 1 {
		t.Fatalf("history=%v, want one ExecutionAborted event", typesOf(events))
	}
}

// TestRedriveContinuesStoredHistory redrives a failed execution through
// the store: its stored history goes on.
func TestRedriveContinuesStoredHistory(t *testing.T) {
	ctx := context.Background()
	lake := newLake(t, t.TempDir())
	s := New(lake, Options{})
	calls := 0
	flaky := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		calls++
		if calls <= 2 {
			return nil, plainError("boom")
		}
		return json.RawMessage(`"ok"`), nil
	}
	m := machine(t, failingDef, map[string]asl.Handler{"fails": flaky}, asl.NewFakeClock(time.Now()))
	failed, err := m.Run(ctx, nil, asl.RunOptions{Name: "r", Recorder: s})
	if err != nil || failed.Status != asl.StatusFailed {
		t.Fatalf("first run: %+v %v", failed, err)
	}
	prior, history, err := s.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Redrive(ctx, prior, history, asl.RunOptions{Recorder: s})
	if err != nil || ex.Status != asl.StatusSucceeded {
		t.Fatalf("redrive: %+v %v", ex, err)
	}
	e, events, err := s.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if e.RedriveCount != 1 || e.Status != asl.StatusSucceeded {
		t.Fatalf("stored execution %+v, want SUCCEEDED with redriveCount 1", e)
	}
	if len(events) <= len(history) || events[len(history)].Type != "ExecutionRedriven" {
		t.Fatalf("stored history %v, want the first run's %d events then ExecutionRedriven", typesOf(events), len(history))
	}
	for i, ev := range events {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has id %d: ids must run on", i, ev.ID)
		}
	}
}

// TestKilledProcess starts an execution in a child process, kills it with
// SIGKILL and checks that the execution is found dead at once (same host:
// the process no longer exists) and marked ABORTED with the reason.
func TestKilledProcess(t *testing.T) {
	if os.Getenv("EXECSTORE_CHILD_LAKE") != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
	cmd.Env = append(os.Environ(), "EXECSTORE_CHILD_LAKE="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "child: started") {
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	s := New(newLake(t, dir), Options{Finder: "lake run"})
	reaped, err := s.Reap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reaped) != 1 || reaped[0].Name != "killed" || reaped[0].Status != asl.StatusAborted ||
		!strings.Contains(reaped[0].Cause, "no longer exists") || !strings.Contains(reaped[0].Cause, "lake run found it") {
		t.Fatalf("Reap = %+v, want the killed execution ABORTED because its process no longer exists", reaped)
	}
	if leases := keys(t, s.lake, LeasePrefix); len(leases) != 0 {
		t.Fatalf("leases left after reaping: %v", leases)
	}
}

// TestChild is the child process of TestKilledProcess: it starts an
// execution that never ends.
func TestChild(t *testing.T) {
	dir := os.Getenv("EXECSTORE_CHILD_LAKE")
	if dir == "" {
		t.Skip("only as the child of TestKilledProcess")
	}
	m, started, _ := blocking(t)
	go func() {
		<-started
		os.Stdout.WriteString("child: started\n")
	}()
	_, _ = m.Run(context.Background(), nil, asl.RunOptions{Name: "killed", Recorder: New(newLake(t, dir), Options{})})
}

func typesOf(events []asl.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}
