package main

import (
	"context"

	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

// local is the pipeline as the lake command runs it: the lake and its
// contracts from the global flags, the local catalog in the lake.
type local struct {
	lake     store.Store
	pipeline *pipeline.Pipeline
	runner   *localrun.Runner
}

// openLocal opens the lake, loads the contracts and binds the embedded
// state machine definition to the pipeline's tasks.
func openLocal(ctx context.Context, g *globals, opts localrun.Options) (*local, error) {
	lake, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return nil, err
	}
	tables, err := contract.LoadDir(g.schemas)
	if err != nil {
		return nil, err
	}
	bucket, prefix, err := pipeline.S3Location(g.lake)
	if err != nil {
		return nil, err
	}
	p := pipeline.New(pipeline.Config{
		Lake:    lake,
		Tables:  tables,
		Source:  g.source,
		Catalog: localcatalog.New(lake),
		Bucket:  bucket,
		Prefix:  prefix,
	})
	opts.Bucket, opts.Prefix = bucket, prefix
	r, err := localrun.New(p, lake, opts)
	if err != nil {
		return nil, err
	}
	return &local{lake: lake, pipeline: p, runner: r}, nil
}
