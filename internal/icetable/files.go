package icetable

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Files are the data files written for one object into one table, not yet
// committed: what the route step hands to the commit step. They encode
// as JSON (a state's output, a route record); Lake.Commit decodes them
// against the table.
type Files struct {
	Table  string `json:"table"` // e.g. silver.orders
	Kind   Kind   `json:"kind"`
	Object Object `json:"object"`
	// SchemaID and SpecID are the table's schema and partition spec the
	// files were written with.
	SchemaID int        `json:"schema_id"`
	SpecID   int        `json:"spec_id"`
	Rows     int64      `json:"rows"`
	Bytes    int64      `json:"bytes"`
	Files    []DataFile `json:"files"`
}

// DataFile is one Parquet data file and the statistics Iceberg keeps about
// it in manifests. Column maps are keyed by Iceberg field ID; bounds are
// Iceberg's single-value binary encoding (base64 in JSON).
type DataFile struct {
	Path string `json:"path"`
	// Partition holds the partition values by partition field name (nil
	// for a null value); PartitionPath spells them as in the file's path.
	Partition     map[string]*int64 `json:"partition,omitempty"`
	PartitionPath string            `json:"partition_path,omitempty"`
	Rows          int64             `json:"rows"`
	Bytes         int64             `json:"bytes"`
	ColumnSizes   map[int]int64     `json:"column_sizes,omitempty"`
	ValueCounts   map[int]int64     `json:"value_counts,omitempty"`
	NullCounts    map[int]int64     `json:"null_counts,omitempty"`
	NaNCounts     map[int]int64     `json:"nan_counts,omitempty"`
	LowerBounds   map[int][]byte    `json:"lower_bounds,omitempty"`
	UpperBounds   map[int][]byte    `json:"upper_bounds,omitempty"`
	SplitOffsets  []int64           `json:"split_offsets,omitempty"`
}

// Combine joins the Files of several writers of the same object into the
// same table (an object written in passes, each over some partitions, to
// bound the partitions open at once): one commit takes them all.
func Combine(parts ...Files) (Files, error) {
	if len(parts) == 0 {
		return Files{}, fmt.Errorf("icetable: nothing to combine")
	}
	out := parts[0]
	out.Files = slices.Clone(out.Files)
	for _, p := range parts[1:] {
		if p.Table != out.Table || p.Kind != out.Kind || p.Object != out.Object || p.SpecID != out.SpecID {
			return Files{}, fmt.Errorf("icetable: cannot combine files of %s %s (spec %d) with files of %s %s (spec %d)",
				p.Table, p.Object.Key, p.SpecID, out.Table, out.Object.Key, out.SpecID)
		}
		out.SchemaID = max(out.SchemaID, p.SchemaID)
		out.Rows += p.Rows
		out.Bytes += p.Bytes
		out.Files = append(out.Files, p.Files...)
	}
	return out, nil
}

// describe turns the data files a writer produced for tbl into Files.
func describe(tbl *table.Table, kind Kind, obj Object, dfs []iceberg.DataFile) (Files, error) {
	spec := tbl.Spec()
	f := Files{
		Table: strings.Join(tbl.Identifier(), "."), Kind: kind, Object: obj,
		SchemaID: tbl.Schema().ID, SpecID: spec.ID(),
	}
	for _, df := range dfs {
		d := DataFile{
			Path: df.FilePath(), Rows: df.Count(), Bytes: df.FileSizeBytes(),
			ColumnSizes: df.ColumnSizes(), ValueCounts: df.ValueCounts(), NullCounts: df.NullValueCounts(),
			NaNCounts: df.NaNValueCounts(), LowerBounds: df.LowerBoundValues(), UpperBounds: df.UpperBoundValues(),
			SplitOffsets: df.SplitOffsets(),
		}
		var path []string
		for _, pf := range spec.Fields() {
			if d.Partition == nil {
				d.Partition = map[string]*int64{}
			}
			v := df.Partition()[pf.FieldID]
			src, _ := tbl.Schema().FindTypeByID(pf.SourceID())
			path = append(path, pf.Name+"="+pf.Transform.ToHumanStrType(src, v))
			n, err := partitionInt(v)
			if err != nil {
				return Files{}, fmt.Errorf("icetable: %s: partition %s of %s: %w", f.Table, pf.Name, df.FilePath(), err)
			}
			d.Partition[pf.Name] = n
		}
		d.PartitionPath = strings.Join(path, "/")
		f.Rows += d.Rows
		f.Bytes += d.Bytes
		f.Files = append(f.Files, d)
	}
	return f, nil
}

// partitionInt is a partition value of the transforms the lake uses
// (day, month, year, bucket: all int-valued) as an int64.
func partitionInt(v any) (*int64, error) {
	var n int64
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int32:
		n = int64(v)
	case iceberg.Date:
		n = int64(v)
	case int64:
		n = v
	default:
		return nil, fmt.Errorf("unexpected partition value %v (%T)", v, v)
	}
	return &n, nil
}

// dataFiles rebuilds the Iceberg data files of f against tbl, checking
// that f was written for tbl's current partition spec.
func dataFiles(tbl *table.Table, f Files) ([]iceberg.DataFile, error) {
	spec := tbl.Spec()
	if f.SpecID != spec.ID() {
		return nil, fmt.Errorf("icetable: %s: the files were written for partition spec %d, the table's is %d; write them again", f.Table, f.SpecID, spec.ID())
	}
	out := make([]iceberg.DataFile, 0, len(f.Files))
	for _, d := range f.Files {
		part := map[int]any{}
		for _, pf := range spec.Fields() {
			v, ok := d.Partition[pf.Name]
			if !ok {
				return nil, fmt.Errorf("icetable: %s: data file %s has no value for partition %s", f.Table, d.Path, pf.Name)
			}
			if v == nil {
				part[pf.FieldID] = nil
				continue
			}
			src, _ := tbl.Schema().FindTypeByID(pf.SourceID())
			if _, isDate := pf.Transform.ResultType(src).(iceberg.DateType); isDate {
				part[pf.FieldID] = iceberg.Date(*v)
			} else {
				part[pf.FieldID] = int32(*v)
			}
		}
		b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, d.Path, iceberg.ParquetFile, part, nil, nil, d.Rows, d.Bytes)
		if err != nil {
			return nil, fmt.Errorf("icetable: %s: data file %s: %w", f.Table, d.Path, err)
		}
		b.ColumnSizes(d.ColumnSizes).ValueCounts(d.ValueCounts).NullValueCounts(d.NullCounts).
			NaNValueCounts(d.NaNCounts).LowerBoundValues(d.LowerBounds).UpperBoundValues(d.UpperBounds)
		if len(d.SplitOffsets) > 0 {
			b.SplitOffsets(slices.Clone(d.SplitOffsets))
		}
		out = append(out, b.Build())
	}
	return out, nil
}
