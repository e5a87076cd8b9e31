package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

// awsStart is one execution `lake run --aws` starts.
type awsStart struct {
	name        string // "" lets Step Functions choose
	label       string // what started it, for the summary
	input       []byte
	countLayers bool // the lake was named: count its layers afterwards
}

// runAWS is `lake run --aws`: it starts one execution of the deployed state
// machine, waits for it (Ctrl-C stops the wait, not the execution) and
// prints the summary a local run prints, failing unless it succeeded.
func runAWS(ctx context.Context, g *globals, a *awsFlags, start awsStart, format string, stdout, stderr io.Writer) error {
	t0 := time.Now()
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	e, err := c.Start(ctx, start.name, start.input)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lake run --aws: started %s (%s); waiting\n", e.Name, e.ExecutionARN)
	if e, err = waitAWS(ctx, c, e.Name, stderr); err != nil {
		return err
	}
	var sum runSummary
	sum.add(start.label, e)
	if start.countLayers {
		lake, err := storeurl.Open(ctx, g.lake)
		if err != nil {
			return err
		}
		// bronze and the archive only: the tables' pointers are in Glue
		if sum.Layers, err = localrun.Counts(ctx, lake, nil, nil); err != nil {
			return err
		}
	}
	sum.DurationMs = time.Since(t0).Milliseconds()
	if err := printRunSummary(stdout, format, &sum); err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("execution %s %s; see `lake executions --aws %s`", e.Name, e.Status, e.Name)
	}
	return nil
}

// objectInput is the Object Created event of a bronze object of the lake,
// as EventBridge sends it to the deployed state machine. Outside a local
// endpoint the lake must be the deployed one, in S3.
func objectInput(ctx context.Context, g *globals, a *awsFlags, key string) ([]byte, error) {
	if a.endpoint == "" && !strings.HasPrefix(g.lake, "s3://") {
		return nil, errors.New("--object: the deployed pipeline takes events of its S3 lake: set --lake s3://BUCKET[/PREFIX] (LAKE_URL)")
	}
	lake, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return nil, err
	}
	info, err := lake.Stat(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("--object %s: %w", key, err)
	}
	bucket, prefix, err := pipeline.S3Location(g.lake)
	if err != nil {
		return nil, err
	}
	return localrun.ObjectEvent(bucket, prefix, info, time.Now())
}

// flagGiven reports whether flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
