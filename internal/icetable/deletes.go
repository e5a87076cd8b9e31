package icetable

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/google/uuid"

	"github.com/medallionlake/lake/internal/icebergio"
)

// Field IDs of a position delete file's columns (Iceberg spec, "Position
// Delete Files").
const (
	posDeletePathID = 2147483546
	posDeletePosID  = 2147483545
)

// posDeleteSchema is the Arrow schema of a position delete file, with the
// Iceberg field IDs.
var posDeleteSchema = arrow.NewSchema([]arrow.Field{
	{Name: "file_path", Type: arrow.BinaryTypes.String, Metadata: fieldID(posDeletePathID)},
	{Name: "pos", Type: arrow.PrimitiveTypes.Int64, Metadata: fieldID(posDeletePosID)},
}, nil)

func fieldID(id int) arrow.Metadata {
	return arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{strconv.Itoa(id)})
}

// writePositionDeletes writes one position delete file under the table at
// location deleting rows positions (in any order) of the data file
// target, and returns its Iceberg description (unpartitioned).
func writePositionDeletes(ctx context.Context, fs *icebergio.FS, spec iceberg.PartitionSpec, location, target string, positions []int64) (iceberg.DataFile, error) {
	positions = slices.Clone(positions)
	slices.Sort(positions)
	positions = slices.Compact(positions)

	b := array.NewRecordBuilder(memory.DefaultAllocator, posDeleteSchema)
	defer b.Release()
	paths, pos := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.Int64Builder)
	for _, p := range positions {
		paths.Append(target)
		pos.Append(p)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	path := location + "/data/" + uuid.NewString() + "-deletes.parquet"
	out, err := fs.WithContext(ctx).Create(path)
	if err != nil {
		return nil, err
	}
	cw := &countingWriter{w: out}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true))
	pw, err := pqarrow.NewFileWriter(posDeleteSchema, cw, props, pqarrow.NewArrowWriterProperties())
	if err != nil {
		out.Close()
		return nil, err
	}
	if err := pw.Write(rec); err != nil {
		pw.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := pw.Close(); err != nil { // closes out too
		return nil, fmt.Errorf("write %s: %w", path, err)
	}

	le := func(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
	n := int64(len(positions))
	db, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentPosDeletes, path, iceberg.ParquetFile, nil, nil, nil, n, cw.n)
	if err != nil {
		return nil, err
	}
	db.ValueCounts(map[int]int64{posDeletePathID: n, posDeletePosID: n}).
		NullValueCounts(map[int]int64{posDeletePathID: 0, posDeletePosID: 0}).
		LowerBoundValues(map[int][]byte{posDeletePathID: []byte(target), posDeletePosID: le(positions[0])}).
		UpperBoundValues(map[int][]byte{posDeletePathID: []byte(target), posDeletePosID: le(positions[n-1])})
	return db.Build(), nil
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w interface {
		Write([]byte) (int, error)
		Close() error
	}
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

// columnReader reads some top-level columns of a Parquet data file of the
// lake, batch by batch, with each batch's first row position.
type columnReader struct {
	pf  *file.Reader
	fr  *pqarrow.FileReader
	idx map[string]int // top-level column name -> leaf column index
}

// openColumns opens the Parquet file at path.
func openColumns(ctx context.Context, fs *icebergio.FS, path string) (*columnReader, error) {
	f, err := fs.WithContext(ctx).Open(path)
	if err != nil {
		return nil, err
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r := &columnReader{pf: pf, fr: fr, idx: map[string]int{}}
	sc := pf.MetaData().Schema
	for i := range sc.NumColumns() {
		col := sc.Column(i)
		if col.ColumnPath().String() == col.Name() { // a top-level primitive column
			r.idx[col.Name()] = i
		}
	}
	return r, nil
}

func (r *columnReader) Close() error { return r.pf.Close() }

// rowGroupRows is the number of rows of row group i.
func (r *columnReader) rowGroupRows(i int) int64 { return r.pf.MetaData().RowGroup(i).NumRows() }

// numRowGroups is the file's number of row groups.
func (r *columnReader) numRowGroups() int { return r.pf.NumRowGroups() }

// leaf is the leaf column index of the top-level primitive column name,
// or -1.
func (r *columnReader) leaf(name string) int {
	if c, ok := r.idx[name]; ok {
		return c
	}
	return -1
}

// read calls fn with the batches of the columns names of row group rg
// (cols[i] is names[i]), and the position in the file of each batch's
// first row.
func (r *columnReader) read(ctx context.Context, rg int, names []string, first int64, fn func(cols []arrow.Array, pos int64) error) error {
	leaves := make([]int, len(names))
	for i, n := range names {
		if leaves[i] = r.leaf(n); leaves[i] < 0 {
			return fmt.Errorf("no top-level column %q", n)
		}
	}
	rr, err := r.fr.GetRecordReader(ctx, leaves, []int{rg})
	if err != nil {
		return err
	}
	defer rr.Release()
	pos := first
	cols := make([]arrow.Array, len(names))
	for rr.Next() {
		rec := rr.RecordBatch()
		for i, n := range names {
			cols[i] = rec.Column(rec.Schema().FieldIndices(n)[0])
		}
		if err := fn(cols, pos); err != nil {
			return err
		}
		pos += rec.NumRows()
	}
	return rr.Err()
}
