package execview

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/asl"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt")

type unavailableError struct{}

func (unavailableError) Error() string { return "source db is unavailable" }

// failTimes returns a handler that fails n times, then succeeds.
func failTimes(n int32) asl.Handler {
	var calls atomic.Int32
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		if calls.Add(1) <= n {
			return nil, unavailableError{}
		}
		return in, nil
	}
}

const retry = `"Retry":[{"ErrorEquals":["unavailableError"],"MaxAttempts":2,"IntervalSeconds":1}]`

func task(fn, rest string) string {
	return `{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:` + fn + `",` + rest + `}`
}

// TestHistory renders histories the interpreter records and compares them
// with testdata/<name>.txt.
func TestHistory(t *testing.T) {
	var clock *asl.FakeClock
	tests := []struct {
		name     string
		def      string
		handlers map[string]asl.Handler
		input    string
		lines    []string // lines the rendering must contain
	}{
		{"retried-then-ok", `{"StartAt":"T","States":{"T":` + task("flaky", retry+`,"End":true`) + `}}`,
			map[string]asl.Handler{"flaky": failTimes(2)}, `{}`,
			[]string{"ok after 2 retries"}},
		{"fail-state", `{"StartAt":"T","States":{"T":` + task("flaky", retry+`,"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Failed"}],"End":true`) + `,
			"Failed":{"Type":"Fail","Error":"IngestFailed","Cause":"see the failure record"}}}`,
			map[string]asl.Handler{"flaky": failTimes(5)}, `{}`,
			[]string{"failed in state: Failed (Fail)", "caught after 2 retries", "IngestFailed: see the failure record"}},
		{"task-fails", `{"StartAt":"T","States":{"T":` + task("flaky", retry+`,"End":true`) + `}}`,
			map[string]asl.Handler{"flaky": failTimes(5)}, `{}`,
			[]string{"failed in state: T (Task)", "failed after 2 retries"}},
		{"map-item-fails", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":1,"ItemProcessor":{"StartAt":"Check","States":{
			"Check":{"Type":"Choice","Choices":[{"Variable":"$","NumericLessThan":2,"Next":"Work"}]},"Work":{"Type":"Pass","End":true}}},"End":true}}}`,
			nil, `{"items":[1,5]}`,
			[]string{"failed in state: [1]Check (Choice)", "States.NoChoiceMatched"}},
		{"timed-out", `{"TimeoutSeconds":5,"StartAt":"T","States":{"T":` + task("slow", `"End":true`) + `}}`,
			map[string]asl.Handler{"slow": func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				clock.Advance(10 * time.Second)
				<-ctx.Done()
				return nil, ctx.Err()
			}}, `{}`,
			[]string{"TIMED_OUT", "timed out in state: T (Task)", "States.Timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = asl.NewFakeClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
			m, err := asl.Load([]byte(tt.def), asl.Options{Name: "test", Handlers: tt.handlers, Clock: clock, Rand: rand.New(rand.NewPCG(1, 2))})
			if err != nil {
				t.Fatal(err)
			}
			rec := &asl.MemoryRecorder{}
			ex, err := m.Run(context.Background(), json.RawMessage(tt.input), asl.RunOptions{Name: tt.name, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, ex, rec.Events(tt.name), tt.lines)
		})
	}
}

// TestAWSHistory renders histories in the shapes Step Functions returns,
// from testdata/<name>.history.json.
func TestAWSHistory(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines []string
	}{
		// A Lambda task retried twice in one Parallel branch while the
		// other branch's task is aborted when the first fails for good.
		{"aws-parallel", []string{"failed in state: Load (Task)", "failed after 2 retries", "Sleep", "aborted", "Lambda.Unknown"}},
		// moto_server's canned failed execution: a Fail state.
		{"moto-failure", []string{"failed in state: A State (Fail)", "AnError: An error occurred!"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.name+".history.json"))
			if err != nil {
				t.Fatal(err)
			}
			var h struct {
				Execution asl.Execution `json:"execution"`
				Events    []asl.Event   `json:"events"`
			}
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, &h.Execution, h.Events, tt.lines)
		})
	}
}

// TestRedriveHistory renders a history that goes on after a redrive.
func TestRedriveHistory(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":` + task("flaky", `"End":true`) + `}}`
	clock := asl.NewFakeClock(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	m, err := asl.Load([]byte(def), asl.Options{Name: "test", Handlers: map[string]asl.Handler{"flaky": failTimes(1)}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	rec := &asl.MemoryRecorder{}
	failed, err := m.Run(context.Background(), nil, asl.RunOptions{Name: "r", Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	ex, err := m.Redrive(context.Background(), failed, rec.Events("r"), asl.RunOptions{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "redriven", ex, rec.Events("r"), []string{"SUCCEEDED", "redriven 1 time(s)", "-- redrive 1", "at 2024-03-01T13:00:00Z"})
}

// golden renders exec and compares the text with testdata/<name>.txt; it
// also checks that it contains lines.
func golden(t *testing.T, name string, exec *asl.Execution, events []asl.Event, lines []string) {
	t.Helper()
	var b bytes.Buffer
	if err := History(&b, exec, events); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, l := range lines {
		if !strings.Contains(got, l) {
			t.Errorf("the rendering lacks %q:\n%s", l, got)
		}
	}
	file := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Fatalf("rendering differs from %s:\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}
