// Package pipelinetest runs the object steps of a Pipeline one at a time,
// for tests that stop an object between them. Imported by tests only.
package pipelinetest

import (
	"context"
	"testing"

	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
)

// Route validates and routes the bronze object info, without its commit,
// and returns the route's output.
func Route(t testing.TB, p *pipeline.Pipeline, info store.ObjectInfo) *route.Output {
	t.Helper()
	ctx := context.Background()
	v, err := p.Validate(ctx, pipeline.ObjectInput{Key: info.Key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		t.Fatalf("validate %s: %v", info.Key, err)
	}
	out, err := p.Route(ctx, *v)
	if err != nil {
		t.Fatalf("route %s: %v", info.Key, err)
	}
	return out
}

// Run validates, routes and commits the bronze object info, and returns
// the route's output.
func Run(t testing.TB, p *pipeline.Pipeline, info store.ObjectInfo) *route.Output {
	t.Helper()
	out := Route(t, p, info)
	if _, err := p.Crawl(context.Background(), pipeline.CrawlInput{Table: out.Table, RecordKey: out.RecordKey}); err != nil {
		t.Fatalf("commit %s: %v", info.Key, err)
	}
	return out
}
