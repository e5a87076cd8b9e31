package main

import (
	"context"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store"
)

// local is the pipeline as the lake command runs it: the lake and its
// contracts from the global flags, the local catalog and the Iceberg
// tables' pointers in the lake.
type local struct {
	lake      store.Store
	iceberg   *icetable.Lake
	contracts []*contract.Table
	pipeline  *pipeline.Pipeline
	runner    *localrun.Runner
}

// openLocal opens the lake, loads the contracts and binds the embedded
// state machine definition to the pipeline's tasks.
func openLocal(ctx context.Context, g *globals, opts localrun.Options) (*local, error) {
	cfg, err := localConfig(ctx, g)
	if err != nil {
		return nil, err
	}
	p := pipeline.New(cfg)
	opts.Bucket, opts.Prefix = cfg.Bucket, cfg.Prefix
	r, err := localrun.New(p, cfg.Lake, opts)
	if err != nil {
		return nil, err
	}
	return &local{lake: cfg.Lake, iceberg: cfg.Iceberg, contracts: cfg.Tables, pipeline: p, runner: r}, nil
}

// localConfig is the pipeline's configuration from the global flags
// (localrun.Configure).
func localConfig(ctx context.Context, g *globals) (pipeline.Config, error) {
	return localrun.Configure(ctx, localrun.Settings{Lake: g.lake, Schemas: g.schemas, Source: g.source, DQMemory: g.dqMemory})
}
