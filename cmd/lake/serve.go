package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/schedule"
)

func init() {
	register(command{
		name:    "serve",
		summary: "stay up: start ingest on a schedule and an execution for each new bronze object, as EventBridge would",
		run:     runServe,
	})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("serve", "[--schedule EXPR] [--poll DURATION] [--table T,...] [--wait DURATION]", stderr)
	expr := fs.String("schedule", envOr("LAKE_SCHEDULE", "rate(15 minutes)"), "EventBridge schedule expression for ingest, rate(...) or cron(...), UTC; \"off\" for none (env LAKE_SCHEDULE)")
	poll := fs.Duration("poll", 2*time.Second, "how often bronze/landing/ is checked for new objects")
	tables := fs.String("table", "", "comma-separated tables for scheduled starts (default: all)")
	concurrency := fs.Int("concurrency", 4, "object executions at once")
	wait := fs.Duration("wait", 0, "when another lake serve serves the lake, wait this long for it to stop (or its lease to expire) instead of refusing at once")
	ttl := fs.Duration("lease-ttl", lease.DefaultTTL, "how long the lake's serve lease outlives this process's last heartbeat (renewed every third of it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	opts := localrun.ServeOptions{Poll: *poll, Start: pipeline.StartInput{Source: "schedule"}, Lease: lease.Options{TTL: *ttl, Wait: *wait}}
	if *tables != "" {
		opts.Start.Tables = strings.Split(*tables, ",")
	}
	if *expr != "off" {
		if g.source == "" {
			return fmt.Errorf("a schedule needs a source database: set --source or LAKE_SOURCE_URL, or --schedule off")
		}
		s, err := schedule.Parse(*expr)
		if err != nil {
			return err
		}
		opts.Schedule = s
	}
	loc, err := openLocal(ctx, g, localrun.Options{Log: stderr})
	if err != nil {
		return err
	}
	loc.runner.Concurrency = *concurrency
	fmt.Fprintf(stderr, "lake serve: lake %s, schedule %s, watching %s every %s; stop with Ctrl-C\n", g.lake, *expr, localrun.LandingPrefix, *poll)
	err = loc.runner.Serve(ctx, opts)
	var held *lease.HeldError
	if errors.As(err, &held) {
		return fmt.Errorf("%w; stop it first, or pass --wait DURATION to wait for it", err)
	}
	return err
}
