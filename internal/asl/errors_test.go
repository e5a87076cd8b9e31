package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// failing returns a handler that fails with errs[i] on call i and then
// returns out.
func failing(calls *atomic.Int32, out string, errs ...error) Handler {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) {
		i := int(calls.Add(1)) - 1
		if i < len(errs) {
			return nil, errs[i]
		}
		return json.RawMessage(out), nil
	}
}

type plainError string

func (e plainError) Error() string { return string(e) }

func TestErrorName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&SourceUnavailableError{Host: "db"}, "SourceUnavailableError"},
		{plainError("x"), "plainError"},
		{errors.New("x"), "errorString"},
		{fmt.Errorf("wrapped: %w", &SourceUnavailableError{}), "wrapError"},
		{messages.InvokeResponse_Error{Type: "Lambda.ServiceException", Message: "m"}, "Lambda.ServiceException"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := ErrorName(tt.err); got != tt.want {
				t.Fatalf("ErrorName(%#v)=%q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// taskDef is a Task state with fields, and a state "Caught" when fields
// catch into it.
func taskDef(fields string) string {
	caught := ""
	if strings.Contains(fields, `"Caught"`) {
		caught = `,"Caught":{"Type":"Pass","End":true}`
	}
	return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:fn"` + fields + `,"End":true}` + caught + `}}`
}

func TestRetryTiming(t *testing.T) {
	unavailable := &SourceUnavailableError{Host: "db"}
	tests := []struct {
		description string
		retry       string
		failures    int
		seed        uint64
		wantSleeps  []time.Duration
		wantStatus  string
	}{
		{"defaults: 1s, backoff 2, 3 attempts", `{"ErrorEquals":["SourceUnavailableError"]}`, 3, 0,
			[]time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second}, StatusSucceeded},
		{"attempts exhausted", `{"ErrorEquals":["SourceUnavailableError"],"MaxAttempts":2}`, 3, 0,
			[]time.Duration{1 * time.Second, 2 * time.Second}, StatusFailed},
		{"MaxAttempts 0 never retries", `{"ErrorEquals":["SourceUnavailableError"],"MaxAttempts":0}`, 1, 0,
			nil, StatusFailed},
		{"interval and backoff", `{"ErrorEquals":["SourceUnavailableError"],"IntervalSeconds":3,"BackoffRate":1.5,"MaxAttempts":4}`, 4, 0,
			[]time.Duration{3 * time.Second, 4500 * time.Millisecond, 6750 * time.Millisecond, 10125 * time.Millisecond}, StatusSucceeded},
		{"MaxDelaySeconds caps the interval", `{"ErrorEquals":["SourceUnavailableError"],"IntervalSeconds":2,"MaxAttempts":5,"MaxDelaySeconds":5}`, 5, 0,
			[]time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}, StatusSucceeded},
		{"States.ALL matches a named error", `{"ErrorEquals":["States.ALL"],"MaxAttempts":1}`, 1, 0,
			[]time.Duration{time.Second}, StatusSucceeded},
		{"States.TaskFailed matches a named error", `{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}`, 1, 0,
			[]time.Duration{time.Second}, StatusSucceeded},
		{"only the first matching retrier applies", `{"ErrorEquals":["SourceUnavailableError"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}`, 2, 0,
			[]time.Duration{time.Second}, StatusFailed},
		{"a non-matching retrier is skipped", `{"ErrorEquals":["OtherError"],"MaxAttempts":5,"IntervalSeconds":9},{"ErrorEquals":["SourceUnavailableError"],"MaxAttempts":1}`, 1, 0,
			[]time.Duration{time.Second}, StatusSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			var calls atomic.Int32
			errs := make([]error, tt.failures)
			for i := range errs {
				errs[i] = unavailable
			}
			m, clock := testMachine(t, taskDef(`,"Retry":[`+tt.retry+`]`), map[string]Handler{"fn": failing(&calls, `"ok"`, errs...)})
			ex, _ := runMachine(t, m, `{}`)
			if ex.Status != tt.wantStatus {
				t.Fatalf("status=%s (%s: %s), want %s", ex.Status, ex.Error, ex.Cause, tt.wantStatus)
			}
			if got := clock.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Fatalf("sleeps=%v, want %v", got, tt.wantSleeps)
			}
			if tt.wantStatus == StatusFailed {
				wantFailure(t, ex, "SourceUnavailableError", `{"errorMessage":"source db is unavailable","errorType":"SourceUnavailableError"}`)
			}
		})
	}
}

func TestRetryFullJitter(t *testing.T) {
	def := taskDef(`,"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":4,"MaxAttempts":3,"JitterStrategy":"FULL"}]`)
	e := &SourceUnavailableError{}
	var calls atomic.Int32
	m, clock := testMachine(t, def, map[string]Handler{"fn": failing(&calls, `1`, e, e, e)})
	ex, _ := runMachine(t, m, `{}`)
	wantOutput(t, ex, `1`)
	// The same seed (testMachine's PCG(1, 2)) draws the same fractions.
	r := rand.New(rand.NewPCG(1, 2))
	var want []time.Duration
	for _, base := range []float64{4, 8, 16} {
		want = append(want, time.Duration(base*r.Float64()*float64(time.Second)))
	}
	if got := clock.Sleeps(); !slices.Equal(got, want) {
		t.Fatalf("sleeps=%v, want %v", got, want)
	}
	for i, d := range clock.Sleeps() {
		if d >= time.Duration([]float64{4, 8, 16}[i])*time.Second {
			t.Fatalf("sleep %d = %v, want below its unjittered delay", i, d)
		}
	}
}

// TestRetryCountersResetPerVisit loops through a state twice: each visit
// gets its full MaxAttempts, and $$.State.RetryCount starts at 0.
func TestRetryCountersResetPerVisit(t *testing.T) {
	def := `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:fn","Parameters":{"retry.$":"$$.State.RetryCount"},"ResultPath":"$.last","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":1}],"Next":"Again"},
		"Again":{"Type":"Choice","Choices":[{"Variable":"$.round","IsPresent":false,"Next":"Mark"}],"Default":"Done"},
		"Mark":{"Type":"Pass","Result":2,"ResultPath":"$.round","Next":"T"},
		"Done":{"Type":"Succeed"}}}`
	var calls atomic.Int32
	var seen []string
	fn := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		seen = append(seen, string(in))
		if calls.Add(1)%2 == 1 {
			return nil, plainError("flaky")
		}
		return in, nil
	}
	ex, _ := runDef(t, def, map[string]Handler{"fn": fn}, `{}`)
	wantOutput(t, ex, `{"round":2,"last":{"retry":1}}`)
	if want := []string{`{"retry":0}`, `{"retry":1}`, `{"retry":0}`, `{"retry":1}`}; !slices.Equal(seen, want) {
		t.Fatalf("task inputs=%v, want %v", seen, want)
	}
}

func TestCatch(t *testing.T) {
	unavailable := &SourceUnavailableError{Host: "db"}
	tests := []struct {
		description string
		fields      string
		err         error
		want        string
	}{
		{"error object replaces the output by default", `,"Catch":[{"ErrorEquals":["SourceUnavailableError"],"Next":"Caught"}]`, unavailable,
			`{"Error":"SourceUnavailableError","Cause":"{\"errorMessage\":\"source db is unavailable\",\"errorType\":\"SourceUnavailableError\"}"}`},
		{"ResultPath applies to the raw input", `,"InputPath":"$.sub","Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Caught"}]`, plainError("boom"),
			`{"in":1,"sub":{},"error":{"Error":"plainError","Cause":"{\"errorMessage\":\"boom\",\"errorType\":\"plainError\"}"}}`},
		{"catchers are tried in order", `,"Catch":[{"ErrorEquals":["Other"],"Next":"T"},{"ErrorEquals":["States.TaskFailed"],"ResultPath":null,"Next":"Caught"},{"ErrorEquals":["States.ALL"],"Next":"T"}]`, plainError("boom"),
			`{"in":1,"sub":{}}`},
		{"retries happen before the catch", `,"Retry":[{"ErrorEquals":["plainError"],"MaxAttempts":2}],"Catch":[{"ErrorEquals":["plainError"],"ResultPath":"$.e","Next":"Caught"}]`, plainError("boom"),
			`{"in":1,"sub":{},"e":{"Error":"plainError","Cause":"{\"errorMessage\":\"boom\",\"errorType\":\"plainError\"}"}}`},
		{"a panic is reported like Lambda reports it", `,"Catch":[{"ErrorEquals":["string"],"Next":"Caught"}]`, nil,
			`{"Error":"string","Cause":"{\"errorMessage\":\"oops\",\"errorType\":\"string\"}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			fn := func(context.Context, json.RawMessage) (json.RawMessage, error) {
				if tt.err == nil {
					panic("oops")
				}
				return nil, tt.err
			}
			ex, _ := runDef(t, taskDef(tt.fields), map[string]Handler{"fn": fn}, `{"in":1,"sub":{}}`)
			wantOutput(t, ex, tt.want)
		})
	}
}

func TestRetryCatchDocDefinition(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/retry-catch.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	fails := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &SourceUnavailableError{Host: "db"}
	}
	m, clock := testMachine(t, string(def), map[string]Handler{"Fails": fails})
	ex, events := runMachine(t, m, `{"table":"orders"}`)
	wantFailure(t, ex, "SourceUnavailableError", `ingest failed: {"errorMessage":"source db is unavailable","errorType":"SourceUnavailableError"}`)
	if got, want := clock.Sleeps(), []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("sleeps=%v, want %v", got, want)
	}
	n := 0
	for _, e := range events {
		if e.Type == "LambdaFunctionFailed" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d LambdaFunctionFailed events, want 4 (1 + 3 retries)", n)
	}
}

func TestTaskTimeout(t *testing.T) {
	var clock *FakeClock
	slow := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		clock.Advance(31 * time.Second)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tests := []struct {
		description string
		fields      string
		wantOut     string
		wantErr     string
	}{
		{"fails with States.Timeout", `,"TimeoutSeconds":30`, "", ErrTimeout},
		{"States.TaskFailed does not catch States.Timeout", `,"TimeoutSeconds":30,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}]`, "", ErrTimeout},
		{"States.Timeout catches it", `,"TimeoutSeconds":30,"Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.e","Next":"Caught"}]`,
			`{"e":{"Error":"States.Timeout","Cause":"The task did not finish within its TimeoutSeconds (30)."}}`, ""},
		{"within the timeout", `,"TimeoutSeconds":60`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			h := slow
			if tt.wantErr == "" && tt.wantOut == "" {
				h = func(context.Context, json.RawMessage) (json.RawMessage, error) {
					clock.Advance(31 * time.Second)
					return json.RawMessage(`"done"`), nil
				}
			}
			var m *Machine
			m, clock = testMachine(t, taskDef(tt.fields), map[string]Handler{"fn": h})
			ex, events := runMachine(t, m, `{}`)
			switch {
			case tt.wantErr != "":
				wantFailure(t, ex, tt.wantErr, "TimeoutSeconds (30)")
				if !slices.Contains(eventTypes(events), "LambdaFunctionTimedOut") {
					t.Fatalf("events %v lack LambdaFunctionTimedOut", eventTypes(events))
				}
			case tt.wantOut != "":
				wantOutput(t, ex, tt.wantOut)
			default:
				wantOutput(t, ex, `"done"`)
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	var clock *FakeClock
	tests := []struct {
		description string
		beats       []time.Duration // advance, then heartbeat
		wantErr     string
	}{
		{"heartbeats keep the task alive", []time.Duration{8 * time.Second, 8 * time.Second, 8 * time.Second}, ""},
		{"a missed heartbeat fails the task", []time.Duration{8 * time.Second, 11 * time.Second}, ErrHeartbeatTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			h := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				for _, d := range tt.beats {
					clock.Advance(d)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					Heartbeat(ctx)
				}
				return json.RawMessage(`"done"`), nil
			}
			var m *Machine
			m, clock = testMachine(t, taskDef(`,"TimeoutSeconds":100,"HeartbeatSeconds":10,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}]`), map[string]Handler{"fn": h})
			ex, _ := runMachine(t, m, `{}`)
			if tt.wantErr == "" {
				wantOutput(t, ex, `"done"`)
				return
			}
			wantFailure(t, ex, tt.wantErr, "no heartbeat for 10 seconds")
		})
	}
}

func TestExecutionTimeout(t *testing.T) {
	def := `{"TimeoutSeconds":5,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"Next":"P"},"P":{"Type":"Pass","End":true}}}`
	m, _ := testMachine(t, def, nil)
	ex, events := runMachine(t, m, `{}`)
	if ex.Status != StatusTimedOut || ex.Error != ErrTimeout {
		t.Fatalf("status=%s error=%s, want TIMED_OUT States.Timeout", ex.Status, ex.Error)
	}
	if got := events[len(events)-1].Type; got != "ExecutionTimedOut" {
		t.Fatalf("last event %s, want ExecutionTimedOut", got)
	}
}

func TestFailState(t *testing.T) {
	tests := []struct {
		description string
		fields      string
		errName     string
		cause       string
	}{
		{"static", `"Error":"ErrorA","Cause":"Kaiju attack"`, "ErrorA", "Kaiju attack"},
		{"paths", `"ErrorPath":"$.e","CausePath":"$.c"`, "FromInput", "because"},
		{"intrinsic", `"Error":"E","CausePath":"States.Format('table {} failed', $.t)"`, "E", "table orders failed"},
		{"path to a non-string", `"ErrorPath":"$.n"`, ErrRuntime, "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			def := `{"StartAt":"F","States":{"F":{"Type":"Fail",` + tt.fields + `}}}`
			ex, _ := runDef(t, def, nil, `{"e":"FromInput","c":"because","t":"orders","n":1}`)
			wantFailure(t, ex, tt.errName, tt.cause)
		})
	}
}

func TestExecutionAborted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := func(hctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		cancel()
		<-hctx.Done()
		return nil, hctx.Err()
	}
	m, _ := testMachine(t, taskDef(``), map[string]Handler{"fn": block})
	rec := &MemoryRecorder{}
	ex, err := m.Run(ctx, json.RawMessage(`{}`), RunOptions{Name: "stopped", Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != StatusAborted {
		t.Fatalf("status=%s, want ABORTED", ex.Status)
	}
	events := rec.Events("stopped")
	if got := events[len(events)-1].Type; got != "ExecutionAborted" {
		t.Fatalf("last event %s, want ExecutionAborted", got)
	}
}
