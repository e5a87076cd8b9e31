// Package crawl is the crawl step: it keeps the catalog in step with what
// the pipeline wrote to the lake. For every table contract it registers
// silver.<table> (Hive-partitioned Parquet, schema from the files'
// footers, partitioned by the contract's partition name as a date) and
// discarded.<table> (the rejected rows with Glue's DQ columns), the meta
// tables meta.watermarks, meta.dq_results and meta.executions (JSON, schema
// inferred from a record), and the partitions of the objects it is given.
//
// Schema drift: a column that appears in newer objects is appended to the
// table, and older objects read it as NULL. A column whose type changed, or
// a catalogued column that the newest object lacks and the source no longer
// has (ingest's _meta/tables/<table>/schema.json), is reported as a
// *SchemaDriftError and the table is left unchanged: nothing is retyped,
// dropped or coerced.
//
// Crawl is the library function behind the crawl Lambda (tasks/crawl) and
// the local runner; it is pure Go (no cgo) and works with any
// catalog.Catalog (catalog/localcatalog, catalog/gluecatalog).
package crawl

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/store"
)

// Catalog databases the crawl maintains.
const (
	DatabaseSilver    = "silver"
	DatabaseDiscarded = "discarded"
	DatabaseMeta      = "meta"
)

// Input is the crawl state's input.
type Input struct {
	// Table is the contract name of the table to crawl; empty crawls every
	// table in the contracts.
	Table string `json:"table,omitempty"`
	// Objects are the lake keys the route step just wrote (silver and
	// discarded Parquet objects, and meta JSON records). Only these are
	// read and only their partitions registered. Empty means a full crawl:
	// every object under the tables' locations.
	Objects []string `json:"objects,omitempty"`
}

// Output is the crawl state's output: what changed in the catalog.
type Output struct {
	Tables []TableResult `json:"tables"`
}

// TableResult is what the crawl did to one catalog table.
type TableResult struct {
	Table        string   `json:"table"` // e.g. "silver.orders"
	Created      bool     `json:"created,omitempty"`
	AddedColumns []string `json:"added_columns,omitempty"`
	Objects      int      `json:"objects"`
	Partitions   []string `json:"partitions,omitempty"` // registered (new or already known), e.g. "dt=2024-01-01"
}

// MetaTable is a meta table: JSON records under a prefix of _meta/.
type MetaTable struct {
	Name     string
	Location string
	// File is the records' file name when other JSON objects share the
	// location; empty for any .json object.
	File        string
	Description string
}

// MetaTables are the meta tables the crawl registers.
var MetaTables = []MetaTable{
	{"watermarks", "_meta/watermarks/history/", "", "every watermark advance of every table (ingest)"},
	{"dq_results", "_meta/dq/", "", "one Glue-shaped data-quality result per bronze object"},
	{"executions", "_meta/executions/", "execution.json", "local state machine executions (lake run); in AWS, Step Functions keeps them"},
}

// suffix is what the keys of the table's records end with.
func (m MetaTable) suffix() string {
	if m.File != "" {
		return "/" + m.File
	}
	return ".json"
}

// Crawler crawls one lake into one catalog.
type Crawler struct {
	Store     store.Store
	Catalog   catalog.Catalog
	Contracts []*contract.Table
}

// SilverLocation is the prefix of table's silver objects.
func SilverLocation(table string) string { return "silver/staging/" + table + "/" }

// DiscardedLocation is the prefix of table's rejected rows.
func DiscardedLocation(table string) string { return "discarded/" + table + "/rows/" }

// Crawl registers or updates the tables of in.Table (every contract when
// empty) and the meta tables, and the partitions of in.Objects (of every
// object when empty). Drift in one table does not stop the others: the
// rest are crawled and a *SchemaDriftError naming every change is
// returned with the output. An unreadable object is a *BadObjectError.
func (c *Crawler) Crawl(ctx context.Context, in Input) (*Output, error) {
	tables := c.Contracts
	if in.Table != "" {
		i := slices.IndexFunc(c.Contracts, func(t *contract.Table) bool { return t.Name == in.Table })
		if i < 0 {
			return nil, fmt.Errorf("crawl: table %q: %w", in.Table, contract.ErrUnknownTable)
		}
		tables = c.Contracts[i : i+1]
	}
	for _, db := range []string{DatabaseSilver, DatabaseDiscarded, DatabaseMeta} {
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
	for _, t := range tables {
		for _, spec := range []parquetTable{silverSpec(t), discardedSpec(t)} {
			if err := add(c.crawlParquet(ctx, spec, in.Objects)); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range MetaTables {
		if err := add(c.crawlJSON(ctx, m, in.Objects)); err != nil {
			return nil, err
		}
	}
	if len(drift.Changes) > 0 {
		return out, drift
	}
	return out, nil
}

// parquetTable describes a Parquet table to crawl.
type parquetTable struct {
	def     catalog.Table // without columns
	partKey string        // the Hive partition name, "" for none
	source  string        // the contract's table name
}

func silverSpec(t *contract.Table) parquetTable {
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = strings.ToLower(k)
	}
	return parquetTable{
		def: catalog.Table{
			Database:      DatabaseSilver,
			Name:          strings.ToLower(t.Name),
			Description:   fmt.Sprintf("valid rows of %s.%s, every version; latest per key in %s_current", t.Source.Schema, t.Source.Table, strings.ToLower(t.Name)),
			Location:      SilverLocation(t.Name),
			Format:        catalog.FormatParquet,
			PartitionKeys: []catalog.Column{{Name: strings.ToLower(t.Partition.Name), Type: "date"}},
			PrimaryKey:    pk,
			Cursor:        strings.ToLower(t.Cursor),
		},
		partKey: t.Partition.Name,
		source:  t.Name,
	}
}

func discardedSpec(t *contract.Table) parquetTable {
	return parquetTable{def: catalog.Table{
		Database:    DatabaseDiscarded,
		Name:        strings.ToLower(t.Name),
		Description: fmt.Sprintf("rows of %s.%s rejected by data quality, with the rules they failed", t.Source.Schema, t.Source.Table),
		Location:    DiscardedLocation(t.Name),
		Format:      catalog.FormatParquet,
	}, source: t.Name}
}

// object is one crawled object and what it holds.
type object struct {
	info    store.ObjectInfo
	cols    []catalog.Column
	partVal string
}

// objects returns the objects under prefix with the suffix: those of keys
// when given (ignoring the others), else all of them.
func (c *Crawler) objects(ctx context.Context, prefix, suffix string, keys []string) ([]store.ObjectInfo, error) {
	var out []store.ObjectInfo
	if len(keys) > 0 {
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) || !strings.HasSuffix(k, suffix) {
				continue
			}
			info, err := c.Store.Stat(ctx, k)
			if err != nil {
				return nil, fmt.Errorf("crawl: %w", err)
			}
			out = append(out, info)
		}
		return out, nil
	}
	for info, err := range c.Store.List(ctx, prefix) {
		if err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		if strings.HasSuffix(info.Key, suffix) {
			out = append(out, info)
		}
	}
	return out, nil
}

func (c *Crawler) crawlParquet(ctx context.Context, spec parquetTable, keys []string) (*TableResult, error) {
	infos, err := c.objects(ctx, spec.def.Location, ".parquet", keys)
	if err != nil || len(infos) == 0 {
		return nil, err
	}
	objs := make([]object, len(infos))
	for i, info := range infos {
		o := object{info: info}
		if spec.partKey != "" {
			if o.partVal, err = partitionValue(spec, info.Key); err != nil {
				return nil, err
			}
		}
		if o.cols, err = parquetColumns(ctx, c.Store, info); err != nil {
			return nil, err
		}
		objs[i] = o
	}
	// Oldest first: columns are appended in the order they appeared, and
	// the newest object says which columns the writer still produces.
	slices.SortFunc(objs, func(a, b object) int {
		return cmp.Or(a.info.ModTime.Compare(b.info.ModTime), strings.Compare(a.info.Key, b.info.Key))
	})
	source, err := c.sourceColumns(ctx, spec.source)
	if err != nil {
		return nil, err
	}
	res := &TableResult{Table: spec.def.Database + "." + spec.def.Name, Objects: len(objs)}
	tbl, err := catalog.Update(ctx, c.Catalog, spec.def.Database, spec.def.Name, func(cur *catalog.Table) (*catalog.Table, error) {
		next, added, err := evolve(spec.def, cur, objs, source)
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
	if spec.partKey == "" {
		return res, nil
	}
	var parts []catalog.Partition
	for _, o := range objs {
		name := spec.partKey + "=" + o.partVal
		if !slices.Contains(res.Partitions, name) {
			res.Partitions = append(res.Partitions, name)
			parts = append(parts, catalog.Partition{Values: []string{o.partVal}, Location: spec.def.Location + name + "/"})
		}
	}
	slices.Sort(res.Partitions)
	if err := c.Catalog.AddPartitions(ctx, spec.def.Database, spec.def.Name, parts); err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	return res, nil
}

// evolve merges the objects' columns into the catalogued table cur (nil for
// a new table): new columns are appended, in the order the objects (oldest
// first) show them. It returns nil when nothing changes, and a
// *SchemaDriftError for a changed type, or for a column that the newest
// object lacks and that the source no longer has (source: the column names
// of the table's schema.json; nil when there is none, and then the newest
// object alone decides). Checking the source too keeps an older object
// crawled late (a retry) from passing for a dropped column.
func evolve(def catalog.Table, cur *catalog.Table, objs []object, source map[string]bool) (*catalog.Table, []string, error) {
	next := def
	if cur != nil {
		next.Columns = slices.Clone(cur.Columns)
	}
	var added []string
	drift := &SchemaDriftError{}
	table := def.Database + "." + def.Name
	for _, o := range objs {
		for _, col := range o.cols {
			i := slices.IndexFunc(next.Columns, func(c catalog.Column) bool { return c.Name == col.Name })
			switch {
			case i < 0:
				next.Columns = append(next.Columns, col)
				added = append(added, col.Name)
			case next.Columns[i].Type != col.Type:
				drift.Changes = append(drift.Changes, DriftChange{Table: table, Object: o.info.Key, Column: col.Name, Kind: DriftTypeChanged, Was: next.Columns[i].Type, Now: col.Type})
			}
		}
	}
	newest := objs[len(objs)-1]
	for _, col := range next.Columns {
		inNewest := slices.ContainsFunc(newest.cols, func(c catalog.Column) bool { return c.Name == col.Name })
		if !inNewest && (source == nil || !source[col.Name]) {
			drift.Changes = append(drift.Changes, DriftChange{Table: table, Object: newest.info.Key, Column: col.Name, Kind: DriftDropped, Was: col.Type})
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

// partitionValue is the date of the key's <partKey>=YYYY-MM-DD folder,
// which must be the first folder under the table's location.
func partitionValue(spec parquetTable, key string) (string, error) {
	rel := strings.TrimPrefix(key, spec.def.Location)
	dir, _, ok := strings.Cut(rel, "/")
	val, isPart := strings.CutPrefix(dir, spec.partKey+"=")
	if !ok || !isPart {
		return "", &BadObjectError{Key: key, Err: fmt.Errorf("not in a %s=YYYY-MM-DD folder of %s", spec.partKey, spec.def.Location)}
	}
	if val == HiveDefaultPartition {
		return val, nil
	}
	if _, err := time.Parse(time.DateOnly, val); err != nil {
		return "", &BadObjectError{Key: key, Err: fmt.Errorf("partition value %q is not a date (YYYY-MM-DD)", val)}
	}
	return val, nil
}

// HiveDefaultPartition is the partition value of rows whose partition
// column is NULL; Athena and DuckDB read it as NULL.
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// SchemaKey is where ingest keeps the columns a table was last extracted
// with.
func SchemaKey(table string) string { return "_meta/tables/" + table + "/schema.json" }

// sourceColumns returns the lower-cased column names of the table's
// schema.json, or nil when there is none.
func (c *Crawler) sourceColumns(ctx context.Context, table string) (map[string]bool, error) {
	rc, _, err := c.Store.Get(ctx, SchemaKey(table))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	defer rc.Close()
	var ts struct {
		Columns []struct {
			Name string `json:"name"`
		} `json:"columns"`
	}
	if err := json.NewDecoder(io.LimitReader(rc, maxMetaObjectBytes)).Decode(&ts); err != nil {
		return nil, &BadObjectError{Key: SchemaKey(table), Err: err}
	}
	names := make(map[string]bool, len(ts.Columns))
	for _, col := range ts.Columns {
		names[strings.ToLower(col.Name)] = true
	}
	return names, nil
}

// parquetColumns reads the catalog columns of a Parquet object from its
// footer (a few range reads, whatever the object's size).
func parquetColumns(ctx context.Context, s store.Store, info store.ObjectInfo) ([]catalog.Column, error) {
	ra := store.NewReaderAt(ctx, s, info.Key, info.Size)
	rdr, err := file.NewParquetReader(io.NewSectionReader(ra, 0, info.Size))
	if err != nil {
		return nil, &BadObjectError{Key: info.Key, Err: fmt.Errorf("read Parquet footer: %w", err)}
	}
	defer rdr.Close()
	md := rdr.MetaData()
	sch, err := pqarrow.FromParquet(md.Schema, nil, md.KeyValueMetadata())
	if err != nil {
		return nil, &BadObjectError{Key: info.Key, Err: fmt.Errorf("Parquet schema: %w", err)}
	}
	cols, err := Columns(sch)
	if err != nil {
		return nil, &BadObjectError{Key: info.Key, Err: err}
	}
	return cols, nil
}

// crawlJSON registers a meta table. Its columns come from the given
// objects under its location, or, in a full crawl or when the table is
// new, from the first and last records listed; new keys add columns, and a
// changed type keeps the catalogued one (meta records are the lake's own,
// and their readers accept either).
func (c *Crawler) crawlJSON(ctx context.Context, m MetaTable, keys []string) (*TableResult, error) {
	infos, err := c.objects(ctx, m.Location, m.suffix(), keys)
	if err != nil {
		return nil, err
	}
	cur, err := c.Catalog.GetTable(ctx, DatabaseMeta, m.Name)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	if len(keys) > 0 && len(infos) == 0 && cur == nil {
		// Nothing of this table among the objects: sample what is there.
		if infos, err = c.objects(ctx, m.Location, m.suffix(), nil); err != nil {
			return nil, err
		}
	}
	if len(infos) > 2 {
		infos = []store.ObjectInfo{infos[0], infos[len(infos)-1]}
	}
	if len(infos) == 0 {
		return nil, nil
	}
	var sampled [][]catalog.Column
	for _, info := range infos {
		cols, err := c.jsonObjectColumns(ctx, info.Key)
		if err != nil {
			return nil, err
		}
		sampled = append(sampled, cols)
	}
	res := &TableResult{Table: DatabaseMeta + "." + m.Name, Objects: len(infos)}
	def := catalog.Table{Database: DatabaseMeta, Name: m.Name, Description: m.Description, Location: m.Location, Format: catalog.FormatJSON, Files: m.File}
	if _, err := catalog.Update(ctx, c.Catalog, DatabaseMeta, m.Name, func(cur *catalog.Table) (*catalog.Table, error) {
		next := def
		res.Created, res.AddedColumns = cur == nil, nil
		if cur != nil {
			next.Columns = slices.Clone(cur.Columns)
		}
		for _, cols := range sampled {
			for _, col := range cols {
				if !slices.ContainsFunc(next.Columns, func(c catalog.Column) bool { return c.Name == col.Name }) {
					next.Columns = append(next.Columns, col)
					if cur != nil {
						res.AddedColumns = append(res.AddedColumns, col.Name)
					}
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
	return res, nil
}

func (c *Crawler) jsonObjectColumns(ctx context.Context, key string) ([]catalog.Column, error) {
	rc, _, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	defer rc.Close()
	cols, err := jsonColumns(rc)
	if err != nil {
		return nil, &BadObjectError{Key: key, Err: err}
	}
	return cols, nil
}
