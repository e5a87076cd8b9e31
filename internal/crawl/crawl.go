// Package crawl is the crawl step, the commit of one routed object: it
// commits the data files the route step wrote and recorded (the route
// record) to the table's Iceberg tables, one commit per table
// (silver.<table>, silver.<table>_current as a merge by the cursor,
// discarded.<table>), registers the meta tables (meta.watermarks,
// meta.dq_results, meta.executions: JSON under _meta/, typed from the Go
// types of their records), then deletes the bronze object, which stays
// until its rows are committed so that a crashed or failed commit can
// always be done again. It reads no data object; a commit that the tables'
// history already holds (a retry, a duplicated execution) changes nothing.
//
// Crawl is the library function behind the crawl Lambda (tasks/crawl) and
// the local runner; it is pure Go (no cgo).
package crawl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// Output is the crawl state's output: the commits, and what changed in
// the meta tables.
type Output struct {
	Commits []icetable.Committed `json:"commits"`
	Tables  []TableResult        `json:"tables,omitempty"`
	// BronzeDeleted is set when the crawl deleted the bronze object (it is
	// not set when the object was gone already, or replaced).
	BronzeDeleted bool `json:"bronze_deleted,omitempty"`
}

// TableResult is what the crawl did to one meta table.
type TableResult struct {
	Table        string   `json:"table"` // e.g. "meta.watermarks"
	Created      bool     `json:"created,omitempty"`
	AddedColumns []string `json:"added_columns,omitempty"`
}

// metaRecords are the record types of the meta tables, by name.
var metaRecords = map[string]reflect.Type{
	"watermarks": reflect.TypeFor[ingest.WatermarkRecord](),
	"dq_results": reflect.TypeFor[validate.ResultRecord](),
	"executions": reflect.TypeFor[asl.Execution](),
}

// Crawler commits routed objects of one lake.
type Crawler struct {
	Store store.Store
	// Iceberg are the lake's Iceberg tables.
	Iceberg *icetable.Lake
	// Catalog holds the meta tables.
	Catalog   catalog.Catalog
	Contracts []*contract.Table
}

// Crawl commits the data files that rec lists to their tables and
// registers the meta tables, then deletes the bronze object if it is
// still the version routed. Errors: *icetable.CommitConflictError (the
// object stays in bronze, to be committed again), *icetable.
// MissingDataFileError (the record's files are gone: the record is
// deleted, so that the object is routed again), *icecatalog.
// CorruptMetadataError, *store.StoreUnavailableError (retryable).
func (c *Crawler) Crawl(ctx context.Context, rec *route.Record) (*Output, error) {
	t, err := contract.Find(c.Contracts, rec.Table)
	if err != nil {
		return nil, fmt.Errorf("crawl: table %q: %w", rec.Table, err)
	}
	out := &Output{Commits: []icetable.Committed{}}
	for _, f := range []icetable.Files{rec.Silver, rec.Current, rec.Discarded} {
		if f.Table == "" { // a quarantined object wrote no files
			continue
		}
		done, err := c.Iceberg.Commit(ctx, t, f)
		var missing *icetable.MissingDataFileError
		if errors.As(err, &missing) {
			if derr := c.Store.Delete(ctx, rec.RecordKey); derr != nil {
				return nil, store.Wrap(derr, "crawl: %s: data file missing (%v); delete the route record", rec.Key, err)
			}
			return nil, missing
		}
		if err != nil {
			return nil, store.Wrap(err, "crawl")
		}
		out.Commits = append(out.Commits, done)
	}
	if out.Tables, err = c.RegisterMeta(ctx); err != nil {
		return nil, err
	}
	if out.BronzeDeleted, err = deleteBronze(ctx, c.Store, rec.Key, rec.ETag); err != nil {
		return nil, err
	}
	return out, nil
}

// RegisterMeta registers the meta tables in the catalog, creating them or
// adding the columns their record types gained; it returns the tables it
// changed.
func (c *Crawler) RegisterMeta(ctx context.Context) ([]TableResult, error) {
	if err := c.Catalog.EnsureDatabase(ctx, layout.DatabaseMeta); err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	var out []TableResult
	for _, m := range layout.MetaTables {
		r, err := c.meta(ctx, m)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// meta registers a meta table with the columns of its record type; a
// column the type no longer has stays (older records have it).
func (c *Crawler) meta(ctx context.Context, m layout.MetaTable) (*TableResult, error) {
	cols, err := catalog.RecordColumns(metaRecords[m.Name])
	if err != nil {
		return nil, fmt.Errorf("crawl: meta.%s: %w", m.Name, err)
	}
	res := &TableResult{Table: layout.DatabaseMeta + "." + m.Name}
	def := catalog.Table{Database: layout.DatabaseMeta, Name: m.Name, Description: m.Description, Location: m.Location, Format: catalog.FormatJSON, Files: m.File}
	if _, err := catalog.Update(ctx, c.Catalog, layout.DatabaseMeta, m.Name, func(cur *catalog.Table) (*catalog.Table, error) {
		next := def
		res.Created, res.AddedColumns = cur == nil, nil
		if cur != nil {
			next.Columns = slices.Clone(cur.Columns)
		}
		for _, col := range cols {
			if !slices.ContainsFunc(next.Columns, func(c catalog.Column) bool { return c.Name == col.Name }) {
				next.Columns = append(next.Columns, col)
				if cur != nil {
					res.AddedColumns = append(res.AddedColumns, col.Name)
				}
			}
		}
		if cur != nil && catalog.SameDefinition(cur, &next) {
			return nil, nil
		}
		return &next, nil
	}); err != nil {
		return nil, err
	}
	if !res.Created && len(res.AddedColumns) == 0 {
		return nil, nil
	}
	return res, nil
}

// deleteBronze deletes the bronze object at key if it is still at etag; a
// newer version is left for its own event. It reports whether it deleted.
func deleteBronze(ctx context.Context, st store.Store, key, etag string) (bool, error) {
	info, err := st.Stat(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, store.Wrap(err, "crawl: stat %q", key)
	case store.NormalizeETag(info.ETag) != store.NormalizeETag(etag):
		return false, nil
	}
	if err := st.Delete(ctx, key); err != nil {
		return false, store.Wrap(err, "crawl: delete %q", key)
	}
	return true, nil
}
