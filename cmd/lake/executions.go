package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

func init() {
	register(command{
		name:    "executions",
		summary: "list local executions; with an execution name, its state-by-state history",
		run:     runExecutions,
	})
}

func runExecutions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("executions", "[--format table|json] [NAME]", stderr)
	format := fs.String("format", "table", "output format: table or json (json: the raw GetExecutionHistory-shaped events)")
	limit := fs.Int("limit", 50, "list at most this many executions, newest first (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: want table or json", *format)
	}
	lake, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		execs, err := asl.ListExecutions(ctx, lake)
		if err != nil {
			return err
		}
		if *limit > 0 && len(execs) > *limit {
			execs = execs[:*limit]
		}
		return printExecutions(stdout, *format, execs)
	case 1:
		exec, events, err := asl.LoadExecution(ctx, lake, fs.Arg(0))
		if err != nil {
			return err
		}
		if *format == "json" {
			return writeJSON(stdout, map[string]any{"execution": exec, "events": events})
		}
		return printHistory(stdout, exec, events)
	default:
		return fmt.Errorf("want at most one execution name, got %q", fs.Args())
	}
}

func printExecutions(w io.Writer, format string, execs []asl.Execution) error {
	if format == "json" {
		return writeJSON(w, execs)
	}
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

// stateRow is one visit of a state, assembled from its history events.
type stateRow struct {
	name, kind     string
	path           string // Map iteration indexes leading to it, e.g. "[0][2]"
	entered, ended time.Time
	attempts       int
	errors         []string
	result         string
}

// printHistory shows an execution state by state: each visit of a state,
// how many times its task was attempted, and what failed and why.
func printHistory(w io.Writer, exec *asl.Execution, events []asl.Event) error {
	fmt.Fprintf(w, "execution %s: %s (started %s, %s)\n", exec.Name, exec.Status, exec.StartDate.UTC().Format(time.RFC3339), duration(exec.StartDate, exec.StopDate))
	if exec.Error != "" {
		fmt.Fprintf(w, "  error: %s\n  cause: %s\n", exec.Error, oneLine(exec.Cause))
	}
	fmt.Fprintln(w)
	var (
		rows  []*stateRow
		open  = map[string]*stateRow{} // by path+name
		iters []string                 // Map iteration path
	)
	cur := func() *stateRow {
		if len(rows) == 0 {
			return nil
		}
		return rows[len(rows)-1]
	}
	for _, ev := range events {
		d := ev.Details
		if d == nil {
			d = &asl.EventDetails{}
		}
		path := strings.Join(iters, "")
		switch {
		case strings.HasSuffix(ev.Type, "StateEntered"):
			r := &stateRow{name: d.Name, kind: strings.TrimSuffix(ev.Type, "StateEntered"), path: path, entered: ev.Timestamp, result: "running"}
			rows = append(rows, r)
			open[path+d.Name] = r
		case strings.HasSuffix(ev.Type, "StateExited"):
			if r := open[path+d.Name]; r != nil {
				r.ended = ev.Timestamp
				if r.result == "running" {
					r.result = "ok"
				}
			}
		case ev.Type == "TaskScheduled":
			if r := cur(); r != nil {
				r.attempts++
			}
		case ev.Type == "TaskFailed" || ev.Type == "TaskTimedOut" || strings.HasSuffix(ev.Type, "StateFailed") && d.Error != "":
			if r := cur(); r != nil {
				r.errors = append(r.errors, fmt.Sprintf("%s: %s", d.Error, oneLine(d.Cause)))
				r.result = "failed"
			}
		case ev.Type == "MapIterationStarted" && d.Index != nil:
			iters = append(iters, fmt.Sprintf("[%d]", *d.Index))
		case strings.HasPrefix(ev.Type, "MapIteration") && len(iters) > 0 && ev.Type != "MapIterationStarted":
			iters = iters[:len(iters)-1]
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tTYPE\tATTEMPTS\tRESULT\tDURATION\tERROR")
	for _, r := range rows {
		attempts := "-"
		if r.attempts > 0 {
			attempts = fmt.Sprint(r.attempts)
		}
		if len(r.errors) > 0 && r.result == "ok" {
			r.result = fmt.Sprintf("ok after %d retries", len(r.errors))
		}
		dur := ""
		if !r.ended.IsZero() {
			dur = r.ended.Sub(r.entered).Round(time.Millisecond).String()
		}
		last := ""
		if n := len(r.errors); n > 0 {
			last = r.errors[n-1]
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", r.path, r.name, r.kind, attempts, r.result, dur, last)
	}
	return tw.Flush()
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
