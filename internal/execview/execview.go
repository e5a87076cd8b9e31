// Package execview shows state machine executions to people: a table of
// executions, and one execution's history state by state (each visit of a
// state, its attempts and retries, how it ended, and which state failed
// the execution with what error and cause).
//
// Histories recorded locally (internal/execstore) and those read from
// Step Functions (internal/sfnclient) are both GetExecutionHistory-shaped
// asl.Events and render through the same code. Imported by cmd/lake.
package execview

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medallionlake/lake/internal/asl"
)

// List prints executions as a table, one per line.
func List(w io.Writer, execs []asl.Execution) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tSTARTED\tDURATION\tERROR")
	for _, e := range execs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Status, e.StartDate.UTC().Format(time.RFC3339), duration(e.StartDate, e.StopDate), e.Error)
	}
	return tw.Flush()
}

func duration(start time.Time, stop *time.Time) string {
	if stop == nil {
		return "running"
	}
	return stop.Sub(start).Round(time.Millisecond).String()
}

// Results of a visit.
const (
	resultRunning  = "running"
	resultOK       = "ok"
	resultCaught   = "caught"
	resultFailed   = "failed"
	resultTimedOut = "timed out"
	resultAborted  = "aborted"
)

// visit is one visit of a state, assembled from its events.
type visit struct {
	name, kind string
	path       string // the Map iterations leading to it, e.g. "[0][2]"
	entered    time.Time
	ended      time.Time
	attempts   int      // Task, Map and Parallel attempts
	errors     []string // each failed attempt's "Error: cause"
	lastFailed bool     // its latest attempt failed
	result     string
	failing    bool // the state that failed the execution
	redrive    int  // for the line that marks a redrive: its count
	seq        int  // its place in the history: later visits have higher ones
}

// History prints an execution and its history state by state.
func History(w io.Writer, exec *asl.Execution, events []asl.Event) error {
	fmt.Fprintf(w, "execution %s: %s (started %s, %s)\n", exec.Name, exec.Status, exec.StartDate.UTC().Format(time.RFC3339), duration(exec.StartDate, exec.StopDate))
	visits := visitsOf(events)
	var failing *visit
	for _, v := range visits {
		if v.failing {
			failing = v
			fmt.Fprintf(w, "  %s in state: %s%s (%s)\n", v.result, v.path, v.name, v.kind)
		}
	}
	switch {
	case exec.Error != "":
		fmt.Fprintf(w, "  error: %s\n  cause: %s\n", exec.Error, oneLine(exec.Cause))
	case failing != nil && len(failing.errors) > 0: // DescribeExecution may carry none
		fmt.Fprintf(w, "  error: %s\n", failing.errors[len(failing.errors)-1])
	}
	if exec.RedriveCount > 0 {
		fmt.Fprintf(w, "  redriven %d time(s)\n", exec.RedriveCount)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tTYPE\tATTEMPTS\tRESULT\tDURATION\tERROR")
	for _, v := range visits {
		if v.redrive > 0 {
			fmt.Fprintf(tw, "-- redrive %d\t\t\tat %s\t\t\n", v.redrive, v.entered.UTC().Format(time.RFC3339))
			continue
		}
		attempts := "-"
		if v.attempts > 0 {
			attempts = fmt.Sprint(v.attempts)
		}
		dur := ""
		if !v.ended.IsZero() {
			dur = v.ended.Sub(v.entered).Round(time.Millisecond).String()
		}
		last := ""
		if n := len(v.errors); n > 0 {
			last = v.errors[n-1]
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", v.path, v.name, v.kind, attempts, v.describe(), dur, last)
	}
	return tw.Flush()
}

// describe is the visit's result with its retries.
func (v *visit) describe() string {
	retries := v.attempts - 1
	switch {
	case v.result == resultOK && retries > 0:
		return fmt.Sprintf("ok after %d %s", retries, plural(retries, "retry", "retries"))
	case (v.result == resultFailed || v.result == resultCaught) && retries > 0:
		return fmt.Sprintf("%s after %d %s", v.result, retries, plural(retries, "retry", "retries"))
	}
	return v.result
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// stateNamed finds the state a Step Functions cause names: "... the
// state 'X' ..." or "in state 'X'".
var stateNamed = regexp.MustCompile(`state '([^']+)'`)

// visitsOf assembles the visits of states from a history, in the order
// they were entered. Events are tied to their visit through
// previousEventId; a Map's iterations add their index to the path.
func visitsOf(events []asl.Event) []*visit {
	var (
		visits []*visit
		of     = map[int64]*visit{} // event id -> the visit it belongs to
		pathOf = map[int64]string{} // event id -> Map iteration path
		open   = map[string]*visit{}
	)
	for _, ev := range events {
		d := ev.Details
		if d == nil {
			d = &asl.EventDetails{}
		}
		path := pathOf[ev.PreviousEventID]
		v := of[ev.PreviousEventID]
		typ := ev.Type
		switch {
		case strings.HasSuffix(typ, "StateEntered"):
			v = &visit{name: d.Name, kind: strings.TrimSuffix(typ, "StateEntered"), path: path, entered: ev.Timestamp, result: resultRunning, seq: len(visits)}
			visits = append(visits, v)
			open[path+d.Name] = v
		case strings.HasSuffix(typ, "StateExited"):
			if x := open[path+d.Name]; x != nil {
				v = x
				v.ended = ev.Timestamp
				v.result = resultOK
				if v.lastFailed {
					v.result = resultCaught
				}
				delete(open, path+d.Name)
			}
		case strings.HasSuffix(typ, "StateAborted"):
			if v != nil {
				v.result, v.ended = resultAborted, ev.Timestamp
			}
		case typ == "MapIterationStarted" && d.Index != nil:
			path += fmt.Sprintf("[%d]", *d.Index)
		case strings.HasPrefix(typ, "MapIteration"):
			if i := strings.LastIndexByte(path, '['); i >= 0 {
				path = path[:i]
			}
		case typ == "MapStateStarted" || typ == "ParallelStateStarted":
			v = innermost(open, strings.TrimSuffix(typ, "StateStarted"), path)
			if v != nil {
				v.attempts++
				v.lastFailed = false
			}
		case typ == "MapStateSucceeded" || typ == "ParallelStateSucceeded":
			v = innermost(open, strings.TrimSuffix(typ, "StateSucceeded"), path)
		case typ == "MapStateFailed" || typ == "ParallelStateFailed":
			v = innermost(open, strings.TrimSuffix(typ, "StateFailed"), path)
			v.failed(d)
		case typ == "ExecutionRedriven":
			rc := 1
			if d.RedriveCount != nil {
				rc = *d.RedriveCount
			}
			for _, x := range visits {
				x.failing = false // that failure is what the redrive retries
			}
			visits = append(visits, &visit{redrive: rc, entered: ev.Timestamp})
			open = map[string]*visit{}
			v, path = nil, ""
		case strings.HasPrefix(typ, "Execution") && asl.EndsExecution(typ) && typ != "ExecutionSucceeded":
			settle(open, typ, d)
			open = map[string]*visit{}
		case attemptStart(typ):
			if v != nil {
				v.attempts++
				v.lastFailed = false
			}
		case attemptFailed(typ):
			v.failed(d)
		}
		of[ev.ID] = v
		pathOf[ev.ID] = path
	}
	return visits
}

// failed records that v's latest attempt failed, with the error d gives
// if any (MapStateFailed and ParallelStateFailed carry none in AWS).
func (v *visit) failed(d *asl.EventDetails) {
	if v == nil {
		return
	}
	v.lastFailed = true
	if d.Error != "" || d.Cause != "" {
		v.errors = append(v.errors, errorText(d))
	}
}

// innermost is the latest-entered open visit of kind at or above path.
func innermost(open map[string]*visit, kind, path string) *visit {
	var best *visit
	for _, v := range open {
		if v.kind == kind && strings.HasPrefix(path, v.path) && (best == nil || v.seq > best.seq) {
			best = v
		}
	}
	return best
}

// settle ends the visits still open when an execution ends with typ
// (failed, timed out, aborted): the state that failed it, and those whose
// last attempt failed, get that result; the others were stopped.
func settle(open map[string]*visit, typ string, d *asl.EventDetails) {
	result, stopped := resultFailed, resultAborted
	switch typ {
	case "ExecutionTimedOut":
		result, stopped = resultTimedOut, resultTimedOut
	case "ExecutionAborted":
		result, stopped = resultAborted, resultAborted
	}
	// The failing state: the latest whose last attempt failed with the
	// execution's error, else the one its cause names, else the latest.
	var failing, named, latest *visit
	for _, v := range open {
		if latest == nil || v.seq > latest.seq {
			latest = v
		}
		if m := stateNamed.FindStringSubmatch(d.Cause); m != nil && m[1] == v.name && (named == nil || v.seq > named.seq) {
			named = v
		}
		if n := len(v.errors); v.lastFailed && n > 0 && strings.HasPrefix(v.errors[n-1], d.Error+":") && (failing == nil || v.seq > failing.seq) {
			failing = v
		}
	}
	if failing == nil {
		failing = named
	}
	if failing == nil {
		failing = latest
	}
	for _, v := range open {
		v.result = stopped
		if v.lastFailed || v == failing {
			v.result = result
		}
	}
	if failing != nil && typ != "ExecutionAborted" {
		failing.failing = true
		if len(failing.errors) == 0 || !failing.lastFailed {
			failing.errors = append(failing.errors, errorText(d))
		}
	}
}

// attemptStart reports whether an event starts an attempt of a Task.
func attemptStart(typ string) bool {
	return strings.HasSuffix(typ, "Scheduled") && !strings.HasPrefix(typ, "Execution")
}

// attemptFailed reports whether an event ends a Task's attempt in
// failure: TaskFailed, LambdaFunctionTimedOut, ActivityScheduleFailed, ...
func attemptFailed(typ string) bool {
	for _, prefix := range []string{"Task", "LambdaFunction", "Activity"} {
		if rest, ok := strings.CutPrefix(typ, prefix); ok && (strings.HasSuffix(rest, "Failed") || rest == "TimedOut") {
			return true
		}
	}
	return false
}

func errorText(d *asl.EventDetails) string {
	return fmt.Sprintf("%s: %s", d.Error, oneLine(d.Cause))
}

// oneLine shortens a cause for a table cell: the Lambda error JSON's
// errorMessage when it is one, on one line, at most 200 characters.
func oneLine(cause string) string {
	var lambdaErr struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.Message != "" {
		cause = lambdaErr.Message
	}
	cause = strings.Join(strings.Fields(cause), " ")
	if len(cause) > 200 {
		cause = cause[:197] + "..."
	}
	return cause
}
