package pipeline

import (
	"context"
	"fmt"

	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/reconcile"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/validate"
)

// ObjectInput is the validate task's input: the bucket, key, ETag and
// size of the object an S3 "Object Created" event names, which the state
// machine's Validate state picks out of the event.
type ObjectInput struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// Validate evaluates the table's ruleset on the object that in names. Its
// output (counts, verdict, keys; never rows) is the route task's input.
func (p *Pipeline) Validate(ctx context.Context, in ObjectInput) (*validate.Output, error) {
	key, err := p.cfg.lakeKey(in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	out, err := validate.Validate(ctx, p.validateDeps(), validate.Input{Key: key, ETag: in.ETag, Size: in.Size})
	if err != nil {
		return nil, WorkflowError("validate", err)
	}
	return &out, nil
}

// Route archives the object and routes its rows to silver and discarded,
// as the validate task's output says.
func (p *Pipeline) Route(ctx context.Context, in validate.Output) (*route.Output, error) {
	if p.cfg.Iceberg == nil {
		return nil, &BadInputError{Task: "route", Reason: "no Iceberg tables configured"}
	}
	d := route.Deps{Deps: p.validateDeps(), Archive: p.cfg.Archive, Iceberg: p.cfg.Iceberg}
	out, err := route.Route(ctx, d, in)
	if err != nil {
		return nil, WorkflowError("route", err)
	}
	return &out, nil
}

func (p *Pipeline) validateDeps() validate.Deps {
	return validate.Deps{Lake: p.cfg.Lake, Tables: p.cfg.Tables, Now: p.cfg.Now, DQMemory: p.cfg.DQMemory}
}

// CrawlInput names the route record of the object just routed: the crawl
// task commits what that record lists, then deletes the bronze object.
type CrawlInput struct {
	Table     string `json:"table"`
	RecordKey string `json:"record_key"`
}

// Crawl commits the data files that a route wrote to the Iceberg tables,
// then deletes the bronze object.
func (p *Pipeline) Crawl(ctx context.Context, in CrawlInput) (*crawl.Output, error) {
	c, err := p.crawler("crawl")
	if err != nil {
		return nil, err
	}
	if in.RecordKey == "" {
		return nil, &BadInputError{Task: "crawl", Reason: `"record_key" is required`}
	}
	rec, err := route.ReadRecord(ctx, p.cfg.Lake, in.RecordKey)
	if err != nil {
		return nil, WorkflowError("crawl", err)
	}
	if rec == nil {
		return nil, &BadInputError{Task: "crawl", Reason: fmt.Sprintf("no route record at %s", in.RecordKey)}
	}
	if rec.Table != in.Table {
		return nil, &BadInputError{Task: "crawl", Reason: fmt.Sprintf("route record %s is of table %q, not %q", in.RecordKey, rec.Table, in.Table)}
	}
	out, err := c.Crawl(ctx, rec)
	if err != nil {
		return nil, WorkflowError("crawl", err)
	}
	return out, nil
}

// crawler is the commit step's Crawler over the pipeline's lake, for task.
func (p *Pipeline) crawler(task string) (*crawl.Crawler, error) {
	if p.cfg.Catalog == nil || p.cfg.Iceberg == nil {
		return nil, &BadInputError{Task: task, Reason: "no catalog or Iceberg tables configured"}
	}
	return &crawl.Crawler{Store: p.cfg.Lake, Iceberg: p.cfg.Iceberg, Catalog: p.cfg.Catalog, Contracts: p.cfg.Tables}, nil
}

// Reconcile checks the lake's route records against its tables and
// repairs the difference (see package reconcile).
func (p *Pipeline) Reconcile(ctx context.Context, opts reconcile.Options) (*reconcile.Report, error) {
	c, err := p.crawler("reconcile")
	if err != nil {
		return nil, err
	}
	return reconcile.Run(ctx, c, opts)
}
