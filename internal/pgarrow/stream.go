package pgarrow

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultBatchRows is a batch size that keeps per-batch overhead low and a
// batch of a typical table within a few MiB.
const DefaultBatchRows = 32 * 1024

// Stream runs query in tx with args and emits its rows as Arrow record
// batches of t.Arrow's schema, each of at most batchRows rows (<= 0 means
// DefaultBatchRows). The query must return exactly t's columns, in order
// (SELECT <t.ColumnList()> FROM <t.Ident()> ...); Stream checks their
// count and types. emit owns the batch: it must Release it when done, and
// may keep it (Retain) beyond the call. An error from emit stops the
// stream and is returned as is.
//
// Values are decoded from PostgreSQL's binary format straight into Arrow
// builders; a value the Arrow type cannot hold (docs/types.md) fails with
// an *UnrepresentableValueError.
func Stream(ctx context.Context, tx pgx.Tx, t *Table, query string, args []any, batchRows int, emit func(arrow.RecordBatch) error) error {
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, t.Arrow)
	defer bld.Release()
	decs := make([]decoder, len(t.Columns))
	for i, c := range t.Columns {
		decs[i] = newDecoder(c.typ, bld.Field(i))
	}
	bld.Reserve(batchRows)

	qargs := make([]any, 0, len(args)+1)
	qargs = append(qargs, pgx.QueryResultFormats{pgx.BinaryFormatCode})
	qargs = append(qargs, args...)
	rows, err := tx.Query(ctx, query, qargs...)
	if err != nil {
		return fmt.Errorf("pgarrow: query %s: %w", t.Ident(), err)
	}
	defer rows.Close()
	if err := checkFields(t, rows.FieldDescriptions()); err != nil {
		return err
	}

	var n, rowNum int64
	flush := func() error {
		rec := bld.NewRecordBatch()
		n = 0
		reserve(bld, rec, batchRows)
		return emit(rec)
	}
	for rows.Next() {
		rowNum++
		for i, v := range rows.RawValues() {
			if err := decs[i](v); err != nil {
				return valueError(t, i, rowNum, err)
			}
		}
		if n++; n == int64(batchRows) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgarrow: query %s: %w", t.Ident(), err)
	}
	if n > 0 {
		return flush()
	}
	return nil
}

// reserve makes room in bld for a batch like prev: batchRows rows and, for
// variable-length columns, as many data bytes as prev held, so that the
// builders do not grow (and copy) their buffers value by value.
func reserve(bld *array.RecordBuilder, prev arrow.RecordBatch, batchRows int) {
	bld.Reserve(batchRows)
	for i, f := range bld.Fields() {
		var b *array.BinaryBuilder
		switch f := f.(type) {
		case *array.StringBuilder:
			b = f.BinaryBuilder
		case *array.BinaryBuilder:
			b = f
		default:
			continue
		}
		if bufs := prev.Column(i).Data().Buffers(); len(bufs) == 3 && bufs[2] != nil {
			b.ReserveData(bufs[2].Len())
		}
	}
}

// checkFields verifies that a result has t's columns' count and types.
func checkFields(t *Table, fds []pgconn.FieldDescription) error {
	if len(fds) != len(t.Columns) {
		return fmt.Errorf("pgarrow: query %s returns %d columns, want the table's %d", t.Ident(), len(fds), len(t.Columns))
	}
	for i, fd := range fds {
		if fd.Format != pgx.BinaryFormatCode {
			return fmt.Errorf("pgarrow: query %s: result column %d (%s) is in text format; Stream needs the extended query protocol (not simple_protocol)", t.Ident(), i+1, fd.Name)
		}
		if c := t.Columns[i]; fd.DataTypeOID != c.OID {
			return fmt.Errorf("pgarrow: query %s: result column %d (%s) has type OID %d, want column %q's %s (OID %d)",
				t.Ident(), i+1, fd.Name, fd.DataTypeOID, c.Name, c.Type, c.OID)
		}
	}
	return nil
}

// valueError names the table, column and row of a decoding failure.
func valueError(t *Table, col int, row int64, err error) error {
	var u errUnrepresentable
	if errors.As(err, &u) {
		return &UnrepresentableValueError{Table: t.Schema + "." + t.Name, Column: t.Columns[col].Name, Row: row, Reason: string(u)}
	}
	return fmt.Errorf("pgarrow: table %s column %q row %d: %w", t.Ident(), t.Columns[col].Name, row, err)
}
