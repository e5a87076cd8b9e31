package pipeline

import (
	"context"
	"fmt"

	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/validate"
)

// Validate evaluates the table's ruleset on the object an S3 Object
// Created event names. Its output (counts, verdict, keys; never rows) is
// the route task's input.
func (p *Pipeline) Validate(ctx context.Context, ev ObjectCreatedEvent) (*validate.Output, error) {
	key, err := p.cfg.lakeKey(ev)
	if err != nil {
		return nil, err
	}
	in := validate.Input{Key: key, ETag: ev.Detail.Object.ETag, Size: ev.Detail.Object.Size}
	out, err := validate.Validate(ctx, p.validateDeps(), in)
	if err != nil {
		return nil, workflowError(err)
	}
	return &out, nil
}

// Route archives the object, routes its rows to silver and discarded and
// deletes it from bronze.
func (p *Pipeline) Route(ctx context.Context, in validate.Output) (*route.Output, error) {
	out, err := route.Route(ctx, route.Deps{Deps: p.validateDeps(), Archive: p.cfg.Archive}, in)
	if err != nil {
		return nil, workflowError(err)
	}
	return &out, nil
}

func (p *Pipeline) validateDeps() validate.Deps {
	return validate.Deps{Lake: p.cfg.Lake, Tables: p.cfg.Tables, Now: p.cfg.Now}
}

// CrawlInput names the route record of the object just routed; crawl
// registers what that record lists. An empty RecordKey crawls Table (or
// every table) in full.
type CrawlInput struct {
	Table     string `json:"table,omitempty"`
	RecordKey string `json:"record_key,omitempty"`
}

// Crawl registers the tables and partitions that a route wrote.
func (p *Pipeline) Crawl(ctx context.Context, in CrawlInput) (*crawl.Output, error) {
	if p.cfg.Catalog == nil {
		return nil, &BadInputError{Task: "crawl", Reason: "no catalog configured"}
	}
	req := crawl.Input{Table: in.Table}
	if in.RecordKey != "" {
		rec, err := route.ReadRecord(ctx, p.cfg.Lake, in.RecordKey)
		if err != nil {
			return nil, workflowError(err)
		}
		if rec == nil {
			return nil, &BadInputError{Task: "crawl", Reason: fmt.Sprintf("no route record at %s", in.RecordKey)}
		}
		for _, o := range rec.Silver {
			req.Objects = append(req.Objects, o.Key)
		}
		for _, o := range rec.Discarded {
			req.Objects = append(req.Objects, o.Key)
		}
		for _, k := range []string{rec.ResultKey, in.RecordKey} {
			if k != "" {
				req.Objects = append(req.Objects, k)
			}
		}
	}
	c := &crawl.Crawler{Store: p.cfg.Lake, Catalog: p.cfg.Catalog, Contracts: p.cfg.Tables}
	out, err := c.Crawl(ctx, req)
	if err != nil {
		return nil, workflowError(err)
	}
	return out, nil
}
