package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/reconcile"
	"github.com/medallionlake/lake/internal/requeue"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

func init() {
	register(command{
		name:    "reconcile",
		summary: "check the route records against the tables; finish pending commits, commit lost ones",
		run:     runReconcile,
	})
	register(command{
		name:    "requeue",
		summary: "put an archived or quarantined object back into bronze to be routed again",
		run:     runRequeue,
	})
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("reconcile", "[--table NAME] [--dry-run] [--glue [--glue-database-prefix PREFIX]] [--format table|json]", stderr)
	table := fs.String("table", "", "only this table's route records")
	dry := fs.Bool("dry-run", false, "report the differences, repair nothing")
	useGlue := fs.Bool("glue", false, "the tables are in the Glue Data Catalog, as in a deployed stack (AWS credentials from the environment)")
	prefix := fs.String("glue-database-prefix", envOr(pipeline.EnvGlueDatabasePrefix, ""), "with --glue: the stack's Glue database prefix, e.g. lake_ (env "+pipeline.EnvGlueDatabasePrefix+")")
	format := fs.String("format", "table", "output: table or json")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format must be table or json, not %q", *format)
	}
	cfg, err := localConfig(ctx, g)
	if err != nil {
		return err
	}
	if *useGlue {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("aws config: %w", err)
		}
		if err := cfg.UseGlue(glue.NewFromConfig(awsCfg), g.lake, *prefix, pipeline.NeedsOf("crawl")); err != nil {
			return err
		}
	}
	rep, err := pipeline.New(cfg).Reconcile(ctx, reconcile.Options{Table: *table, DryRun: *dry, Progress: stderr})
	if err != nil {
		return err
	}
	if *format == "json" {
		err = writeJSON(stdout, rep)
	} else {
		err = printReconcile(stdout, rep)
	}
	if err != nil {
		return err
	}
	switch {
	case *dry && len(rep.Findings) > 0:
		return fmt.Errorf("%d route record(s) differ from the tables; run without --dry-run to repair them", len(rep.Findings))
	case rep.Unrepaired > 0:
		return fmt.Errorf("%d route record(s) could not be repaired; see the details above", rep.Unrepaired)
	}
	return nil
}

func printReconcile(w io.Writer, rep *reconcile.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tRECORDS")
	for _, s := range []reconcile.State{reconcile.Committed, reconcile.Unverifiable, reconcile.Pending, reconcile.Missing, reconcile.Unreadable} {
		fmt.Fprintf(tw, "%s\t%d\n", s, rep.Records[s])
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "OBJECT\tSTATE\tREPAIRED\tDETAIL")
		for _, f := range rep.Findings {
			obj := f.Object
			if obj == "" {
				obj = f.Record
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", obj, f.State, f.Repaired, f.Detail)
		}
	}
	for _, m := range rep.Meta {
		fmt.Fprintf(tw, "\nregistered %s (created %v, added columns %v)\n", m.Table, m.Created, m.AddedColumns)
	}
	return tw.Flush()
}

func runRequeue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("requeue", "[--force] [--archive URL] KEY...", stderr)
	force := fs.Bool("force", false, "requeue even an object whose rows were routed (they are added again) or that is not routed yet")
	archiveURL := fs.String("archive", envOr(pipeline.EnvArchive, ""), "where archive/ is, when not in the lake: s3://ARCHIVE-BUCKET (env "+pipeline.EnvArchive+")")
	format := fs.String("format", "table", "output: table or json")
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("need the key of an archived (archive/<table>/<stem>/<file>) or quarantined (discarded/<table>/quarantine/<stem>/<file>) object")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format must be table or json, not %q", *format)
	}
	lake, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return err
	}
	d := requeue.Deps{Lake: lake}
	if *archiveURL != "" {
		if d.Archive, err = storeurl.Open(ctx, *archiveURL); err != nil {
			return err
		}
	}
	var results []requeue.Result
	var errs []error
	for _, key := range fs.Args() {
		res, err := requeue.Requeue(ctx, d, key, requeue.Options{Force: *force})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	if *format == "json" {
		if err := writeJSON(stdout, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintf(stdout, "%s -> %s\n", r.From, r.Key)
		}
	}
	if len(results) > 0 {
		fmt.Fprintln(stderr, "lake requeue: the next `lake run` or `lake serve` routes the requeued objects (in AWS, their S3 events start the pipeline)")
	}
	return errors.Join(errs...)
}
