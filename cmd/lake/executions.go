package main

import (
	"context"
	"fmt"
	"io"

	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/execview"
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
	execs := execstore.New(lake, execstore.Options{Finder: "lake executions"})
	switch fs.NArg() {
	case 0:
		list, err := execs.List(ctx)
		if err != nil {
			return err
		}
		if *limit > 0 && len(list) > *limit {
			list = list[:*limit]
		}
		if *format == "json" {
			return writeJSON(stdout, list)
		}
		return execview.List(stdout, list)
	case 1:
		exec, events, err := execs.Load(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if *format == "json" {
			return writeJSON(stdout, map[string]any{"execution": exec, "events": events})
		}
		return execview.History(stdout, exec, events)
	default:
		return fmt.Errorf("want at most one execution name, got %q", fs.Args())
	}
}
