// Package pipeline is the state machine's task code: one method per Task
// state, with typed JSON inputs and outputs, over the step packages
// (ingest, validate, route, crawl). The Lambdas in tasks/ call these
// methods through lambda.Start and the local runner (`lake run`, `lake
// serve`) calls the same methods through Handlers, so the code that runs in
// AWS and on a laptop is the same.
package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/store"
)

// Config is everything the tasks need, read once when a Lambda starts or
// when the lake command starts.
type Config struct {
	// Lake is the lake root (bronze, silver, discarded, _meta).
	Lake store.Store
	// Bucket and Prefix locate the lake in S3 events: an event for another
	// bucket is refused, and Prefix is stripped from event keys. An empty
	// Bucket accepts any (local lakes).
	Bucket, Prefix string
	// Archive receives the byte-for-byte copies of bronze objects: in AWS
	// a separate Object Lock bucket, locally the lake itself.
	Archive store.Store
	// Tables are the table contracts.
	Tables []*contract.Table
	// Source is the PostgreSQL URL; only plan and ingest need it.
	Source string
	// Catalog is where crawl registers the meta tables (the Iceberg
	// tables are in Iceberg); only crawl (and reconcile) need it.
	Catalog catalog.Catalog
	// Ingest tunes extraction.
	Ingest ingest.Options
	// Parts is how many key ranges a scheduled plan splits each table
	// into (0 or 1: one).
	Parts int
	// Iceberg are the lake's Iceberg tables; route writes them, crawl
	// commits to them and maintain maintains them. Nil: those of Lake, with their pointers in the
	// lake (OpenIceberg), when the store can say its URL.
	Iceberg *icetable.Lake
	// DQMemory bounds the rules' uniqueness and distinct-count state
	// while validating an object, in bytes (0: dq.DefaultMemoryBudget).
	DQMemory int64
	// Now is the clock (tests fix it); nil means time.Now.
	Now func() time.Time
	// Metrics, when set, publishes each task's metrics (metrics.go).
	Metrics *metrics.Emitter
}

// Pipeline runs the tasks over one Config.
type Pipeline struct {
	cfg Config
	ing *ingest.Ingester
}

// New returns a Pipeline over cfg.
func New(cfg Config) *Pipeline {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Archive == nil {
		cfg.Archive = cfg.Lake
	}
	if cfg.Iceberg == nil && cfg.Lake != nil {
		if _, ok := cfg.Lake.(store.Locator); ok {
			cfg.Iceberg, _ = OpenIceberg(cfg.Lake, "", nil) // an error leaves it nil: route and crawl then say so
		}
	}
	return &Pipeline{cfg: cfg, ing: ingest.New(cfg.Lake, cfg.Source, cfg.Tables, cfg.Ingest)}
}

// Iceberg are the lake's Iceberg tables the pipeline writes.
func (p *Pipeline) Iceberg() *icetable.Lake { return p.cfg.Iceberg }

// StartInput is a scheduled or manual start of the ingest path: the
// tables to ingest (empty: every table with a contract) and how many key
// ranges to split each into.
type StartInput struct {
	// Source says who started the execution: "schedule" or "manual".
	Source string   `json:"source,omitempty"`
	Tables []string `json:"tables,omitempty"`
	Parts  int      `json:"parts,omitempty"`
}

// PlanOutput is the plan of one ingest execution: one plan per table,
// each with the work items the Map state extracts in parallel.
type PlanOutput struct {
	Plans []ingest.Plan `json:"plans"`
}

// Plan plans an ingest of the requested tables.
func (p *Pipeline) Plan(ctx context.Context, in StartInput) (*PlanOutput, error) {
	names := in.Tables
	if len(names) == 0 {
		for _, t := range p.cfg.Tables {
			names = append(names, t.Name)
		}
	}
	parts := in.Parts
	if parts == 0 {
		parts = p.cfg.Parts
	}
	out := &PlanOutput{Plans: []ingest.Plan{}}
	for _, name := range names {
		if _, err := contract.Find(p.cfg.Tables, name); err != nil {
			return nil, &bronze.UnknownTableError{Table: name, Err: err}
		}
		plan, err := p.ing.Plan(ctx, ingest.PlanRequest{Table: name, Parts: parts})
		if err != nil {
			return nil, WorkflowError("plan", err)
		}
		out.Plans = append(out.Plans, *plan)
	}
	return out, nil
}

// IngestInput is the ingest function's input: exactly one of Run (a whole
// table in one invocation: plan, extract and commit in one snapshot),
// Extract (a work item of a plan split into key ranges, from the Map
// state) and Commit (advance the watermark once every item of that plan
// is extracted).
type IngestInput struct {
	Run     *ingest.Request       `json:"run,omitempty"`
	Extract *ingest.WorkItem      `json:"extract,omitempty"`
	Commit  *ingest.CommitRequest `json:"commit,omitempty"`
}

// Ingest ingests a whole table, extracts one work item into bronze, or
// commits a plan. A table planned as one range is ingested whole (Run), so
// that a scheduled run keeps the full no-loss guarantee of one snapshot;
// key ranges read by separate invocations each read their own snapshot
// (docs/ingest.md).
func (p *Pipeline) Ingest(ctx context.Context, in IngestInput) (*ingest.Result, error) {
	var (
		res *ingest.Result
		err error
	)
	switch {
	case !exactlyOne(in.Run != nil, in.Extract != nil, in.Commit != nil):
		return nil, &BadInputError{Task: "ingest", Reason: `want exactly one of "run", "extract" and "commit"`}
	case in.Run != nil:
		res, err = p.ing.Run(ctx, *in.Run)
	case in.Extract != nil:
		res, err = p.ing.Extract(ctx, *in.Extract)
		if err == nil {
			// The Map state gathers every item's result into the commit's
			// input: keep them small whatever the number of objects (their
			// keys are in bronze; the counts are what the commit records).
			res.Objects = nil
		}
	default:
		res, err = p.ing.Commit(ctx, *in.Commit)
	}
	if err != nil {
		return nil, WorkflowError("ingest", err)
	}
	return res, nil
}

// FailureInput is what the Catch of a state hands to the record-failure
// task: the execution and state that failed, the error and cause Step
// Functions reported, and the state input at the time (the object, the
// plan...).
type FailureInput struct {
	Execution string          `json:"execution"`
	State     string          `json:"state,omitempty"`
	Error     ErrorInfo       `json:"error"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// ErrorInfo is the Error and Cause that a Catch puts at its ResultPath.
type ErrorInfo struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// FailureOutput says where the failure record was written.
type FailureOutput struct {
	Key string `json:"key"`
}

// RecordFailure writes a failure record under _meta/failures/. The key is
// the execution's name, so a retried record overwrites itself. It never
// touches the failed object: bronze keeps it for the next attempt.
func (p *Pipeline) RecordFailure(ctx context.Context, in FailureInput) (*FailureOutput, error) {
	if in.Execution == "" {
		return nil, &BadInputError{Task: "recordfailure", Reason: `"execution" is required`}
	}
	rec := struct {
		FailureInput
		RecordedAt time.Time `json:"recorded_at"`
	}{in, p.cfg.Now().UTC()}
	key := layout.Failure(in.Execution)
	if err := store.ValidateKey(key); err != nil {
		return nil, &BadInputError{Task: "recordfailure", Reason: err.Error()}
	}
	if _, err := store.PutJSON(ctx, p.cfg.Lake, key, rec, nil); err != nil {
		return nil, WorkflowError("recordfailure", err)
	}
	return &FailureOutput{Key: key}, nil
}

// TaskNames are the state machine's task functions, in the order of the
// workflow; each has a tasks/<name>/main.go.
var TaskNames = []string{"plan", "ingest", "validate", "route", "crawl", "recordfailure", "maintain"}

// Handler is a task as a JSON-in, JSON-out function: what each Lambda in
// tasks/ starts (lambda.Start) and what the local interpreter calls, so
// both decode, fail and publish metrics the same way.
type Handler func(context.Context, json.RawMessage) (json.RawMessage, error)

// Handlers returns the tasks keyed by task name (TaskNames).
func (p *Pipeline) Handlers() map[string]Handler {
	return map[string]Handler{
		"plan":          handler(p, "plan", p.Plan),
		"ingest":        handler(p, "ingest", p.Ingest),
		"validate":      handler(p, "validate", p.Validate),
		"route":         handler(p, "route", p.Route),
		"crawl":         handler(p, "crawl", p.Crawl),
		"recordfailure": handler(p, "recordfailure", p.RecordFailure),
		"maintain":      handler(p, "maintain", p.Maintain),
	}
}

// Handler returns the task named name; it panics for a name that is not
// in TaskNames (a Lambda's main names its own task).
func (p *Pipeline) Handler(name string) Handler {
	h, ok := p.Handlers()[name]
	if !ok {
		panic("pipeline: no task " + name)
	}
	return h
}

// handler adapts a typed task method: the input is decoded strictly (an
// unknown field, a wrong type or trailing data is a *BadInputError naming
// it), the returned error is passed through untouched, so its type name
// is the error name the state machine sees, and every call, failed ones
// included, publishes the task's metrics (metrics.go).
func handler[In, Out any](p *Pipeline, task string, f func(context.Context, In) (Out, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		start := time.Now()
		var out Out
		in, err := decodeStrict[In](raw)
		if err != nil {
			err = &BadInputError{Task: task, Reason: err.Error()}
		} else {
			out, err = f(ctx, in)
		}
		p.measure(task, in, out, err, time.Since(start))
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// decodeStrict decodes one JSON value into an In, refusing unknown fields
// and anything after the value.
func decodeStrict[In any](raw []byte) (In, error) {
	var in In
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, err
	}
	if dec.More() {
		return in, errors.New("data after the input's JSON value")
	}
	return in, nil
}
