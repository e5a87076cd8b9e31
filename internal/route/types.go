package route

import (
	"fmt"
	"time"

	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// DefaultMaxOpenPartitions is Deps.MaxOpenPartitions when it is 0.
const DefaultMaxOpenPartitions = 64

// maxPartitionsOut caps Output.Partitions (the route record has them all).
const maxPartitionsOut = 1000

// Deps are what the route step works with.
type Deps struct {
	validate.Deps
	// Archive is where the original objects are kept (in AWS a separate,
	// Object Lock bucket); nil means the lake store, under archive/.
	Archive store.Store
	// MaxOpenPartitions caps the silver partition writers open at once:
	// each holds a row group being built and an upload in flight. An
	// object whose rows span more partitions is written in several
	// passes, each over at most this many partitions, so that every
	// partition still gets one object (0: DefaultMaxOpenPartitions).
	MaxOpenPartitions int
	// Writer tunes the Parquet objects written (zero value: defaults).
	Writer lakeparquet.Options
}

// Input is the route step's input: the validate step's output.
type Input = validate.Output

// Output is the route step's output: counts and keys, no row data.
type Output struct {
	Key   string `json:"key"`
	ETag  string `json:"etag"`
	Table string `json:"table"`
	Stem  string `json:"stem"`
	// Verdict is the verdict routed by (the route step's own evaluation),
	// or DONE when there was nothing to do.
	Verdict validate.Verdict  `json:"verdict"`
	Reason  string            `json:"reason,omitempty"`
	Problem *validate.Problem `json:"problem,omitempty"`
	// AlreadyRouted: the route record existed (a duplicate event or a
	// retry after the record was written); the rest is the record's.
	AlreadyRouted bool `json:"already_routed,omitempty"`

	RowsIn           int64 `json:"rows_in"`
	SilverRows       int64 `json:"silver_rows"`
	DiscardedRows    int64 `json:"discarded_rows"`
	SilverObjects    int   `json:"silver_objects"`
	DiscardedObjects int   `json:"discarded_objects"`
	// Partitions are the silver partitions written (e.g. "dt=2026-11-26"),
	// sorted, at most 1000 (all are in the route record).
	Partitions          []string `json:"partitions,omitempty"`
	PartitionsTruncated bool     `json:"partitions_truncated,omitempty"`

	ArchiveKey    string `json:"archive_key"`
	QuarantineKey string `json:"quarantine_key,omitempty"`
	ResultKey     string `json:"result_key"`
	RecordKey     string `json:"record_key"`
}

// Record is the route record at _meta/routes/<table>/<stem>.json, written
// last: its presence means the object version is routed.
type Record struct {
	Output
	RulesNow  time.Time            `json:"rules_now"`
	RoutedAt  time.Time            `json:"routed_at"`
	Silver    []lakeparquet.Object `json:"silver"`
	Discarded []lakeparquet.Object `json:"discarded"`
	// AllPartitions are every silver partition written.
	AllPartitions []string `json:"all_partitions,omitempty"`
}

// QuarantineReport is discarded/<table>/quarantine/<stem>/report.json.
type QuarantineReport struct {
	Object        string           `json:"object"` // the bronze key
	ETag          string           `json:"etag"`
	Size          int64            `json:"size"`
	Table         string           `json:"table"`
	Problem       validate.Problem `json:"problem"`
	QuarantinedAt time.Time        `json:"quarantined_at"`
	Quarantine    string           `json:"quarantine"` // the copy next to this report
	Archive       string           `json:"archive"`
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
