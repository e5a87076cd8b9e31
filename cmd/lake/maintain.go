package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
)

func init() {
	register(command{
		name:    "maintain",
		summary: "compact the Iceberg tables, fold delete files, expire old snapshots, remove orphan files; print a JSON report",
		run:     runMaintain,
	})
}

func runMaintain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newFlagSet("maintain", "[--table T,...] [--kind silver|current|discarded,...] [--target-file-size SIZE] [--orphan-age DURATION] [--dry-run] [--wait DURATION] [--lease-ttl DURATION]", stderr)
	tables := fs.String("table", "", "comma-separated contract tables to maintain (default: all)")
	kinds := fs.String("kind", "", "comma-separated kinds of table: silver (silver.T), current (silver.T_current), discarded (discarded.T) (default: all three)")
	target := memoryFlag(icetable.DefaultTargetFileSize)
	fs.Var(&target, "target-file-size", "`SIZE` of the data files compaction writes (128MiB, 512MiB); smaller files are merged up to it")
	orphanAge := contract.Duration(icetable.DefaultOrphanAge)
	fs.Var(&orphanAge, "orphan-age", "remove files no snapshot references once they are older than this `DURATION` (3d, 36h); it must exceed the longest time between writing an object's files and committing them")
	dryRun := fs.Bool("dry-run", false, "change nothing: report what would be rewritten, expired and removed")
	wait := fs.Duration("wait", 0, "when another maintenance is running on this lake (lake maintain, lake serve's schedule), wait this long for it instead of refusing at once")
	ttl := fs.Duration("lease-ttl", lease.DefaultTTL, "how long the lake's maintenance lease outlives this process's last heartbeat (renewed every third of it): how long a killed lake maintain keeps the next one waiting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if target <= 0 || orphanAge <= 0 {
		return fmt.Errorf("--target-file-size and --orphan-age must be positive")
	}
	start := maintain.Start{Source: "manual", TargetFileSize: int64(target), OrphanAge: orphanAge, DryRun: *dryRun}
	if *tables != "" {
		start.Tables = strings.Split(*tables, ",")
	}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			start.Kinds = append(start.Kinds, icetable.Kind(k))
		}
	}
	cfg, err := localConfig(ctx, g)
	if err != nil {
		return err
	}
	if _, err := maintain.Plan(cfg.Tables, start); err != nil {
		return err
	}
	if time.Duration(orphanAge) < time.Hour {
		fmt.Fprintf(stderr, "lake maintain: warning: --orphan-age %s removes the files of objects being committed right now; keep it above the longest commit (default %s)\n", time.Duration(orphanAge), time.Duration(icetable.DefaultOrphanAge))
	}
	held, release, err := maintain.Lock(ctx, cfg.Lake, lease.Options{TTL: *ttl, Wait: *wait, Log: stderr})
	var busy *lease.HeldError
	if errors.As(err, &busy) {
		return fmt.Errorf("%w; wait for it, or pass --wait DURATION", err)
	}
	if err != nil {
		return err
	}
	defer release()
	report, err := maintain.Run(held, cfg.Iceberg, cfg.Tables, start, stderr, func(err error) string { return typeName(pipeline.WorkflowError("maintain", err)) })
	if werr := writeJSON(stdout, report); werr != nil && err == nil {
		err = werr
	}
	return err
}
