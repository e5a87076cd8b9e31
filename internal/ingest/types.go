package ingest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Instant is a point in time at microsecond precision: microseconds since
// the Unix epoch, UTC. It is how cursor bounds and watermarks are kept, so
// that no session or server time zone can change them.
//
// In JSON it is an object {"us": <int64>, "utc": "<RFC 3339, UTC>"}: "us" is
// authoritative (and written as a string, so that JSON readers with 53-bit
// numbers keep every digit); "utc" is for humans and ignored when decoding.
type Instant int64

// InstantOf returns t truncated to the microsecond.
func InstantOf(t time.Time) Instant {
	return Instant(t.UnixMicro())
}

// Time returns the instant as a UTC time.
func (i Instant) Time() time.Time { return time.UnixMicro(int64(i)).UTC() }

// String renders the instant in RFC 3339 with microseconds, UTC.
func (i Instant) String() string { return i.Time().Format("2006-01-02T15:04:05.000000Z07:00") }

// keyPart renders the instant for object keys: sortable, no colons.
func (i Instant) keyPart() string { return i.Time().Format("20060102T150405.000000Z") }

type instantJSON struct {
	Micros string `json:"us"`
	UTC    string `json:"utc,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (i Instant) MarshalJSON() ([]byte, error) {
	return json.Marshal(instantJSON{Micros: strconv.FormatInt(int64(i), 10), UTC: i.String()})
}

// CatalogType is the catalog type of an instant's JSON (catalog.Typed).
func (Instant) CatalogType() string { return "struct<us:string,utc:string>" }

// UnmarshalJSON implements json.Unmarshaler; it reads "us" only.
func (i *Instant) UnmarshalJSON(b []byte) error {
	var v instantJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("ingest: instant: %w", err)
	}
	n, err := strconv.ParseInt(v.Micros, 10, 64)
	if err != nil {
		return fmt.Errorf("ingest: instant: \"us\" %q is not an integer number of microseconds", v.Micros)
	}
	*i = Instant(n)
	return nil
}

// KeyRange is a half-open range of a single-column integer primary key:
// From <= key < To. A nil bound is open (no lower or no upper limit), so
// the first and last ranges of a plan also cover keys inserted after it.
// The bounds are JSON strings so that no digit of an int64 is lost.
type KeyRange struct {
	Column string `json:"column"`
	From   *int64 `json:"from,omitempty,string"`
	To     *int64 `json:"to,omitempty,string"`
}

// keyPart renders the range for object keys: "min_100", "100_200", "200_max".
func (r *KeyRange) keyPart() string {
	if r == nil {
		return "all"
	}
	from, to := "min", "max"
	if r.From != nil {
		from = strconv.FormatInt(*r.From, 10)
	}
	if r.To != nil {
		to = strconv.FormatInt(*r.To, 10)
	}
	return from + "_" + to
}

// Request asks for one ingest run of one table: plan, extract and commit
// (the ingest Lambda's input and `lake ingest --table`).
type Request struct {
	// Table is the lake table name of a contract in the schemas folder.
	Table string `json:"table"`
}

// PlanRequest asks for a plan of Parts work items for one table.
type PlanRequest struct {
	Table string `json:"table"`
	// Parts is how many key ranges to split the table into (at most; fewer
	// when the table is small, its keys cluster, or its key is not a single
	// integer column). 0 or 1 means one item covering the whole table.
	Parts int `json:"parts,omitempty"`
}

// Plan is one ingest run's plan: its cursor interval [Lo, Hi) and the work
// items that together cover the table. Every item of a plan shares Lo and Hi.
type Plan struct {
	Table  string `json:"table"`
	Cursor string `json:"cursor"`
	// Lo is the watermark the plan starts from (inclusive); nil for a
	// table never ingested before (everything below Hi).
	Lo *Instant `json:"lo,omitempty"`
	// Hi is the run's exclusive upper bound and the next watermark.
	Hi Instant `json:"hi"`
	// HiReason says what fixed Hi (the clock, or the oldest transaction in
	// flight, or the standby's replay position) for logs and summaries.
	HiReason string `json:"hi_reason"`
	// WatermarkETag is the ETag of the watermark object read for Lo ("" if
	// there was none); Commit advances it only if it is still current.
	WatermarkETag string     `json:"watermark_etag,omitempty"`
	Items         []WorkItem `json:"items"`
}

// WorkItem is one extraction: the rows of Table with Lo <= cursor < Hi
// (plus those with a NULL cursor when the contract says include) whose key
// is in Range (nil: all keys).
type WorkItem struct {
	Table string    `json:"table"`
	Lo    *Instant  `json:"lo,omitempty"`
	Hi    Instant   `json:"hi"`
	Range *KeyRange `json:"range,omitempty"`
	// Snapshot, when set, is an exported PostgreSQL snapshot to read in
	// (SET TRANSACTION SNAPSHOT); only meaningful while the exporting
	// transaction is open, so only within one process.
	Snapshot string `json:"snapshot,omitempty"`
}

// Object is one bronze object written.
type Object struct {
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Result is what an ingest run (or one work item's extraction, or a
// commit) did.
type Result struct {
	Table   string    `json:"table"`
	Lo      *Instant  `json:"lo,omitempty"`
	Hi      Instant   `json:"hi"`
	Range   *KeyRange `json:"range,omitempty"`
	Objects []Object  `json:"objects"`
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	// Watermark is the new watermark when this call advanced it (Run and
	// Commit); nil for an extraction alone.
	Watermark *Instant `json:"watermark,omitempty"`
	// HiReason is copied from the plan.
	HiReason   string `json:"hi_reason,omitempty"`
	DurationMs int64  `json:"duration_ms"`
}

// CommitRequest asks to advance a plan's watermark once all its items are
// extracted: the plan and the items' results (for the totals recorded).
type CommitRequest struct {
	Plan    Plan     `json:"plan"`
	Results []Result `json:"results"`
}

// WatermarkRecord is the content of _meta/watermarks/<table>.json and of
// each history record under _meta/watermarks/history/<table>/: the state
// of one advance.
type WatermarkRecord struct {
	Table  string `json:"table"`
	Cursor string `json:"cursor"`
	// Watermark: every row version with cursor < Watermark that was
	// committed when the advancing run started is in bronze.
	Watermark Instant `json:"watermark"`
	// Previous is the watermark this advance started from (nil: first).
	Previous   *Instant `json:"previous,omitempty"`
	AdvancedAt Instant  `json:"advanced_at"`
	Objects    int      `json:"objects"`
	Rows       int64    `json:"rows"`
	Bytes      int64    `json:"bytes"`
}
