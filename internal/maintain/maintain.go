// Package maintain runs the maintenance of the lake's Apache Iceberg
// tables over its table contracts: for each contract table, any of its
// three tables (silver.<table>, silver.<table>_current, discarded.<table>)
// is compacted, has its delete files folded, its manifests merged, its
// old snapshots expired and its orphan files removed, by
// icetable.Lake.Maintain, one table at a time.
//
// A maintenance is planned (Plan: which tables, with which options), each
// item is run on its own (Table), and the results are gathered into a
// Report that fails, naming the tables, when any item failed. The lake
// command runs the three in one process (Run); the maintain state machine
// (statemachine/maintain.asl.json) runs them as the states of one
// execution, in AWS and in `lake serve`, through the pipeline's maintain
// task.
//
// A table that does not exist yet (nothing was ever committed to it) is
// reported absent, not failed. A maintenance killed at any point leaves
// every table readable with no row lost or duplicated (icetable), and a
// later one removes what it left behind.
//
// Imported by internal/pipeline, internal/localrun and the lake command.
// Pure Go.
package maintain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icetable"
)

// Start asks for a maintenance: the maintain state machine's input (the
// schedule's, or a hand-made start) and what `lake maintain`'s flags say.
// Its zero value maintains every table of every contract with the
// defaults.
type Start struct {
	// Source says who started it: "schedule", "manual".
	Source string `json:"source,omitempty"`
	// Tables are the contract tables to maintain (empty: all).
	Tables []string `json:"tables,omitempty"`
	// Kinds are the kinds of table to maintain (empty: icetable.Kinds).
	Kinds []icetable.Kind `json:"kinds,omitempty"`
	// TargetFileSize is the data file size compaction aims at, in bytes
	// (0: the lake's, 128 MiB by default).
	TargetFileSize int64 `json:"target_file_size,omitempty"`
	// OrphanAge is how old an unreferenced file must be to be removed
	// ("3d", "72h"; 0: icetable.DefaultOrphanAge).
	OrphanAge contract.Duration `json:"orphan_age,omitempty"`
	// DryRun changes nothing and reports what a run would do.
	DryRun bool `json:"dry_run,omitempty"`
}

// Item is the maintenance of one Iceberg table: the unit a Map state
// iterates over.
type Item struct {
	// Table is the contract table's name.
	Table          string            `json:"table"`
	Kind           icetable.Kind     `json:"kind"`
	TargetFileSize int64             `json:"target_file_size,omitempty"`
	OrphanAge      contract.Duration `json:"orphan_age,omitempty"`
	DryRun         bool              `json:"dry_run,omitempty"`
}

// String names the Iceberg table of it: silver.orders_current.
func (it Item) String() string {
	ident, err := icetable.Ident(it.Kind, it.Table)
	if err != nil {
		return it.Table + " (" + string(it.Kind) + ")"
	}
	return strings.Join(ident, ".")
}

// BadStartError is a Start that names a table without a contract, an
// unknown kind of table or a negative option. Nothing was maintained.
type BadStartError struct {
	Reason string
}

func (e *BadStartError) Error() string { return "maintain: " + e.Reason }

// Plan lists the items of the maintenance s asks for over the contract
// tables: each table (in the order asked, or the contracts') times each
// kind (in the order of icetable.Kinds).
func Plan(tables []*contract.Table, s Start) ([]Item, error) {
	if s.TargetFileSize < 0 || s.OrphanAge < 0 {
		return nil, &BadStartError{Reason: fmt.Sprintf("target_file_size %d and orphan_age %s must not be negative", s.TargetFileSize, s.OrphanAge)}
	}
	names := s.Tables
	if len(names) == 0 {
		for _, t := range tables {
			names = append(names, t.Name)
		}
	}
	for _, n := range names {
		if _, err := contract.Find(tables, n); err != nil {
			return nil, &BadStartError{Reason: err.Error()}
		}
	}
	kinds := icetable.Kinds
	if len(s.Kinds) > 0 {
		for _, k := range s.Kinds {
			if !slices.Contains(icetable.Kinds, k) {
				return nil, &BadStartError{Reason: fmt.Sprintf("kind of table %q: want one of %s", k, kindNames())}
			}
		}
		kinds = slices.DeleteFunc(slices.Clone(icetable.Kinds), func(k icetable.Kind) bool { return !slices.Contains(s.Kinds, k) })
	}
	items := []Item{}
	for _, n := range slices.Compact(names) {
		for _, k := range kinds {
			items = append(items, Item{Table: n, Kind: k, TargetFileSize: s.TargetFileSize, OrphanAge: s.OrphanAge, DryRun: s.DryRun})
		}
	}
	return items, nil
}

func kindNames() string {
	var s []string
	for _, k := range icetable.Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// Result is what the maintenance of one item did.
type Result struct {
	Table string        `json:"table"`
	Kind  icetable.Kind `json:"kind"`
	// Absent: the table does not exist yet (no object was ever committed
	// to it), so there was nothing to maintain.
	Absent bool `json:"absent,omitempty"`
	// Maintenance is what was done (or, in a dry run, would be).
	Maintenance *icetable.Maintenance `json:"maintenance,omitempty"`
	// Error is why it failed: the error's type name and message, as a
	// state machine's Catch reports them.
	Error *Failure `json:"error,omitempty"`
	// Seconds is how long it took.
	Seconds float64 `json:"seconds,omitempty"`
}

// Failure is an error as a Catch puts it at its ResultPath.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Table maintains the Iceberg table of it. A table that does not exist is
// an Absent result; an error is returned as it is.
func Table(ctx context.Context, lake *icetable.Lake, tables []*contract.Table, it Item) (Result, error) {
	res := Result{Table: it.Table, Kind: it.Kind}
	t, err := contract.Find(tables, it.Table)
	if err != nil {
		return res, &BadStartError{Reason: err.Error()}
	}
	start := time.Now()
	m, err := lake.Maintain(ctx, it.Kind, t, icetable.MaintainOptions{
		TargetFileSize: it.TargetFileSize, OrphanAge: time.Duration(it.OrphanAge), DryRun: it.DryRun,
	})
	res.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
	switch {
	case errors.Is(err, icecatalog.ErrNoSuchTable):
		res.Absent = true
	case err != nil:
		return res, err
	default:
		res.Maintenance = &m
	}
	return res, nil
}

// Report is a whole maintenance: every item's result, in plan order.
type Report struct {
	DryRun bool     `json:"dry_run,omitempty"`
	Tables []Result `json:"tables"`
	// Maintained, Absent and Failed count the results.
	Maintained int `json:"maintained"`
	Absent     int `json:"absent"`
	Failed     int `json:"failed"`
}

// NewReport gathers results.
func NewReport(results []Result) Report {
	r := Report{Tables: results}
	if r.Tables == nil {
		r.Tables = []Result{}
	}
	for _, res := range results {
		switch {
		case res.Error != nil:
			r.Failed++
		case res.Absent:
			r.Absent++
		default:
			r.Maintained++
			r.DryRun = r.DryRun || res.Maintenance.DryRun
		}
	}
	return r
}

// FailedError is a maintenance in which some tables failed; the others
// were maintained. It names each failed table and why. The next
// maintenance tries them again.
type FailedError struct {
	Failed []string // "silver.orders: StoreUnavailableError: ..."
	Of     int      // how many tables the maintenance covered
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("maintain: %d of %d tables failed: %s", len(e.Failed), e.Of, strings.Join(e.Failed, "; "))
}

// Err is a *FailedError naming the failed tables, or nil.
func (r Report) Err() error {
	var failed []string
	for _, res := range r.Tables {
		if res.Error != nil {
			failed = append(failed, fmt.Sprintf("%s: %s: %s", Item{Table: res.Table, Kind: res.Kind}, res.Error.Error, res.Error.Cause))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &FailedError{Failed: failed, Of: len(r.Tables)}
}

// Run runs the maintenance s asks for in this process, one table at a
// time, writing a line to progress as each starts and ends. A table that
// fails is reported and the others are still maintained; the error is
// then the report's Err. errName names an error as the state machine
// would (pipeline.ErrorName; nil: the Go type).
func Run(ctx context.Context, lake *icetable.Lake, tables []*contract.Table, s Start, progress io.Writer, errName func(error) string) (Report, error) {
	items, err := Plan(tables, s)
	if err != nil {
		return Report{}, err
	}
	if errName == nil {
		errName = func(err error) string { return fmt.Sprintf("%T", err) }
	}
	results := make([]Result, 0, len(items))
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return NewReport(results), fmt.Errorf("maintain: stopped before %s: %w", it, err)
		}
		fmt.Fprintf(progress, "maintain: [%d/%d] %s ...\n", i+1, len(items), it)
		res, err := Table(ctx, lake, tables, it)
		if err != nil {
			res.Error = &Failure{Error: errName(err), Cause: err.Error()}
		}
		fmt.Fprintf(progress, "maintain: [%d/%d] %s: %s\n", i+1, len(items), it, res.Summary())
		results = append(results, res)
	}
	r := NewReport(results)
	return r, r.Err()
}

// Summary is one line saying what the result is.
func (r Result) Summary() string {
	switch {
	case r.Error != nil:
		return fmt.Sprintf("FAILED after %.1fs: %s: %s", r.Seconds, r.Error.Error, r.Error.Cause)
	case r.Absent:
		return "absent (nothing committed to it yet)"
	}
	m := r.Maintenance
	verb := ""
	if m.DryRun {
		verb = "dry run, would have: "
	}
	return fmt.Sprintf("%s%d data files rewritten into %d, %d delete files folded, %d manifests merged, %d snapshots expired, %d orphans removed; now %d data files (%d bytes) in %d partitions, %d delete files (%.1fs)",
		verb, m.RewrittenDataFiles, m.AddedDataFiles, m.RemovedDeleteFiles, m.RewrittenManifests, m.ExpiredSnapshots, m.RemovedOrphans,
		m.DataFiles, m.DataBytes, m.Partitions, m.DeleteFiles, r.Seconds)
}
