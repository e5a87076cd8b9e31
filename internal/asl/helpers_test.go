package asl

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// t0 is the fake clock's start in every test.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// testMachine loads def with a fake clock and a seeded random source.
func testMachine(t testing.TB, def string, handlers map[string]Handler) (*Machine, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(t0)
	m, err := Load([]byte(def), Options{Name: "test", Handlers: handlers, Clock: clock, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m, clock
}

// runDef runs def on input and returns the execution and its history.
func runDef(t testing.TB, def string, handlers map[string]Handler, input string) (*Execution, []Event) {
	t.Helper()
	m, _ := testMachine(t, def, handlers)
	return runMachine(t, m, input)
}

func runMachine(t testing.TB, m *Machine, input string) (*Execution, []Event) {
	t.Helper()
	rec := &MemoryRecorder{}
	ex, err := m.Run(context.Background(), json.RawMessage(input), RunOptions{Name: "exec", Recorder: rec})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return ex, rec.Events("exec")
}

// wantOutput fails t unless ex succeeded with output equal (as JSON,
// whatever the order of object members) to want.
func wantOutput(t testing.TB, ex *Execution, want string) {
	t.Helper()
	if ex.Status != StatusSucceeded {
		t.Fatalf("status=%s error=%s cause=%s, want SUCCEEDED", ex.Status, ex.Error, ex.Cause)
	}
	if !sameJSON(t, string(ex.Output), want) {
		t.Fatalf("output=%s\nwant %s", ex.Output, want)
	}
}

// wantFailure fails t unless ex failed with error name errName and a cause
// containing cause.
func wantFailure(t testing.TB, ex *Execution, errName, cause string) {
	t.Helper()
	if ex.Status != StatusFailed || ex.Error != errName || !strings.Contains(ex.Cause, cause) {
		t.Fatalf("status=%s error=%q cause=%q, want FAILED %q with cause containing %q", ex.Status, ex.Error, ex.Cause, errName, cause)
	}
}

func sameJSON(t testing.TB, a, b string) bool {
	t.Helper()
	va, err := decodeJSON([]byte(a))
	if err != nil {
		t.Fatalf("not JSON: %s: %v", a, err)
	}
	vb, err := decodeJSON([]byte(b))
	if err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	return string(canonicalJSON(va)) == string(canonicalJSON(vb))
}

// wantExactOutput fails t unless ex succeeded with output want, byte for
// byte: object members in want's order.
func wantExactOutput(t testing.TB, ex *Execution, want string) {
	t.Helper()
	if ex.Status != StatusSucceeded {
		t.Fatalf("status=%s error=%s cause=%s, want SUCCEEDED", ex.Status, ex.Error, ex.Cause)
	}
	if got := string(ex.Output); got != want {
		t.Fatalf("output=%s\nwant   %s", got, want)
	}
}

// echo returns its input.
func echo(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }

// constant returns a handler that returns out.
func constant(out string) Handler {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(out), nil }
}

// eventTypes lists the types of events.
func eventTypes(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// SourceUnavailableError stands for a named error a task returns.
type SourceUnavailableError struct{ Host string }

func (e *SourceUnavailableError) Error() string { return "source " + e.Host + " is unavailable" }
