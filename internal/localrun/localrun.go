// Package localrun runs the deployed state machine definition on a laptop,
// the way EventBridge and Step Functions run it in AWS: the embedded
// statemachine/pipeline.asl.json, loaded by the local ASL interpreter with
// its Task states bound to the pipeline's task code in process, started for
// a schedule and for each object waiting in bronze/landing/; and
// statemachine/maintain.asl.json, the maintenance of the Iceberg tables,
// on a schedule of its own.
//
// Imported by the lake command (`lake run`, `lake serve`).
package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/statemachine"
)

// Bucket is the bucket name the local runner puts in Object Created events
// (and substitutes for ${LakeBucket}) when the lake is not in S3.
const Bucket = "local-lake"

// PipelineName is the name of the pipeline state machine when it runs
// locally (its ARN is arn:aws:states:local:000000000000:stateMachine:lake-pipeline).
const PipelineName = "lake-pipeline"

// MaintainName is the name of the maintain state machine when it runs
// locally.
const MaintainName = "lake-maintain"

// Runner starts executions of the pipeline state machine.
type Runner struct {
	machine    *asl.Machine
	maintainer *asl.Machine // statemachine/maintain.asl.json
	definition string       // after substitution
	pipeline   *pipeline.Pipeline
	clock      asl.Clock
	lake       store.Store
	bucket     string
	prefix     string
	execs      *execstore.Store
	log        io.Writer
	now        func() time.Time
	// Concurrency is how many object executions run at once (default 4).
	Concurrency int
}

// Options configure a Runner.
type Options struct {
	// Bucket and Prefix are the lake's S3 location when it is in S3 (events
	// then carry the real bucket and full key); empty for local lakes.
	Bucket, Prefix string
	// Log receives one line per execution started and ended (nil: none).
	Log io.Writer
	// Clock drives the interpreter (nil: real time).
	Clock asl.Clock
	// Finder names the command in the cause of executions it finds
	// abandoned by a dead process (default "lake").
	Finder string
}

// functionName is the local Lambda function name of a task, as the
// interpreter's handlers are keyed (lake-plan, lake-ingest, ...).
func functionName(task string) string { return "lake-" + task }

// functionARN is the local ARN substituted for a task's function.
func functionARN(task string) string {
	return "arn:aws:lambda:local:000000000000:function:" + functionName(task)
}

// substitutions are template.yaml's DefinitionSubstitutions, for a local
// run.
func substitutions(bucket string) map[string]string {
	return map[string]string{
		"PlanFunctionArn":          functionARN("plan"),
		"IngestFunctionArn":        functionARN("ingest"),
		"ValidateFunctionArn":      functionARN("validate"),
		"RouteFunctionArn":         functionARN("route"),
		"CrawlFunctionArn":         functionARN("crawl"),
		"RecordFailureFunctionArn": functionARN("recordfailure"),
		"MaintainFunctionArn":      functionARN("maintain"),
		"LakeBucket":               bucket,
	}
}

// usedSubstitutions are the substitutions whose placeholders def uses.
func usedSubstitutions(def []byte, bucket string) map[string]string {
	subs := map[string]string{}
	for k, v := range substitutions(bucket) {
		if bytes.Contains(def, []byte("${"+k+"}")) {
			subs[k] = v
		}
	}
	return subs
}

// New loads the pipeline definition with p's tasks as its handlers. Every
// execution is kept in lake by an execstore.Store (Executions).
func New(p *pipeline.Pipeline, lake store.Store, opts Options) (*Runner, error) {
	bucket := opts.Bucket
	if bucket == "" {
		bucket = Bucket
	}
	m, err := Load(PipelineName, statemachine.Pipeline, p, bucket, opts.Clock)
	if err != nil {
		return nil, fmt.Errorf("localrun: statemachine/pipeline.asl.json: %w", err)
	}
	def, err := asl.Substitute(string(statemachine.Pipeline), usedSubstitutions(statemachine.Pipeline, bucket))
	if err != nil {
		return nil, fmt.Errorf("localrun: statemachine/pipeline.asl.json: %w", err)
	}
	mm, err := Load(MaintainName, statemachine.Maintain, p, bucket, opts.Clock)
	if err != nil {
		return nil, fmt.Errorf("localrun: statemachine/maintain.asl.json: %w", err)
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	return &Runner{
		machine: m, maintainer: mm, definition: def, pipeline: p, clock: opts.Clock, lake: lake, bucket: bucket, prefix: opts.Prefix,
		execs: execstore.New(lake, execstore.Options{Finder: opts.Finder, Log: log}),
		log:   log, now: time.Now, Concurrency: 4,
	}, nil
}

// Executions is where the runner keeps its executions; it records any
// other machine's too (the served API uses it).
func (r *Runner) Executions() *execstore.Store { return r.execs }

// Machine is the loaded pipeline state machine.
func (r *Runner) Machine() *asl.Machine { return r.machine }

// Definition is the pipeline's definition as loaded, placeholders
// substituted.
func (r *Runner) Definition() string { return r.definition }

// LoadMachine loads any definition as Load does, bound to the runner's
// pipeline and lake.
func (r *Runner) LoadMachine(name string, def []byte) (*asl.Machine, error) {
	return Load(name, def, r.pipeline, r.bucket, r.clock)
}

// ReapAbandoned marks ABORTED the executions left RUNNING by a process
// that died, logging each; `lake run` and `lake serve` call it when they
// start.
func (r *Runner) ReapAbandoned(ctx context.Context) error {
	reaped, err := r.execs.Reap(ctx)
	for _, e := range reaped {
		fmt.Fprintf(r.log, "%s ABORTED: %s\n", e.Name, e.Cause)
	}
	return err
}

// Load loads any definition for the local interpreter as the state
// machine name, with p's tasks bound as the Lambda functions lake-plan,
// lake-ingest, ... and template.yaml's DefinitionSubstitutions, those of
// them that def uses, set to those functions' local ARNs and bucket.
func Load(name string, def []byte, p *pipeline.Pipeline, bucket string, clock asl.Clock) (*asl.Machine, error) {
	handlers := map[string]asl.Handler{}
	for name, h := range p.Handlers() {
		handlers[functionName(name)] = asl.Handler(h)
	}
	return asl.Load(def, asl.Options{
		Name:          name,
		Substitutions: usedSubstitutions(def, bucket),
		Handlers:      handlers,
		Clock:         clock,
	})
}

// Start runs one execution for a scheduled or manual start.
func (r *Runner) Start(ctx context.Context, in pipeline.StartInput) (*asl.Execution, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, "ingest", raw)
}

// Maintain runs one execution of the maintain state machine: the
// maintenance of the lake's Iceberg tables that in asks for. It takes no
// lease; its callers do (maintain.Lock).
func (r *Runner) Maintain(ctx context.Context, in maintain.Start) (*asl.Execution, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return r.runOn(ctx, r.maintainer, "maintenance", raw)
}

// Object runs one execution for an Object Created event of obj.
func (r *Runner) Object(ctx context.Context, obj store.ObjectInfo) (*asl.Execution, error) {
	raw, err := r.ObjectEvent(obj)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, obj.Key, raw)
}

// ObjectEvent is the Object Created event, as EventBridge sends it, that
// starts the execution for obj, an object of the lake.
func (r *Runner) ObjectEvent(obj store.ObjectInfo) ([]byte, error) {
	return ObjectEvent(r.bucket, r.prefix, obj, r.now())
}

// ObjectEvent is the Object Created event EventBridge sends at time at
// for obj, an object of the lake at bucket and prefix (S3Location's):
// the input that starts the pipeline for it, locally or in AWS.
func ObjectEvent(bucket, prefix string, obj store.ObjectInfo, at time.Time) ([]byte, error) {
	if bucket == "" {
		bucket = Bucket
	}
	key := obj.Key
	if prefix != "" {
		key = prefix + "/" + key
	}
	return json.Marshal(pipeline.NewObjectCreatedEvent(bucket, key, obj.ETag, obj.Size, at.UTC().Format(time.RFC3339)))
}

func (r *Runner) run(ctx context.Context, what string, input []byte) (*asl.Execution, error) {
	return r.runOn(ctx, r.machine, what, input)
}

// runOn runs one execution of m, recorded with the runner's executions,
// and logs its end.
func (r *Runner) runOn(ctx context.Context, m *asl.Machine, what string, input []byte) (*asl.Execution, error) {
	exec, err := m.Run(ctx, input, asl.RunOptions{Recorder: r.execs})
	if err != nil {
		return exec, fmt.Errorf("localrun: %s: %w", what, err)
	}
	line := fmt.Sprintf("%s %s %s", exec.Name, exec.Status, what)
	if exec.Error != "" {
		line += fmt.Sprintf(": %s: %s", exec.Error, exec.Cause)
	}
	fmt.Fprintln(r.log, line)
	return exec, nil
}

// Pending lists the objects waiting in bronze/landing/.
func (r *Runner) Pending(ctx context.Context) ([]store.ObjectInfo, error) {
	var out []store.ObjectInfo
	for obj, err := range r.lake.List(ctx, layout.LandingPrefix) {
		if err != nil {
			return nil, fmt.Errorf("localrun: list %s: %w", layout.LandingPrefix, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// Objects runs one execution per object, Concurrency at a time, and
// returns the executions in the order of objs. An error starting an
// execution (not an execution that failed) is returned after the others
// finish.
func (r *Runner) Objects(ctx context.Context, objs []store.ObjectInfo) ([]*asl.Execution, error) {
	execs := make([]*asl.Execution, len(objs))
	errs := make([]error, len(objs))
	n := max(r.Concurrency, 1)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, obj := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			execs[i], errs[i] = r.Object(ctx, obj)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return execs, err
		}
	}
	return execs, nil
}
