package route

import (
	"fmt"
	"time"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// maxPartitionsOut caps Output.Partitions (the route record has them all).
const maxPartitionsOut = 1000

// Deps are what the route step works with.
type Deps struct {
	validate.Deps
	// Archive is where the original objects are kept (in AWS a separate,
	// Object Lock bucket); nil means the lake store, under archive/.
	Archive store.Store
	// Iceberg are the lake's Iceberg tables the rows are written into
	// (silver.<table>, silver.<table>_current, discarded.<table>).
	Iceberg *icetable.Lake
}

// Input is the route step's input: the validate step's output.
type Input = validate.Output

// Output is the route step's output: counts and keys, no row data. It is
// also the start of the route record, which has everything in full.
type Output struct {
	Key   string `json:"key"`
	ETag  string `json:"etag"`
	Table string `json:"table"`
	Stem  string `json:"stem"`
	// Verdict is the verdict routed by, or DONE when route was handed
	// validate's DONE (nothing to do; an object replaced since it was
	// validated is a *bronze.ObjectChangedError instead).
	Verdict validate.Verdict `json:"verdict"`
	Reason  string           `json:"reason,omitempty"`
	Problem *bronze.Problem  `json:"problem,omitempty"`
	// AlreadyRouted: the route record existed (a duplicate event, or a
	// retry after the record was written); the rest is the record's.
	AlreadyRouted bool `json:"already_routed,omitempty"`

	RowsIn        int64 `json:"rows_in"`
	SilverRows    int64 `json:"silver_rows"`
	DiscardedRows int64 `json:"discarded_rows"`
	// SilverFiles and DiscardedFiles count the data files written.
	SilverFiles    int `json:"silver_files"`
	DiscardedFiles int `json:"discarded_files"`
	// Partitions are the silver partitions written (e.g.
	// "created_at_month=2026-11"), sorted, at most 1000 (all are in the
	// route record).
	Partitions          []string `json:"partitions,omitempty"`
	PartitionsTruncated bool     `json:"partitions_truncated,omitempty"`

	ArchiveKey    string `json:"archive_key"`
	QuarantineKey string `json:"quarantine_key,omitempty"`
	ResultKey     string `json:"result_key,omitempty"`
	RecordKey     string `json:"record_key"`
}

// Record is the route record at _meta/routes/<table>/<stem>.json, written
// last: its presence means the object version is routed. It is the commit
// step's input: the data files written for each of the table's Iceberg
// tables, not yet committed, so that step reads nothing else.
type Record struct {
	Output
	RulesNow time.Time `json:"rules_now"`
	RoutedAt time.Time `json:"routed_at"`
	// Silver, Current and Discarded are the data files of the valid rows
	// for silver.<table> and silver.<table>_current, and of the rejected
	// rows for discarded.<table> (none for a quarantined object).
	Silver    icetable.Files `json:"silver"`
	Current   icetable.Files `json:"current"`
	Discarded icetable.Files `json:"discarded"`
}

// QuarantineReport is discarded/<table>/quarantine/<stem>/report.json.
type QuarantineReport struct {
	Object        string         `json:"object"` // the bronze key
	ETag          string         `json:"etag"`
	Size          int64          `json:"size"`
	Table         string         `json:"table"`
	Problem       bronze.Problem `json:"problem"`
	QuarantinedAt time.Time      `json:"quarantined_at"`
	Quarantine    string         `json:"quarantine"` // the copy next to this report
	Archive       string         `json:"archive"`
}

// ConservationError means the rows written to silver and discarded do not
// add up to the rows of the object. Nothing is deleted from bronze and no
// route record is written; it is a bug, not retryable.
type ConservationError struct {
	Key                       string
	RowsIn, Silver, Discarded int64
	Detail                    string
}

func (e *ConservationError) Error() string {
	return fmt.Sprintf("route: %s: rows in %d != silver %d + discarded %d (%s); the object stays in bronze",
		e.Key, e.RowsIn, e.Silver, e.Discarded, e.Detail)
}

// ResultMismatchError means the validate step's result handed to route is
// not the object's: it names another object or version, or covers another
// number of rows. Nothing is written; the object stays in bronze. Not
// retryable: validate the object again.
type ResultMismatchError struct {
	Key    string
	Detail string
}

func (e *ResultMismatchError) Error() string {
	return fmt.Sprintf("route: %s: the validation result does not belong to this object: %s; the object stays in bronze", e.Key, e.Detail)
}
