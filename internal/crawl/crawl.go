// Package crawl is the crawl step, the commit of one routed object: it
// registers in the catalog what the route step wrote and recorded (the
// route record: objects, partitions, columns), then deletes the bronze
// object, which stays until its outputs are catalogued so that a crashed
// or failed crawl can always be done again. It reads no object: the
// silver.<table> and discarded.<table> tables and their partitions come
// from the record, the meta tables (meta.watermarks, meta.dq_results,
// meta.executions) from the Go types of their records.
//
// Schema drift: a column that appears in a newer record is appended to
// the table, and older objects read it as NULL. A column whose type
// changed, or a catalogued column that the record lacks and the source no
// longer has (ingest's _meta/tables/<table>/schema.json), is reported as a
// *SchemaDriftError and the table is left unchanged: nothing is retyped,
// dropped or coerced.
//
// Crawl is the library function behind the crawl Lambda (tasks/crawl) and
// the local runner; it is pure Go (no cgo) and works with any
// catalog.Catalog (catalog/localcatalog, catalog/gluecatalog).
package crawl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// Output is the crawl state's output: what changed in the catalog.
type Output struct {
	Tables []TableResult `json:"tables"`
	// BronzeDeleted is set when the crawl deleted the bronze object (it is
	// not set when the object was gone already, or replaced).
	BronzeDeleted bool `json:"bronze_deleted,omitempty"`
}

// TableResult is what the crawl did to one catalog table.
type TableResult struct {
	Table        string   `json:"table"` // e.g. "silver.orders"
	Created      bool     `json:"created,omitempty"`
	AddedColumns []string `json:"added_columns,omitempty"`
	Objects      int      `json:"objects"`
	Partitions   []string `json:"partitions,omitempty"` // registered (new or already known), e.g. "dt=2024-01-01"
}

// metaRecords are the record types of the meta tables, by name.
var metaRecords = map[string]reflect.Type{
	"watermarks": reflect.TypeFor[ingest.WatermarkRecord](),
	"dq_results": reflect.TypeFor[validate.ResultRecord](),
	"executions": reflect.TypeFor[asl.Execution](),
}

// Crawler crawls one lake into one catalog.
type Crawler struct {
	Store     store.Store
	Catalog   catalog.Catalog
	Contracts []*contract.Table
}

// Crawl registers the tables, columns and partitions of the objects that
// rec lists, and the meta tables, then deletes the bronze object if it is
// still the version routed. Drift in one table does not stop the others:
// the rest are registered and a *SchemaDriftError naming every change is
// returned with the output, and the bronze object stays.
func (c *Crawler) Crawl(ctx context.Context, rec *route.Record) (*Output, error) {
	t, err := contract.Find(c.Contracts, rec.Table)
	if err != nil {
		return nil, fmt.Errorf("crawl: table %q: %w", rec.Table, err)
	}
	for _, db := range layout.Databases {
		if err := c.Catalog.EnsureDatabase(ctx, db); err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
	}
	out := &Output{Tables: []TableResult{}}
	drift := &SchemaDriftError{}
	add := func(r *TableResult, err error) error {
		var d *SchemaDriftError
		if errors.As(err, &d) {
			drift.Changes = append(drift.Changes, d.Changes...)
			return nil
		}
		if err != nil {
			return err
		}
		if r != nil {
			out.Tables = append(out.Tables, *r)
		}
		return nil
	}
	source, err := layout.ReadSchema(ctx, c.Store, t.Name)
	if err != nil {
		return nil, store.Wrap(err, "crawl: %s", t.Name)
	}
	if len(rec.Silver) > 0 {
		if err := add(c.silver(ctx, t, rec, source)); err != nil {
			return nil, err
		}
	}
	if len(rec.Discarded) > 0 {
		def := catalog.Table{
			Database:    layout.DatabaseDiscarded,
			Name:        layout.CatalogName(t.Name),
			Description: fmt.Sprintf("rows of %s.%s rejected by data quality, with the rules they failed", t.Source.Schema, t.Source.Table),
			Location:    layout.DiscardedLocation(t.Name),
			Format:      catalog.FormatParquet,
		}
		if err := add(c.register(ctx, def, rec.DiscardedColumns, rec.Key, source, len(rec.Discarded))); err != nil {
			return nil, err
		}
	}
	for _, m := range layout.MetaTables {
		if err := add(c.meta(ctx, m)); err != nil {
			return nil, err
		}
	}
	if len(drift.Changes) > 0 {
		return out, drift
	}
	if out.BronzeDeleted, err = deleteBronze(ctx, c.Store, rec.Key, rec.ETag); err != nil {
		return nil, err
	}
	return out, nil
}

// silver registers silver.<table> and the partitions of rec's objects.
func (c *Crawler) silver(ctx context.Context, t *contract.Table, rec *route.Record, source *layout.TableSchema) (*TableResult, error) {
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = strings.ToLower(k)
	}
	def := catalog.Table{
		Database:      layout.DatabaseSilver,
		Name:          layout.CatalogName(t.Name),
		Description:   fmt.Sprintf("valid rows of %s.%s, every version; latest per key in %s", t.Source.Schema, t.Source.Table, layout.CurrentName(t.Name)),
		Location:      layout.SilverLocation(t.Name),
		Format:        catalog.FormatParquet,
		PartitionKeys: []catalog.Column{{Name: strings.ToLower(t.Partition.Name), Type: "date"}},
		PrimaryKey:    pk,
		Cursor:        strings.ToLower(t.Cursor),
	}
	res, err := c.register(ctx, def, rec.SilverColumns, rec.Key, source, len(rec.Silver))
	if err != nil {
		return nil, err
	}
	var parts []catalog.Partition
	for _, ob := range rec.Silver {
		name, value, ok := strings.Cut(ob.Partition, "=")
		if !ok || name != t.Partition.Name {
			return nil, fmt.Errorf("crawl: route record %s: object %s has partition %q, not %s=<value>", rec.RecordKey, ob.Key, ob.Partition, t.Partition.Name)
		}
		if !slices.Contains(res.Partitions, ob.Partition) {
			res.Partitions = append(res.Partitions, ob.Partition)
			parts = append(parts, catalog.Partition{Values: []string{value}, Location: def.Location + ob.Partition + "/"})
		}
	}
	slices.Sort(res.Partitions)
	if err := c.Catalog.AddPartitions(ctx, def.Database, def.Name, parts); err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	return res, nil
}

// register creates or evolves the table def with the columns of one
// record's objects (from the object key), and, for a catalog that keeps
// views, the table's _current view.
func (c *Crawler) register(ctx context.Context, def catalog.Table, cols []catalog.Column, key string, source *layout.TableSchema, objects int) (*TableResult, error) {
	res := &TableResult{Table: def.Database + "." + def.Name, Objects: objects}
	tbl, err := catalog.Update(ctx, c.Catalog, def.Database, def.Name, func(cur *catalog.Table) (*catalog.Table, error) {
		next, added, err := evolve(def, cur, cols, key, source)
		res.Created, res.AddedColumns = cur == nil, added
		return next, err
	})
	if err != nil {
		return nil, err
	}
	// A catalog that keeps views for its query engine (Glue, for Athena)
	// gets the _current view when the table appears or its columns change.
	if cv, ok := c.Catalog.(catalog.CurrentViewer); ok && (res.Created || len(res.AddedColumns) > 0) &&
		len(tbl.PrimaryKey) > 0 && tbl.Cursor != "" {
		if err := cv.PutCurrentView(ctx, tbl); err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
	}
	return res, nil
}

// evolve merges one record's columns into the catalogued table cur (nil
// for a new table): new columns are appended in the record's order. It
// returns nil when nothing changes, and a *SchemaDriftError for a changed
// type, or for a catalogued column that the record lacks and that the
// source no longer has (source: the table's schema.json; nil when there
// is none, and then the record alone decides). Checking the source too
// keeps an older object committed late (a retry) from passing for a
// dropped column.
func evolve(def catalog.Table, cur *catalog.Table, cols []catalog.Column, key string, source *layout.TableSchema) (*catalog.Table, []string, error) {
	next := def
	if cur != nil {
		next.Columns = slices.Clone(cur.Columns)
	}
	var added []string
	drift := &SchemaDriftError{}
	table := def.Database + "." + def.Name
	for _, col := range cols {
		i := slices.IndexFunc(next.Columns, func(c catalog.Column) bool { return c.Name == col.Name })
		switch {
		case i < 0:
			next.Columns = append(next.Columns, col)
			added = append(added, col.Name)
		case next.Columns[i].Type != col.Type:
			drift.Changes = append(drift.Changes, DriftChange{Table: table, Object: key, Column: col.Name, Kind: DriftTypeChanged, Was: next.Columns[i].Type, Now: col.Type})
		}
	}
	for _, col := range next.Columns {
		inRecord := slices.ContainsFunc(cols, func(c catalog.Column) bool { return c.Name == col.Name })
		inSource := source != nil && slices.ContainsFunc(source.Columns, func(c layout.ColumnSchema) bool { return strings.EqualFold(c.Name, col.Name) })
		if !inRecord && !inSource {
			drift.Changes = append(drift.Changes, DriftChange{Table: table, Object: key, Column: col.Name, Kind: DriftDropped, Was: col.Type})
		}
	}
	if len(drift.Changes) > 0 {
		return nil, nil, drift
	}
	if cur != nil && catalog.SameDefinition(cur, &next) {
		return nil, nil, nil
	}
	if cur == nil {
		added = nil
	}
	return &next, added, nil
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
