package asl

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
)

// TestRedrive fails an execution in its second task, then redrives it:
// the first task does not run again, the second gets the input it had,
// and the history goes on after an ExecutionRedriven event.
func TestRedrive(t *testing.T) {
	def := `{"StartAt":"First","States":{
		"First":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:first","ResultPath":"$.first","Next":"Second"},
		"Second":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:second","ResultPath":"$.second","End":true}}}`
	var firstCalls, secondCalls atomic.Int32
	var secondInputs []string
	handlers := map[string]Handler{
		"first": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			firstCalls.Add(1)
			return json.RawMessage(`"one"`), nil
		},
		"second": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			secondInputs = append(secondInputs, string(in))
			if secondCalls.Add(1) == 1 {
				return nil, &SourceUnavailableError{Host: "db"}
			}
			return json.RawMessage(`"two"`), nil
		},
	}
	m, _ := testMachine(t, def, handlers)
	failed, history := runMachine(t, m, `{"k":1}`)
	wantFailure(t, failed, "SourceUnavailableError", "source db is unavailable")

	rec := &MemoryRecorder{}
	ex, err := m.Redrive(context.Background(), failed, history, RunOptions{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	wantExactOutput(t, ex, `{"k":1,"first":"one","second":"two"}`)
	if got, want := ex.RedriveCount, 1; got != want {
		t.Errorf("RedriveCount=%d, want %d", got, want)
	}
	if ex.ExecutionARN != failed.ExecutionARN || ex.Name != failed.Name || ex.RedriveDate == nil {
		t.Errorf("redriven execution %+v, want the same name and ARN as %+v and a RedriveDate", ex, failed)
	}
	if got := firstCalls.Load(); got != 1 {
		t.Errorf("the first task ran %d times, want once (redrive starts at the failed state)", got)
	}
	if len(secondInputs) != 2 || secondInputs[0] != secondInputs[1] {
		t.Errorf("second task inputs=%v, want the same input twice", secondInputs)
	}
	events := rec.Events(failed.Name)
	last := history[len(history)-1]
	if first := events[0]; first.Type != "ExecutionRedriven" || first.ID != last.ID+1 || first.PreviousEventID != last.ID ||
		first.Details == nil || first.Details.RedriveCount == nil || *first.Details.RedriveCount != 1 {
		t.Fatalf("first redrive event=%+v, want ExecutionRedriven #%d after #%d with redriveCount 1", first, last.ID+1, last.ID)
	}
	if got := eventTypes(events)[1]; got != "TaskStateEntered" {
		t.Errorf("event after ExecutionRedriven=%s, want TaskStateEntered", got)
	}
	if got := events[len(events)-1].Type; got != "ExecutionSucceeded" {
		t.Errorf("last event=%s, want ExecutionSucceeded", got)
	}

	var nr *NotRedrivableError
	if _, err := m.Redrive(context.Background(), ex, append(history, events...), RunOptions{}); !errors.As(err, &nr) {
		t.Fatalf("redriving a SUCCEEDED execution: err=%v, want a NotRedrivableError", err)
	}
}

// TestStop stops a running execution with a Stopped cause, as
// StopExecution does.
func TestStop(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:block","End":true}}}`
	started := make(chan struct{})
	block := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	m, _ := testMachine(t, def, map[string]Handler{"block": block})
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		<-started
		cancel(&Stopped{Err: "Operator", Cause: "stopped by hand"})
	}()
	rec := &MemoryRecorder{}
	ex, err := m.Run(ctx, json.RawMessage(`{}`), RunOptions{Name: "s", Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != StatusAborted || ex.Error != "Operator" || ex.Cause != "stopped by hand" {
		t.Fatalf("execution=%+v, want ABORTED with Operator: stopped by hand", ex)
	}
	events := rec.Events("s")
	if last := events[len(events)-1]; last.Type != "ExecutionAborted" {
		t.Fatalf("last event=%s, want ExecutionAborted", last.Type)
	}
}
