package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/seed"
)

func init() {
	register(command{
		name:    "seed",
		summary: "create the demo orders table and fill it with orders, some defective",
		run:     runSeed,
	})
}

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("seed", "[--rows N] [--defects FRACTION] [--seed S] [--span DURATION] [--update FRACTION]", stderr)
	var (
		rows         int64
		defects, upd float64
		seedVal      uint64
	)
	// Flags are parsed from their environment twins first, so that a bad
	// value in either place is reported the same way.
	fs.Int64Var(&rows, "rows", 10_000, "orders to append (env LAKE_SEED_ROWS)")
	fs.Float64Var(&defects, "defects", 0.05, "share of appended orders with one defect each (env LAKE_SEED_DEFECTS)")
	fs.Uint64Var(&seedVal, "seed", 1, "random seed: the same seed gives the same orders (env LAKE_SEED_SEED)")
	span := contract.Duration(seed.DefaultSpan)
	fs.Var(&span, "span", "spread the orders' created_at over this `DURATION` (30d, 365d) up to 2026-10-31 (env LAKE_SEED_SPAN)")
	fs.Float64Var(&upd, "update", 0, "then advance the status of about this share of all orders, stamping updated_at (env LAKE_SEED_UPDATE)")
	for flagName, env := range map[string]string{"rows": "LAKE_SEED_ROWS", "defects": "LAKE_SEED_DEFECTS", "seed": "LAKE_SEED_SEED", "span": "LAKE_SEED_SPAN", "update": "LAKE_SEED_UPDATE"} {
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
	conn, err := pgx.Connect(ctx, g.source)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	defer conn.Close(context.Background())

	out := struct {
		seed.Summary
		Update *seed.UpdateSummary `json:"update,omitempty"`
	}{}
	if out.Summary, err = seed.Run(ctx, conn, seed.Options{Rows: rows, Defects: defects, Seed: seedVal, Span: time.Duration(span)}); err != nil {
		return err
	}
	if upd > 0 {
		u, err := seed.Update(ctx, conn, upd, seedVal)
		if err != nil {
			return err
		}
		out.Update = &u
	}
	return writeJSON(stdout, out)
}
