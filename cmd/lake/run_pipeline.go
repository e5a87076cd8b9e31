package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
)

// runSummary is what `lake run` prints on stdout.
type runSummary struct {
	Executions []executionLine  `json:"executions"`
	Layers     []localrun.Layer `json:"layers,omitempty"`
	Failed     int              `json:"failed"`
	DurationMs int64            `json:"duration_ms"`
}

type executionLine struct {
	Name   string          `json:"name"`
	Start  string          `json:"start"` // "schedule" or the bronze key
	Status string          `json:"status"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
}

// runPipeline is `lake run` without --definition: one execution for a
// scheduled start (unless the source is unset and skipIngest), then one
// for every object waiting in bronze/landing/, as EventBridge would start
// them. It fails if any execution failed.
func runPipeline(ctx context.Context, g *globals, in pipeline.StartInput, format string, stdout, stderr io.Writer) error {
	t0 := time.Now()
	loc, err := openLocal(ctx, g, localrun.Options{Log: stderr, Finder: "lake run"})
	if err != nil {
		return err
	}
	var start *pipeline.StartInput
	if g.source != "" {
		start = &in
	}
	started, err := loc.runner.RunAll(ctx, start)
	var sum runSummary
	for _, s := range started {
		sum.add(s.By, s.Execution)
	}
	if err != nil {
		return err
	}
	if sum.Layers, err = localrun.Counts(ctx, loc.lake, loc.iceberg, loc.contracts); err != nil {
		return err
	}
	sum.DurationMs = time.Since(t0).Milliseconds()
	if err := printRunSummary(stdout, format, &sum); err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d executions failed; see `lake executions NAME`", sum.Failed, len(sum.Executions))
	}
	return nil
}

// add adds an execution, started by start, to the summary.
func (sum *runSummary) add(start string, e *asl.Execution) {
	line := executionLine{Name: e.Name, Start: start, Status: e.Status, Error: e.Error, Cause: e.Cause}
	if e.Status == asl.StatusSucceeded {
		line.Output = e.Output
	} else {
		sum.Failed++
	}
	sum.Executions = append(sum.Executions, line)
}

func printRunSummary(w io.Writer, format string, sum *runSummary) error {
	if format == "json" {
		return writeJSON(w, sum)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tSTATUS\tSTARTED BY\tERROR")
	for _, e := range sum.Executions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Status, e.Start, e.Error)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LAYER\tOBJECTS\tROWS\tBYTES")
	for _, l := range sum.Layers {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", l.Name, l.Objects, l.Rows, l.Bytes)
	}
	fmt.Fprintf(tw, "\n%d execution(s), %d failed, %.1fs\n", len(sum.Executions), sum.Failed, float64(sum.DurationMs)/1000)
	return tw.Flush()
}
