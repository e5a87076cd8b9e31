package validate

import (
	"fmt"
	"time"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// Deps are what the validate step works with.
type Deps struct {
	// Lake is the lake's store (bronze, _meta).
	Lake store.Store
	// Tables are the table contracts (contract.LoadDir); each names its
	// DQDL ruleset file.
	Tables []*contract.Table
	// Now is the clock for the times recorded in outputs; nil means
	// time.Now. Rules' now() is the object's Last-Modified time instead
	// (bronze.Object.RulesNow).
	Now func() time.Time
	// DQMemory bounds the rules' uniqueness and distinct-count state, in
	// bytes (dq.Options.MemoryBudget; 0: dq.DefaultMemoryBudget).
	DQMemory int64
}

// Clock is the time recorded in outputs: d.Now(), or time.Now, in UTC.
func (d Deps) Clock() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Input is the validate step's input: one bronze object version, as the
// S3 "Object Created" event names it (the state machine maps the event to
// it).
type Input struct {
	// Key is the object's key in the lake (no bucket, no lake prefix).
	Key string `json:"key"`
	// ETag is the version the event is about; empty means whatever is
	// there now.
	ETag string `json:"etag,omitempty"`
	// Size is the size the event reported (informational: the step uses
	// the size the store reports).
	Size int64 `json:"size,omitempty"`
}

// Verdict is what the workflow branches on after the validate step.
type Verdict string

// Verdict values: dq's three, and Done.
const (
	Pass   = Verdict(dq.Pass)   // every row goes to silver
	Split  = Verdict(dq.Split)  // valid rows to silver, invalid ones to discarded
	Reject = Verdict(dq.Reject) // the whole object to discarded (rows, or quarantine if unusable)
	// Done: nothing to do. The object version was routed and committed
	// already (a duplicate event or a retried execution), or the object
	// was replaced since the event (the new version has its own event).
	Done Verdict = "DONE"
)

// maxReason bounds the free-text fields of outputs; the full text is in
// the result under _meta/dq/.
const maxReason = 1024

// Clip shortens s to about 1 KiB for a state's output, saying how much
// was left out.
func Clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" … (%d more bytes in the result under %s)", len(s)-cut, layout.DQResultsPrefix)
}

// Output is the validate step's output: counts, the verdict and keys,
// never row data, so it stays a few KiB whatever the object or ruleset.
// It is the route step's input.
type Output struct {
	Key   string `json:"key"`
	ETag  string `json:"etag"`
	Size  int64  `json:"size"`
	Table string `json:"table"`
	Stem  string `json:"stem"`

	Verdict Verdict `json:"verdict"`
	// Reason explains a REJECT, SPLIT or DONE in one line (clipped to
	// 1 KiB).
	Reason string `json:"reason,omitempty"`
	// Problem is set when the object is unusable (verdict REJECT): it is
	// quarantined whole.
	Problem *bronze.Problem `json:"problem,omitempty"`
	// Routed is set when the object version was routed already but is
	// still in bronze (its commit did not finish): the route step hands
	// its record on to the commit again.
	Routed bool `json:"routed,omitempty"`

	Rows           int64   `json:"rows"`
	RowsPassed     int64   `json:"rows_passed"`
	RowsFailed     int64   `json:"rows_failed"`
	RulesProcessed int64   `json:"rules_processed"`
	RulesPassed    int64   `json:"rules_passed"`
	RulesFailed    int64   `json:"rules_failed"`
	Score          float64 `json:"score"`

	// ResultKey is the Glue-shaped result's key
	// (_meta/dq/<table>/<stem>.json).
	ResultKey string `json:"result_key,omitempty"`
	// RowLogKey is the row log's key (_meta/dqrows/<table>/<stem>.rowlog),
	// set when the object was evaluated.
	RowLogKey string `json:"row_log_key,omitempty"`
}

// ResultRecord is what _meta/dq/<table>/<stem>.json holds (one line of the
// meta.dq_results table): the object, when it was evaluated, and the full
// Glue-shaped result, or the problem that made the object unusable.
type ResultRecord struct {
	Key   string `json:"key"`
	ETag  string `json:"etag"`
	Size  int64  `json:"size"`
	Table string `json:"table"`
	// Ruleset is the DQDL file evaluated.
	Ruleset string `json:"ruleset"`
	// RulesNow is the instant the rules' now() meant: the object's
	// Last-Modified time.
	RulesNow    time.Time       `json:"rules_now"`
	EvaluatedAt time.Time       `json:"evaluated_at"`
	Verdict     Verdict         `json:"verdict"`
	Problem     *bronze.Problem `json:"problem,omitempty"`
	Result      *dq.Result      `json:"result,omitempty"`
	// RowLog is the row log's key.
	RowLog string `json:"row_log,omitempty"`
}
