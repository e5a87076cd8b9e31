package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Event is one entry of an execution's history, shaped like the
// HistoryEvent of Step Functions' GetExecutionHistory: its details sit
// under a key named for the type (stateEnteredEventDetails,
// taskFailedEventDetails, ...).
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	Details         *EventDetails // nil for types that carry none
}

// EventDetails holds the fields of every event type's details; each type
// uses a subset. Input, output and parameters are JSON text, as in AWS.
type EventDetails struct {
	Name               string `json:"name,omitempty"`
	Input              string `json:"input,omitempty"`
	Output             string `json:"output,omitempty"`
	Error              string `json:"error,omitempty"`
	Cause              string `json:"cause,omitempty"`
	Resource           string `json:"resource,omitempty"`
	ResourceType       string `json:"resourceType,omitempty"`
	Region             string `json:"region,omitempty"`
	Parameters         string `json:"parameters,omitempty"`
	Index              *int   `json:"index,omitempty"`
	Length             *int   `json:"length,omitempty"`
	TimeoutInSeconds   int64  `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds int64  `json:"heartbeatInSeconds,omitempty"`
	RoleArn            string `json:"roleArn,omitempty"`
	RedriveCount       *int   `json:"redriveCount,omitempty"`
}

// detailsKey is the JSON key of an event type's details.
func detailsKey(typ string) string {
	switch {
	case strings.HasSuffix(typ, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(typ, "StateExited"):
		return "stateExitedEventDetails"
	}
	return strings.ToLower(typ[:1]) + typ[1:] + "EventDetails"
}

type eventJSON struct {
	ID              int64     `json:"id"`
	PreviousEventID int64     `json:"previousEventId"`
	Timestamp       time.Time `json:"timestamp"`
	Type            string    `json:"type"`
}

// MarshalJSON renders the event as GetExecutionHistory does.
func (e Event) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(eventJSON{e.ID, e.PreviousEventID, e.Timestamp.UTC(), e.Type})
	if err != nil || e.Details == nil {
		return head, err
	}
	d, err := marshalJSON(e.Details)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(head[:len(head)-1])
	fmt.Fprintf(&b, ",%q:", detailsKey(e.Type))
	b.Write(d)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var h eventJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	*e = Event{ID: h.ID, PreviousEventID: h.PreviousEventID, Timestamp: h.Timestamp, Type: h.Type}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	if d, ok := all[detailsKey(h.Type)]; ok {
		e.Details = &EventDetails{}
		return json.Unmarshal(d, e.Details)
	}
	return nil
}

// Execution describes one run, like DescribeExecution.
type Execution struct {
	ExecutionARN    string          `json:"executionArn"`
	StateMachineARN string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Status          string          `json:"status"` // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	StartDate       time.Time       `json:"startDate"`
	StopDate        *time.Time      `json:"stopDate,omitempty"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
	RedriveCount    int             `json:"redriveCount,omitempty"`
	RedriveDate     *time.Time      `json:"redriveDate,omitempty"`
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED" // stopped: the caller's context was cancelled
)

// Recorder receives every event of an execution's history, in id order,
// with the execution it belongs to (its Status is final when the last
// event arrives: ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut or
// ExecutionAborted). Record is called from one goroutine at a time per execution.
// An error is returned from Machine.Run once the execution ends.
//
// internal/execstore implements it over the lake; MemoryRecorder keeps
// events in memory.
type Recorder interface {
	Record(ctx context.Context, exec *Execution, ev Event) error
}

// MemoryRecorder keeps the events of the executions it records.
type MemoryRecorder struct {
	mu     sync.Mutex
	events map[string][]Event // by execution name
}

var _ Recorder = (*MemoryRecorder)(nil)

// Record keeps ev.
func (r *MemoryRecorder) Record(_ context.Context, exec *Execution, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		r.events = map[string][]Event{}
	}
	r.events[exec.Name] = append(r.events[exec.Name], ev)
	return nil
}

// Events returns a copy of the history recorded for execution name.
func (r *MemoryRecorder) Events(name string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events[name]...)
}

// EndsExecution reports whether an event type ends an execution:
// ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut or
// ExecutionAborted.
func EndsExecution(typ string) bool {
	switch typ {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted":
		return true
	}
	return false
}
