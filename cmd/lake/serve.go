package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/schedule"
	"github.com/medallionlake/lake/internal/sfnapi"
)

func init() {
	register(command{
		name:    "serve",
		summary: "stay up: start ingest on a schedule and an execution for each new bronze object, as EventBridge would",
		run:     runServe,
	})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("serve", "[--schedule EXPR] [--maintain-schedule EXPR] [--poll DURATION] [--table T,...] [--api ADDR] [--wait DURATION]", stderr)
	expr := fs.String("schedule", envOr("LAKE_SCHEDULE", "rate(15 minutes)"), "EventBridge schedule expression for ingest, rate(...) or cron(...), UTC; \"off\" for none (env LAKE_SCHEDULE)")
	maintainExpr := fs.String("maintain-schedule", envOr("LAKE_MAINTAIN_SCHEDULE", "rate(1 day)"), "schedule of the Iceberg tables' maintenance (the maintain state machine, as lake maintain does it), rate(...) or cron(...), UTC; \"off\" for none (env LAKE_MAINTAIN_SCHEDULE)")
	poll := fs.Duration("poll", 2*time.Second, "how often "+layout.LandingPrefix+" is checked for new objects")
	tables := fs.String("table", "", "comma-separated tables for scheduled starts (default: all)")
	concurrency := fs.Int("concurrency", 4, "object executions at once")
	api := fs.String("api", envOr("LAKE_API", ""), "also serve the Step Functions API at this address, e.g. 127.0.0.1:8083 or 8083 (off by default; loopback only unless --api-allow-remote) (env LAKE_API)")
	allowRemote := fs.Bool("api-allow-remote", false, "let --api listen on an address other than loopback: the API has no authentication")
	wait := fs.Duration("wait", 0, "when another lake serve serves the lake, wait this long for it to stop (or its lease to expire) instead of refusing at once")
	ttl := fs.Duration("lease-ttl", lease.DefaultTTL, "how long the lake's serve lease outlives this process's last heartbeat (renewed every third of it)")
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
	if *maintainExpr != "off" {
		s, err := schedule.Parse(*maintainExpr)
		if err != nil {
			return fmt.Errorf("--maintain-schedule: %w", err)
		}
		opts.MaintainSchedule, opts.Maintain = s, maintain.Start{Source: "schedule"}
	}
	loc, err := openLocal(ctx, g, localrun.Options{Log: stderr, Finder: "lake serve"})
	if err != nil {
		return err
	}
	loc.runner.Concurrency = *concurrency
	if *api != "" {
		_, stopAPI, err := serveAPI(ctx, loc, *api, *allowRemote, stderr)
		if err != nil {
			return err
		}
		defer stopAPI()
	}
	fmt.Fprintf(stderr, "lake serve: lake %s, schedule %s, maintenance %s, watching %s every %s; stop with Ctrl-C\n", g.lake, *expr, *maintainExpr, layout.LandingPrefix, *poll)
	err = loc.runner.Serve(ctx, opts)
	var held *lease.HeldError
	if errors.As(err, &held) {
		return fmt.Errorf("%w; stop it first, or pass --wait DURATION to wait for it", err)
	}
	return err
}

// apiGrace is how long executions started through the API may take to end
// when lake serve stops; those still running then end ABORTED.
const apiGrace = 30 * time.Second

// serveAPI serves the Step Functions API at addr until the returned stop
// is called, which gives the executions it started apiGrace to end; it
// returns the URL it serves at.
func serveAPI(ctx context.Context, loc *local, addr string, allowRemote bool, stderr io.Writer) (url string, stop func(), err error) {
	server, err := sfnapi.New(ctx, sfnapi.Options{
		Lake:       loc.lake,
		Executions: loc.runner.Executions(),
		Load:       loc.runner.LoadMachine,
		Builtin:    []sfnapi.Builtin{{Machine: loc.runner.Machine(), Definition: loc.runner.Definition()}},
		Log:        stderr,
	})
	if err != nil {
		return "", nil, err
	}
	ln, err := sfnapi.Listen(addr, allowRemote)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: server, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "lake serve: API: %v\n", err)
		}
	}()
	url = "http://" + ln.Addr().String()
	fmt.Fprintf(stderr, "lake serve: Step Functions API at %s (state machine %s)\n", url, loc.runner.Machine().ARN())
	return url, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiGrace)
		defer cancel()
		_ = hs.Shutdown(sctx)
		server.Shutdown(sctx)
	}, nil
}
