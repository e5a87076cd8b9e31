package localrun

import (
	"context"
	"fmt"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

// Settings are what a local pipeline is configured from: the lake
// command's global flags.
type Settings struct {
	Lake    string // lake URL: file://DIR or s3://BUCKET[/PREFIX]
	Schemas string // folder of table contracts and rulesets
	Source  string // source PostgreSQL URL; empty: no ingest
	// DQMemory is the validate step's DQ memory budget in bytes (0: dq's
	// default).
	DQMemory int64
}

// Configure is the pipeline's configuration for s: the lake, its
// contracts, the source, the local catalog and the Iceberg tables'
// pointers in the lake.
func Configure(ctx context.Context, s Settings) (pipeline.Config, error) {
	lake, err := storeurl.Open(ctx, s.Lake)
	if err != nil {
		return pipeline.Config{}, err
	}
	tables, err := contract.LoadDir(s.Schemas)
	if err != nil {
		return pipeline.Config{}, err
	}
	bucket, prefix, err := pipeline.S3Location(s.Lake)
	if err != nil {
		return pipeline.Config{}, err
	}
	iceberg, err := pipeline.OpenIceberg(lake, s.Lake, nil)
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.Config{
		Lake:     lake,
		Tables:   tables,
		Source:   s.Source,
		Catalog:  localcatalog.New(lake),
		Iceberg:  iceberg,
		Bucket:   bucket,
		Prefix:   prefix,
		DQMemory: s.DQMemory,
	}, nil
}

// Started is an execution and what started it: the scheduled start's
// source, or the bronze key of the object it ran for.
type Started struct {
	By        string
	Execution *asl.Execution
}

// RunAll is one `lake run`: it marks ABORTED the executions a dead process
// left RUNNING, runs one execution for the scheduled start when start is
// not nil, then one for every object waiting in bronze/landing/ (a
// routed object whose commit did not finish is among them, so its commit
// is finished), as EventBridge would start them. It returns the
// executions that started, failed ones included; an error is one that
// kept executions from starting.
func (r *Runner) RunAll(ctx context.Context, start *pipeline.StartInput) ([]Started, error) {
	if err := r.ReapAbandoned(ctx); err != nil {
		return nil, err
	}
	var out []Started
	if start != nil {
		fmt.Fprintln(r.log, "lake run: scheduled start: ingest")
		e, err := r.Start(ctx, *start)
		if err != nil {
			return out, err
		}
		out = append(out, Started{start.Source, e})
	} else {
		fmt.Fprintf(r.log, "lake run: no --source / LAKE_SOURCE_URL: skipping ingest, processing %s only\n", layout.LandingPrefix)
	}
	objs, err := r.Pending(ctx)
	if err != nil {
		return out, err
	}
	fmt.Fprintf(r.log, "lake run: %d object(s) waiting in %s\n", len(objs), layout.LandingPrefix)
	execs, err := r.Objects(ctx, objs)
	for i, e := range execs {
		if e != nil {
			out = append(out, Started{objs[i].Key, e})
		}
	}
	return out, err
}
