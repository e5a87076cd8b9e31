package icetable

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/medallionlake/lake/internal/contract"
	_ "github.com/medallionlake/lake/internal/lakeparquet" // the zstd codec of the data files written here
)

// Object identifies a bronze object: its key in the lake and the ETag of
// the version read. Commits record both.
type Object struct {
	Key  string `json:"key"`
	ETag string `json:"etag"`
}

// Glue's row-level data-quality columns, and the offending value of each
// failed rule (aligned with DataQualityRulesFail).
const (
	ColRulesPass    = "DataQualityRulesPass"
	ColRulesFail    = "DataQualityRulesFail"
	ColRulesSkip    = "DataQualityRulesSkip"
	ColResult       = "DataQualityEvaluationResult"
	ColFailedValues = "DataQualityFailedValues"
)

// DQColumns are the columns that rows of discarded.<table> carry after the
// object's own: lists of rule texts, "Passed"/"Failed", and the offending
// values.
var DQColumns = []arrow.Field{
	{Name: ColRulesPass, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: ColRulesFail, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: ColRulesSkip, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: ColResult, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColFailedValues, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
}

// checkDiscardedSchema checks that sc has the DQ columns with their types.
func checkDiscardedSchema(sc *arrow.Schema) error {
	for _, want := range DQColumns {
		i := sc.FieldIndices(want.Name)
		if len(i) != 1 {
			return fmt.Errorf("icetable: discarded rows need the column %s", want.Name)
		}
		if got := sc.Field(i[0]).Type; !arrow.TypeEqual(got, want.Type) {
			return fmt.Errorf("icetable: discarded rows' column %s is %s, want %s", want.Name, got, want.Type)
		}
	}
	return nil
}

// writeRowGroupRows caps the rows of a Parquet row group that a Writer
// builds. The Parquet writer holds a file's row group in memory, encoded,
// until it is full (by default 1,048,576 rows or 128 MiB), and a Writer
// has a file open per partition the rows touch: without the cap, a large
// object's memory grew with its size (10,000,000 orders over 10 months:
// about 1,000,000 rows held per partition). 131,072 orders encode to about
// 3.5 MiB. Compaction writes with the table's defaults, so the files that
// queries read for long get the large row groups.
const writeRowGroupRows = 1 << 17

// Writer writes one object's rows into data files of one table, without
// committing them. Memory is bounded by the Parquet row groups being
// built, one per partition the rows touch (each at most writeRowGroupRows
// rows, and never more than the rows written to it), and two batches in
// flight. To bound the partitions open at once, write an
// object in passes, each over some of its partitions, and Combine the
// Files. A Writer is used from one goroutine and ends with Close or Abort.
type Writer struct {
	table  string
	kind   Kind
	obj    Object
	tbl    *table.Table
	schema *arrow.Schema
	cancel context.CancelFunc

	batches chan arrow.RecordBatch
	done    chan struct{}
	ended   bool
	rows    int64

	// set by the encoding goroutine before done is closed
	files []iceberg.DataFile
	err   error
}

// NewWriter returns a Writer of record batches with schema sc into the kind
// of table of t, for the object obj. It creates the table when it does
// not exist yet and adds to it the columns of sc it lacks; a column of the
// table that sc lacks or types differently is a *SchemaDriftError.
// Discarded rows must carry DQColumns.
func (l *Lake) NewWriter(ctx context.Context, kind Kind, t *contract.Table, obj Object, sc *arrow.Schema) (*Writer, error) {
	if kind == Discarded {
		if err := checkDiscardedSchema(sc); err != nil {
			return nil, err
		}
	}
	tbl, err := l.ensure(ctx, kind, t, sc)
	if err != nil {
		return nil, err
	}
	return startWriter(ctx, tbl, kind, obj, sc, l.opts.TargetFileSize), nil
}

// startWriter starts a Writer of record batches with schema sc into data
// files of tbl (of the kind kind) for obj, rolling to a new file at
// target bytes.
func startWriter(ctx context.Context, tbl *table.Table, kind Kind, obj Object, sc *arrow.Schema, target int64) *Writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &Writer{
		table: strings.Join(tbl.Identifier(), "."), kind: kind, obj: obj, tbl: tbl, schema: sc, cancel: cancel,
		batches: make(chan arrow.RecordBatch, 1),
		done:    make(chan struct{}),
	}
	records := func(yield func(arrow.RecordBatch, error) bool) {
		for rec := range w.batches {
			if !yield(rec, nil) {
				rec.Release()
				return
			}
		}
	}
	go w.encode(ctx, target, records)
	return w
}

// encode writes the batches that Write sends until Close or Abort.
func (w *Writer) encode(ctx context.Context, target int64, records iter.Seq2[arrow.RecordBatch, error]) {
	defer func() {
		close(w.done)
		for rec := range w.batches { // after a failure, until Close or Abort
			rec.Release()
		}
	}()
	for df, err := range table.WriteRecords(ctx, w.tbl, w.schema, records,
		table.WithTargetFileSize(target),
		table.WithParquetRowGroupLimit(writeRowGroupRows),
		table.WithMaxWriteWorkers(1),
		table.WithRecordBatchBufferSize(2),
		table.WithWriteUUID(uuid.New()),
	) {
		if err != nil {
			w.err = fmt.Errorf("icetable: %s: write %s: %w", w.obj.Key, w.table, err)
			return
		}
		w.files = append(w.files, df)
	}
}

// Write adds the rows of rec, which must have the Writer's schema. The
// Writer keeps its own reference to rec.
func (w *Writer) Write(rec arrow.RecordBatch) error {
	if w.ended {
		return errors.New("icetable: write after Close or Abort")
	}
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("icetable: %s: write %s: batch schema %s differs from the writer's %s", w.obj.Key, w.table, rec.Schema(), w.schema)
	}
	select {
	case <-w.done:
		return w.err
	default:
	}
	rec.Retain()
	select {
	case w.batches <- rec:
		w.rows += rec.NumRows()
		return nil
	case <-w.done:
		rec.Release()
		return w.err
	}
}

// Close finishes the data files and returns them. On an error, files
// already stored stay in the lake, unreferenced: maintenance removes them
// as orphans.
func (w *Writer) Close() (Files, error) {
	dfs, err := w.finish()
	if err != nil {
		return Files{}, err
	}
	return describe(w.tbl, w.kind, w.obj, dfs)
}

// finish finishes the data files and returns them, having checked that
// they hold every row written.
func (w *Writer) finish() ([]iceberg.DataFile, error) {
	if w.ended {
		return nil, errors.New("icetable: Close after Close or Abort")
	}
	w.ended = true
	close(w.batches)
	<-w.done
	w.cancel()
	if w.err != nil {
		return nil, w.err
	}
	var rows int64
	for _, df := range w.files {
		rows += df.Count()
	}
	if rows != w.rows {
		return nil, fmt.Errorf("icetable: %s: write %s: %d rows in, %d in the data files", w.obj.Key, w.table, w.rows, rows)
	}
	return w.files, nil
}

// Abort stops the Writer; files already stored become orphans.
func (w *Writer) Abort() {
	if w.ended {
		return
	}
	w.ended = true
	w.cancel()
	close(w.batches)
	<-w.done
}
