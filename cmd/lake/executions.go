package main

import (
	"context"
	"fmt"
	"io"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/execview"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

func init() {
	register(command{
		name:    "executions",
		summary: "list executions (local, or with --aws Step Functions'); with a name, its history state by state",
		run:     runExecutions,
	})
}

func runExecutions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("executions", "[--aws ...] [--format table|json] [NAME]", stderr)
	format := fs.String("format", "table", "output format: table or json (json: the raw GetExecutionHistory-shaped events)")
	limit := fs.Int("limit", 50, "list at most this many executions, newest first (0: all)")
	a := addAWSFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: want table or json", *format)
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("want at most one execution name, got %q", fs.Args())
	}
	if a.on {
		return executionsAWS(ctx, a, fs.Arg(0), *format, *limit, stdout)
	}
	lake, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return err
	}
	execs := execstore.New(lake, execstore.Options{Finder: "lake executions"})
	if fs.NArg() == 0 {
		list, err := execs.List(ctx)
		if err != nil {
			return err
		}
		if *limit > 0 && len(list) > *limit {
			list = list[:*limit]
		}
		return showList(stdout, *format, list)
	}
	exec, events, err := execs.Load(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	return showHistory(stdout, *format, exec, events)
}

// showList prints executions as a table or as JSON.
func showList(w io.Writer, format string, list []asl.Execution) error {
	if format == "json" {
		return writeJSON(w, list)
	}
	return execview.List(w, list)
}

// showHistory prints an execution's history state by state, or as JSON
// (the GetExecutionHistory-shaped events).
func showHistory(w io.Writer, format string, exec *asl.Execution, events []asl.Event) error {
	if format == "json" {
		return writeJSON(w, map[string]any{"execution": exec, "events": events})
	}
	return execview.History(w, exec, events)
}
