package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
)

func init() {
	register(command{
		name:    "run",
		summary: "one local execution for a scheduled start, then one per object in " + layout.LandingPrefix + "; or any definition with --definition",
		run:     runCommand,
	})
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("run", "[--table T,...] [--parts N] [--scheduled] [--format table|json] | --aws [--object KEY | --input FILE.json] ... | --definition FILE.asl.json [--input FILE.json]", stderr)
	def := fs.String("definition", "", "run this ASL definition instead of the pipeline, printing its output JSON alone on stdout")
	input := fs.String("input", "", "with --definition or --aws: the execution's input JSON file (default {})")
	tables := fs.String("table", "", "comma-separated tables for the scheduled start (default: all)")
	parts := fs.Int("parts", 1, "key ranges per table, extracted in parallel by the Map state")
	scheduled := fs.Bool("scheduled", false, "start the ingest as the schedule does (source \"schedule\") rather than by hand (\"manual\")")
	format := fs.String("format", "table", "summary format: table or json")
	object := fs.String("object", "", "with --aws: start the execution that the Object Created event of this bronze key starts")
	name := fs.String("name", "", "with --aws: the execution's name (default: one Step Functions picks)")
	a := addAWSFlags(fs)
	dqMemory, err := addDQMemoryFlag(fs)
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g.dqMemory = int64(*dqMemory)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: want table or json", *format)
	}
	switch {
	case *def != "" && a.on:
		return errors.New("--definition runs the local interpreter: not with --aws")
	case *def != "":
		return runDefinition(ctx, g, *def, *input, stdout, stderr)
	case (*object != "" || *name != "") && !a.on:
		return errors.New("--object and --name go with --aws (locally, `lake run` starts one execution per object in bronze/landing/)")
	case *input != "" && !a.on:
		return errors.New("--input goes with --definition or --aws")
	}
	in := pipeline.StartInput{Source: "manual", Parts: *parts}
	if *scheduled {
		in.Source = "schedule"
	}
	if *tables != "" {
		in.Tables = strings.Split(*tables, ",")
	}
	if !a.on {
		return runPipeline(ctx, g, in, *format, stdout, stderr)
	}
	start := awsStart{name: *name, label: in.Source}
	switch {
	case *input != "" && *object != "":
		return errors.New("--input and --object both give the input: use one")
	case *input != "":
		start.label = *input
		start.input, err = os.ReadFile(*input)
	case *object != "":
		start.label = *object
		start.input, err = objectInput(ctx, g, a, *object)
	default:
		start.input, err = json.Marshal(in)
	}
	if err != nil {
		return err
	}
	start.countLayers = flagGiven(fs, "lake") || os.Getenv("LAKE_URL") != ""
	return runAWS(ctx, g, a, start, *format, stdout, stderr)
}

// runDefinition loads the ASL definition at defPath, runs it on the JSON
// in inputPath ({} when empty) and prints the execution's output alone on
// stdout; each history event is logged to stderr. Its Task states may call
// the pipeline's tasks as the functions lake-plan, lake-ingest, ... (or
// through template.yaml's ${...FunctionArn} placeholders), over the lake
// and contracts of the global flags. A definition that does not load, and
// an execution that does not succeed, are errors (the latter naming its
// Error and Cause).
func runDefinition(ctx context.Context, g *globals, defPath, inputPath string, stdout, stderr io.Writer) error {
	def, err := os.ReadFile(defPath)
	if err != nil {
		return fmt.Errorf("reading definition: %w", err)
	}
	input := []byte("{}")
	if inputPath != "" {
		if input, err = os.ReadFile(inputPath); err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
	}
	loc, err := openLocal(ctx, g, localrun.Options{})
	if err != nil {
		return err
	}
	m, err := localrun.Load(localrun.PipelineName, def, loc.pipeline, localrun.Bucket, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", defPath, err)
	}
	exec, err := m.Run(ctx, input, asl.RunOptions{Recorder: &logRecorder{w: stderr}})
	if err != nil {
		return err
	}
	if exec.Status != asl.StatusSucceeded {
		return fmt.Errorf("execution %s %s\nError: %s\nCause: %s", exec.Name, exec.Status, exec.Error, exec.Cause)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", exec.Output)
	return err
}

// logRecorder logs each history event as one line.
type logRecorder struct{ w io.Writer }

func (r *logRecorder) Record(_ context.Context, _ *asl.Execution, ev asl.Event) error {
	line := fmt.Sprintf("%s #%d %s", ev.Timestamp.Format("15:04:05.000"), ev.ID, ev.Type)
	if d := ev.Details; d != nil {
		if d.Name != "" {
			line += " " + d.Name
		}
		if d.Index != nil {
			line += fmt.Sprintf(" [%d]", *d.Index)
		}
		if d.Error != "" {
			b, _ := json.Marshal(d.Cause)
			line += fmt.Sprintf(" error=%s cause=%s", d.Error, b)
		}
	}
	_, err := fmt.Fprintln(r.w, line)
	return err
}
