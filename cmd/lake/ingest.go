package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/pgarrow"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

func init() {
	register(command{
		name:    "ingest",
		summary: "extract the rows changed since the last run into bronze Parquet (JSON summary on stdout)",
		run:     runIngest,
	})
}

// ingestSummary is what `lake ingest` prints.
type ingestSummary struct {
	Results    []*ingest.Result `json:"results"`
	Failures   []ingestFailure  `json:"failures,omitempty"`
	DurationMs int64            `json:"duration_ms"`
}

type ingestFailure struct {
	Table     string `json:"table"`
	ErrorType string `json:"error_type"` // the name the state machine would match
	Error     string `json:"error"`
}

// ingestMemoryLimit is the Go runtime's soft memory limit for `lake ingest`
// unless GOMEMLIMIT is set: the live heap of a run is about 80 MiB whatever
// the table's size, and without a limit the collector lets the heap grow to
// twice that.
const ingestMemoryLimit = 150 << 20

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("ingest", "[--table T] [--parallel N] [--object-size BYTES] [--replica-lag DURATION]", stderr)
	var (
		table string
		opts  ingest.Options
		quiet bool
	)
	fs.StringVar(&table, "table", "", "ingest only this table (default: every table with a contract in --schemas)")
	fs.IntVar(&opts.Parallel, "parallel", 1, "key ranges of a table read at once, in one snapshot (env LAKE_INGEST_PARALLEL)")
	fs.Int64Var(&opts.ObjectSize, "object-size", lakeparquet.DefaultTargetObjectBytes, "target bytes per bronze object (env LAKE_INGEST_OBJECT_SIZE)")
	fs.IntVar(&opts.BatchRows, "batch-rows", pgarrow.DefaultBatchRows, "rows per Arrow batch")
	fs.DurationVar(&opts.ReplicaLag, "replica-lag", 0, "allow a standby source: hold the watermark this far behind its last replayed commit (env LAKE_INGEST_REPLICA_LAG; see docs/ingest.md)")
	fs.DurationVar(&opts.Margin, "margin", ingest.DefaultMargin, "held below the oldest transaction in flight by this much")
	fs.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	for flagName, env := range map[string]string{"parallel": "LAKE_INGEST_PARALLEL", "object-size": "LAKE_INGEST_OBJECT_SIZE", "replica-lag": "LAKE_INGEST_REPLICA_LAG"} {
		if v := envOr(env, ""); v != "" {
			if err := fs.Set(flagName, v); err != nil {
				return fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if g.source == "" {
		return errors.New("no source database: set --source or LAKE_SOURCE_URL")
	}
	if opts.Parallel < 1 {
		return fmt.Errorf("--parallel %d: want at least 1", opts.Parallel)
	}
	tables, err := contract.LoadDir(g.schemas)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		names = append(names, t.Name)
	}
	if table != "" {
		t, err := contract.Find(tables, table)
		if err != nil {
			return err
		}
		names = []string{t.Name}
	}
	st, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return err
	}
	if !quiet {
		opts.Progress = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// Keep the garbage collector's heap goal under the ingest's
		// memory budget (docs/ingest.md); GOMEMLIMIT overrides.
		debug.SetMemoryLimit(ingestMemoryLimit)
	}
	in := ingest.New(st, g.source, tables, opts)

	start := time.Now()
	sum := ingestSummary{Results: []*ingest.Result{}}
	for _, name := range names {
		res, err := in.Run(ctx, ingest.Request{Table: name})
		if err != nil {
			sum.Failures = append(sum.Failures, ingestFailure{Table: name, ErrorType: typeName(pipeline.WorkflowError("ingest", err)), Error: err.Error()})
			fmt.Fprintf(stderr, "lake ingest: %v\n", err)
			continue
		}
		sum.Results = append(sum.Results, res)
	}
	sum.DurationMs = time.Since(start).Milliseconds()
	if err := writeJSON(stdout, sum); err != nil {
		return err
	}
	if n := len(sum.Failures); n > 0 {
		return fmt.Errorf("%d of %d tables failed (see above)", n, len(names))
	}
	return nil
}

// typeName is the name the Lambda runtime would report as errorType.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
