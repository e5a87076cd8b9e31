// Package pgarrow reads PostgreSQL tables as Apache Arrow record batches
// with full type fidelity. Describe maps a table's columns, from the
// PostgreSQL catalog, to an Arrow schema; Stream runs a query over those
// columns and decodes PostgreSQL's binary wire format straight into Arrow
// builders, without per-row allocations.
//
// The ingest step (package ingest) imports it; docs/types.md is the type
// mapping it implements.
package pgarrow

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"
)

// Querier runs catalog queries. pgx.Tx, *pgx.Conn and *pgxpool.Pool
// satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Table is a source table described from the catalog.
type Table struct {
	Schema  string
	Name    string
	Columns []Column
	// Arrow is the schema of the record batches Stream emits: one field per
	// column, in order, nullable unless the column is NOT NULL.
	Arrow *arrow.Schema
}

// Column is one column of a Table.
type Column struct {
	Name string
	// Type is PostgreSQL's own spelling of the declared type
	// (format_type), e.g. "numeric(12,2)" or "timestamp with time zone".
	Type    string
	NotNull bool
	// OID is the type's OID; for a domain, that of its base type, which is
	// what PostgreSQL puts on the wire.
	OID uint32

	typ *colType
}

// Ident is the table's quoted, schema-qualified name for use in SQL.
func (t *Table) Ident() string {
	return pgx.Identifier{t.Schema, t.Name}.Sanitize()
}

// ColumnList is the table's columns, quoted and comma-separated, in order:
// the select list of a query for Stream.
func (t *Table) ColumnList() string {
	s := ""
	for i, c := range t.Columns {
		if i > 0 {
			s += ", "
		}
		s += pgx.Identifier{c.Name}.Sanitize()
	}
	return s
}

// Column returns the named column, or false.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// TableNotFoundError is returned by Describe when the table (or view) does
// not exist or the role cannot see it.
type TableNotFoundError struct {
	Schema, Table string
}

func (e *TableNotFoundError) Error() string {
	return fmt.Sprintf("pgarrow: table %s.%s not found", e.Schema, e.Table)
}

// UnsupportedTypeError is returned by Describe for a column whose type has
// no faithful Arrow mapping.
type UnsupportedTypeError struct {
	Table  string // schema-qualified
	Column string
	Type   string
}

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("pgarrow: table %s column %q: unsupported type %s (see docs/types.md)", e.Table, e.Column, e.Type)
}

// UnrepresentableValueError is returned by Stream for a value that the
// column's Arrow type cannot hold faithfully, such as NaN in numeric(p,s),
// an infinite timestamp or date, or a multi-dimensional array.
type UnrepresentableValueError struct {
	Table  string // schema-qualified
	Column string
	Row    int64 // 1-based position in the query's result
	Reason string
}

func (e *UnrepresentableValueError) Error() string {
	return fmt.Sprintf("pgarrow: table %s column %q row %d: %s", e.Table, e.Column, e.Row, e.Reason)
}

// errUnrepresentable is what decoders return for a value they refuse;
// Stream turns it into an *UnrepresentableValueError.
type errUnrepresentable string

func (e errUnrepresentable) Error() string { return string(e) }
