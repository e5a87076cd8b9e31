// Package reconcile checks the route records of a lake against its Iceberg
// tables and repairs the difference: `lake reconcile`.
//
// A route record (_meta/routes/<table>/<stem>.json) lists the data files
// that route wrote for one bronze object version; the commit step (crawl)
// commits them to the tables, then deletes the object from bronze. So
// every record is in one of these states:
//
//   - committed: the object is gone from bronze and every table's history
//     holds its commit;
//   - pending: the object is still in bronze at the routed version, its
//     commit did not finish (a failed or killed execution). The repair is
//     the commit step itself, as the next run would do it;
//   - missing: the object is gone from bronze but a table's history lacks
//     its commit although the history reaches back to when it was routed
//     (the commit was lost, or a table was recreated). The repair commits
//     the recorded files to that table, if they are still in the lake;
//     otherwise the object must be routed again from its archived copy
//     (`lake requeue`);
//   - unverifiable: committed before the oldest snapshot that maintenance
//     kept, so the history cannot say; nothing is done.
//
// Every repair is idempotent (a commit the history holds changes
// nothing), so reconcile is safe while the pipeline runs.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
)

// State is what the tables say of one route record.
type State string

// States of a route record (see the package comment).
const (
	Committed    State = "committed"
	Pending      State = "pending"
	Missing      State = "missing"
	Unverifiable State = "unverifiable"
	// Unreadable is a route record that cannot be read or decoded.
	Unreadable State = "unreadable"
)

// Options are what to reconcile, and how.
type Options struct {
	// Table limits the check to one table's records ("": every table).
	Table string
	// DryRun reports the differences and repairs nothing.
	DryRun bool
	// Progress, when set, gets a line for every record that is not
	// committed, as it is found and repaired.
	Progress io.Writer
}

// Finding is one route record that is not simply committed.
type Finding struct {
	Record string `json:"record"`
	Table  string `json:"table"`
	Object string `json:"object"`
	ETag   string `json:"etag"`
	State  State  `json:"state"`
	// Tables are the tables whose history lacks the commit (missing).
	Tables []string `json:"tables,omitempty"`
	// Repaired is set when the repair was done.
	Repaired bool `json:"repaired"`
	// Detail says what was found and done, or what to do.
	Detail string `json:"detail"`
}

// Report is the outcome of a reconcile.
type Report struct {
	// Records counts the route records by state.
	Records map[State]int `json:"records"`
	// Findings are the records that were not committed (and unverifiable
	// ones are only counted).
	Findings []Finding `json:"findings"`
	// Meta are the meta tables that were missing or lacked columns in
	// the catalog, and were registered (not in a dry run).
	Meta []crawl.TableResult `json:"meta,omitempty"`
	// Unrepaired counts findings left for an operator.
	Unrepaired int `json:"unrepaired"`
}

// Run reconciles the route records of lake with the tables that c commits
// to. A store failure stops it; a record it cannot repair is reported and
// the others are still checked.
func Run(ctx context.Context, c *crawl.Crawler, opts Options) (*Report, error) {
	if opts.Table != "" {
		if _, err := contract.Find(c.Contracts, opts.Table); err != nil {
			return nil, fmt.Errorf("reconcile: table %q: %w", opts.Table, err)
		}
	}
	rep := &Report{Records: map[State]int{}, Findings: []Finding{}}
	for info, err := range c.Store.List(ctx, layout.RouteRecords(opts.Table)) {
		if err != nil {
			return nil, store.Wrap(err, "reconcile: list route records")
		}
		if !strings.HasSuffix(info.Key, ".json") {
			continue
		}
		f, err := check(ctx, c, info.Key, opts.DryRun)
		if err != nil {
			return nil, err
		}
		rep.Records[f.State]++
		if f.State == Committed || f.State == Unverifiable {
			continue
		}
		if !f.Repaired {
			rep.Unrepaired++
		}
		rep.Findings = append(rep.Findings, f)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "reconcile: %s: %s: %s\n", f.Object, f.State, f.Detail)
		}
	}
	if !opts.DryRun {
		meta, err := c.RegisterMeta(ctx)
		if err != nil {
			return nil, fmt.Errorf("reconcile: meta tables: %w", err)
		}
		rep.Meta = meta
	}
	return rep, nil
}

// check finds the state of the record at key and repairs it unless
// dryRun. Only store failures are returned as errors.
func check(ctx context.Context, c *crawl.Crawler, key string, dryRun bool) (Finding, error) {
	f := Finding{Record: key}
	rec, err := route.ReadRecord(ctx, c.Store, key)
	var bad *store.RecordError
	switch {
	case errors.As(err, &bad):
		f.State, f.Detail = Unreadable, err.Error()
		return f, nil
	case err != nil:
		return f, err
	case rec == nil:
		// deleted since the listing (a commit that found its files gone)
		f.State = Committed
		return f, nil
	}
	f.Table, f.Object, f.ETag = rec.Table, rec.Key, rec.ETag

	info, err := c.Store.Stat(ctx, rec.Key)
	switch {
	case err == nil && store.NormalizeETag(info.ETag) == store.NormalizeETag(rec.ETag):
		f.State = Pending
		if dryRun {
			f.Detail = "routed, still in bronze: its commit did not finish; it would be committed"
			return f, nil
		}
		return f, commitPending(ctx, c, rec, &f)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return f, store.Wrap(err, "reconcile: stat %q", rec.Key)
	}

	t, err := contract.Find(c.Contracts, rec.Table)
	if err != nil {
		f.State, f.Detail = Missing, fmt.Sprintf("table %q has no contract: cannot check its tables", rec.Table)
		return f, nil
	}
	f.State = Committed
	var lacking []icetable.Files
	for _, files := range []icetable.Files{rec.Silver, rec.Current, rec.Discarded} {
		if files.Table == "" || len(files.Files) == 0 {
			continue // a quarantined object, or no rows for this table
		}
		l, err := c.Iceberg.Lookup(ctx, files)
		if err != nil {
			return f, store.Wrap(err, "reconcile: %s", rec.Key)
		}
		switch {
		case l.SnapshotID != 0:
		case l.Exists && rec.RoutedAt.Before(l.Since):
			if f.State == Committed {
				f.State = Unverifiable
			}
		default:
			lacking = append(lacking, files)
			f.Tables = append(f.Tables, files.Table)
		}
	}
	if len(lacking) == 0 {
		return f, nil
	}
	f.State = Missing
	if dryRun {
		f.Detail = fmt.Sprintf("gone from bronze, but not in the history of %s; its files would be committed", strings.Join(f.Tables, ", "))
		return f, nil
	}
	for _, files := range lacking {
		if _, err := c.Iceberg.Commit(ctx, t, files); err != nil {
			var gone *icetable.MissingDataFileError
			if errors.As(err, &gone) {
				f.Detail = fmt.Sprintf("not in %s, and its data files are gone (%v): route it again from its archived copy: lake requeue %s", files.Table, gone.Path, rec.ArchiveKey)
				return f, nil
			}
			var unavailable *store.StoreUnavailableError
			if errors.As(err, &unavailable) {
				return f, unavailable
			}
			f.Detail = fmt.Sprintf("commit to %s: %v", files.Table, err)
			return f, nil
		}
	}
	f.Repaired, f.Detail = true, fmt.Sprintf("committed its files to %s", strings.Join(f.Tables, ", "))
	return f, nil
}

// commitPending does the commit step for a record whose object is still
// in bronze.
func commitPending(ctx context.Context, c *crawl.Crawler, rec *route.Record, f *Finding) error {
	out, err := c.Crawl(ctx, rec)
	var gone *icetable.MissingDataFileError
	var unavailable *store.StoreUnavailableError
	switch {
	case errors.As(err, &gone):
		f.Repaired, f.Detail = true, fmt.Sprintf("its data file %s is gone: the route record is deleted and the object, still in bronze, is routed again by the next run", gone.Path)
	case errors.As(err, &unavailable):
		return unavailable
	case err != nil:
		f.Detail = fmt.Sprintf("commit: %v", err)
	default:
		f.Repaired, f.Detail = true, fmt.Sprintf("committed (%d tables) and removed from bronze", len(out.Commits))
	}
	return nil
}
