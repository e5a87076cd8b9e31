package icetable

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Plan is what a query engine reads of a table at one snapshot: its data
// files and, for each, the position delete files that apply to it. It
// encodes as JSON.
type Plan struct {
	Table string `json:"table"`
	// SnapshotID is the snapshot planned (0: the table has none yet, it
	// is empty) and Timestamp when it was committed.
	SnapshotID int64     `json:"snapshot_id,omitempty"`
	Timestamp  time.Time `json:"timestamp,omitzero"`
	// Columns is the snapshot's schema, in order.
	Columns []Column   `json:"columns"`
	Files   []PlanFile `json:"files"`
}

// Column is a column of a planned table.
type Column struct {
	Name string `json:"name"`
	// Type is the column's type in DuckDB's SQL.
	Type string `json:"type"`
	// IDs are the column's Iceberg field ID and those of the fields
	// nested in it (list elements, struct fields).
	IDs []int `json:"ids"`
}

// PlanFile is a data file of a plan. Keys are the lake keys of the files
// (what a query reads them by), Paths their Iceberg locations (what
// position delete files name).
type PlanFile struct {
	Path  string `json:"path"`
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	// Columns are the field IDs the file holds statistics for: its
	// primitive columns, nested ones included (a file written before a
	// column was added lacks it).
	Columns []int `json:"columns"`
	// Deletes are the keys of the position delete files that apply to
	// the file (each may name other data files too).
	Deletes []string `json:"deletes,omitempty"`
}

// Plan plans a read of the table ident at its current snapshot, or, when
// asOf is not zero, at the snapshot that was current at asOf (time
// travel, within the table's snapshot retention).
func (l *Lake) Plan(ctx context.Context, ident table.Identifier, asOf time.Time) (Plan, error) {
	tbl, err := l.load(ctx, ident)
	if err != nil {
		return Plan{}, err
	}
	return l.PlanTable(ctx, tbl, asOf)
}

// PlanTable is Plan of a table already loaded from the Lake's catalog,
// at the metadata it was loaded with.
func (l *Lake) PlanTable(ctx context.Context, tbl *table.Table, asOf time.Time) (Plan, error) {
	name := strings.Join(tbl.Identifier(), ".")
	snap := tbl.CurrentSnapshot()
	if !asOf.IsZero() {
		snap = tbl.SnapshotAsOf(asOf.UnixMilli(), true)
		if snap == nil {
			return Plan{}, fmt.Errorf("icetable: %s has no snapshot at or before %s%s", name, asOf.UTC().Format(time.RFC3339), oldestSnapshot(tbl))
		}
	}
	schema := tbl.Schema()
	if snap != nil && snap.SchemaID != nil {
		if s, ok := tbl.Schemas()[*snap.SchemaID]; ok {
			schema = s
		}
	}
	cols, err := Columns(schema)
	if err != nil {
		return Plan{}, fmt.Errorf("icetable: %s: %w", name, err)
	}
	p := Plan{Table: name, Columns: cols}
	if snap == nil {
		return p, nil
	}
	p.SnapshotID, p.Timestamp = snap.SnapshotID, time.UnixMilli(snap.TimestampMs).UTC()
	scan := tbl.Scan(table.WithSnapshotID(snap.SnapshotID))
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("icetable: plan %s: %w", name, l.explain(ctx, snap, err))
	}
	fs := l.cat.FS()
	seen := map[string]int{}
	for _, task := range tasks {
		if len(task.EqualityDeleteFiles) > 0 || len(task.DeletionVectorFiles) > 0 {
			return Plan{}, fmt.Errorf("icetable: plan %s: data file %s has equality deletes or deletion vectors, which the lake does not write and DuckDB cannot apply here", name, task.File.FilePath())
		}
		path := task.File.FilePath()
		i, ok := seen[path]
		if !ok { // a large file is planned as several tasks
			key, err := fs.Key(path)
			if err != nil {
				return Plan{}, fmt.Errorf("icetable: plan %s: %w", name, err)
			}
			var cols []int
			for id := range task.File.ValueCounts() {
				cols = append(cols, id)
			}
			slices.Sort(cols)
			i = len(p.Files)
			seen[path] = i
			p.Files = append(p.Files, PlanFile{Path: path, Key: key, Rows: task.File.Count(), Bytes: task.File.FileSizeBytes(), Columns: cols})
		}
		for _, d := range task.DeleteFiles {
			key, err := fs.Key(d.FilePath())
			if err != nil {
				return Plan{}, fmt.Errorf("icetable: plan %s: %w", name, err)
			}
			if !slices.Contains(p.Files[i].Deletes, key) {
				p.Files[i].Deletes = append(p.Files[i].Deletes, key)
			}
		}
	}
	return p, nil
}

// Columns are the columns of schema as a plan lists them, with their
// DuckDB types.
func Columns(schema *iceberg.Schema) ([]Column, error) {
	var cols []Column
	for _, f := range schema.Fields() {
		typ, err := duckType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, Column{Name: f.Name, Type: typ, IDs: fieldIDs(f, nil)})
	}
	return cols, nil
}

// explain turns err, a failure to plan snap, into an error naming the
// first manifest list or manifest of snap that cannot be read (iceberg-go's
// errors do not say which), or returns err.
func (l *Lake) explain(ctx context.Context, snap *table.Snapshot, err error) error {
	fs := l.cat.FS().WithContext(ctx)
	mfs, lerr := snap.Manifests(fs)
	if lerr != nil {
		return fmt.Errorf("manifest list %s: %w", snap.ManifestList, lerr)
	}
	for _, mf := range mfs {
		for _, merr := range mf.Entries(fs, false) {
			if merr != nil {
				return fmt.Errorf("manifest %s: %w", mf.FilePath(), merr)
			}
		}
	}
	return err
}

// oldestSnapshot says when tbl's oldest kept snapshot was committed.
func oldestSnapshot(tbl *table.Table) string {
	var oldest *table.Snapshot
	for _, s := range tbl.Metadata().Snapshots() {
		if oldest == nil || s.TimestampMs < oldest.TimestampMs {
			oldest = &s
		}
	}
	if oldest == nil {
		return " (it has no snapshots)"
	}
	return " (its oldest kept snapshot is of " + time.UnixMilli(oldest.TimestampMs).UTC().Format(time.RFC3339) + ")"
}

// Names DuckDB gives its file-name column in the SQL of DuckDB; a table
// column of the same name cannot be read with deletes applied.
const (
	duckFileColumn = "__lake_file"
	duckRowColumn  = "file_row_number"
)

// DuckDB returns a SELECT that reads the plan's table in DuckDB, offline,
// with deletes applied: the data files through read_parquet (by column
// name, NULL for a column a file predates), minus the rows the position
// delete files name (an anti-join on the file and the row's position).
// local maps a lake key to the path DuckDB reads the object at.
func (p Plan) DuckDB(local func(key string) string) (string, error) {
	var cols []string
	for _, c := range p.Columns {
		if c.Name == duckFileColumn || c.Name == duckRowColumn {
			return "", fmt.Errorf("icetable: %s: a column named %s cannot be read with DuckDB here", p.Table, c.Name)
		}
		if p.anyFileHas(c.IDs) {
			cols = append(cols, quoteIdent(c.Name))
		} else {
			cols = append(cols, "CAST(NULL AS "+c.Type+") AS "+quoteIdent(c.Name))
		}
	}
	sel := "SELECT " + strings.Join(cols, ", ")
	if len(p.Files) == 0 {
		return sel + " WHERE false", nil
	}
	var data, dels, pairs []string
	seenDel := map[string]bool{}
	for _, f := range p.Files {
		data = append(data, quoteString(local(f.Key)))
		if len(f.Deletes) == 0 {
			continue
		}
		pairs = append(pairs, "("+quoteString(f.Path)+", "+quoteString(local(f.Key))+")")
		for _, d := range f.Deletes {
			if !seenDel[d] {
				seenDel[d] = true
				dels = append(dels, quoteString(local(d)))
			}
		}
	}
	var b strings.Builder
	b.WriteString(sel)
	b.WriteString(" FROM read_parquet([" + strings.Join(data, ", ") + "], union_by_name = true")
	if len(dels) == 0 {
		b.WriteString(")")
		return b.String(), nil
	}
	b.WriteString(", filename = '" + duckFileColumn + "') AS d ANTI JOIN (SELECT m.local_path AS " + duckFileColumn + ", x.pos AS " + duckRowColumn +
		" FROM read_parquet([" + strings.Join(dels, ", ") + "]) AS x JOIN (VALUES " + strings.Join(pairs, ", ") +
		") AS m(iceberg_path, local_path) ON x.file_path = m.iceberg_path) AS del USING (" + duckFileColumn + ", " + duckRowColumn + ")")
	return b.String(), nil
}

// anyFileHas reports whether a data file of p holds one of the field IDs.
func (p Plan) anyFileHas(ids []int) bool {
	for _, f := range p.Files {
		for _, id := range ids {
			if _, ok := slices.BinarySearch(f.Columns, id); ok {
				return true
			}
		}
	}
	return false
}

// fieldIDs appends the ID of f and of every field nested in it to ids.
func fieldIDs(f iceberg.NestedField, ids []int) []int {
	ids = append(ids, f.ID)
	if nested, ok := f.Type.(iceberg.NestedType); ok {
		for _, c := range nested.Fields() {
			ids = fieldIDs(c, ids)
		}
	}
	return ids
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// duckType spells an Iceberg type in DuckDB's SQL.
func duckType(t iceberg.Type) (string, error) {
	switch t := t.(type) {
	case iceberg.BooleanType:
		return "BOOLEAN", nil
	case iceberg.Int32Type:
		return "INTEGER", nil
	case iceberg.Int64Type:
		return "BIGINT", nil
	case iceberg.Float32Type:
		return "FLOAT", nil
	case iceberg.Float64Type:
		return "DOUBLE", nil
	case iceberg.DecimalType:
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision(), t.Scale()), nil
	case iceberg.DateType:
		return "DATE", nil
	case iceberg.TimeType:
		return "TIME", nil
	case iceberg.TimestampType:
		return "TIMESTAMP", nil
	case iceberg.TimestampTzType:
		return "TIMESTAMPTZ", nil
	case iceberg.StringType:
		return "VARCHAR", nil
	case iceberg.UUIDType:
		return "UUID", nil
	case iceberg.BinaryType, iceberg.FixedType:
		return "BLOB", nil
	case *iceberg.ListType:
		e, err := duckType(t.Element)
		return e + "[]", err
	case *iceberg.MapType:
		k, err := duckType(t.KeyType)
		if err != nil {
			return "", err
		}
		v, err := duckType(t.ValueType)
		return "MAP(" + k + ", " + v + ")", err
	case *iceberg.StructType:
		fields := make([]string, len(t.FieldList))
		for i, f := range t.FieldList {
			ft, err := duckType(f.Type)
			if err != nil {
				return "", err
			}
			fields[i] = quoteIdent(f.Name) + " " + ft
		}
		return "STRUCT(" + strings.Join(fields, ", ") + ")", nil
	}
	return "", fmt.Errorf("type %s has no DuckDB equivalent here", t)
}
