package icetable

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// SchemaDriftError is an object whose columns the table cannot take
// without losing or reinterpreting data: a column of the table is missing
// from the object, or has another type there. (A new column is not drift:
// the table gains it.) The state machine catches errors of this type
// (ErrorEquals: "SchemaDriftError").
type SchemaDriftError struct {
	Table  string // e.g. silver.orders
	Column string
	// Table's and object's types of the column, as Iceberg types; Object
	// is empty when the object lacks the column.
	TableType, ObjectType string
}

func (e *SchemaDriftError) Error() string {
	if e.ObjectType == "" {
		return fmt.Sprintf("icetable: %s: schema drift: column %q (%s) is missing from the object; dropping a column is not supported",
			e.Table, e.Column, e.TableType)
	}
	return fmt.Sprintf("icetable: %s: schema drift: column %q is %s in the table but %s in the object; changing a column's type is not supported",
		e.Table, e.Column, e.TableType, e.ObjectType)
}

// icebergSchema is the Iceberg schema of the Arrow schema sc (docs/types.md
// has the mapping of PostgreSQL's types; all of them map): fresh field IDs
// and every top-level column optional, so that a column's becoming
// nullable in the source is not drift.
func icebergSchema(sc *arrow.Schema) (*iceberg.Schema, error) {
	s, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		return nil, fmt.Errorf("arrow schema %s: %w", sc, err)
	}
	fields := s.Fields()
	for i := range fields {
		fields[i].Required = false
	}
	return iceberg.NewSchema(0, fields...), nil
}

// evolve adds to tbl the columns of sc that it lacks, and returns a
// *SchemaDriftError when a column of tbl is missing from sc or has
// another type there. Nested types are compared whole.
func (l *Lake) evolve(ctx context.Context, tbl *table.Table, sc *arrow.Schema) (*table.Table, error) {
	want, err := icebergSchema(sc)
	if err != nil {
		return nil, fmt.Errorf("icetable: %s: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	name := strings.Join(tbl.Identifier(), ".")
	have := tbl.Schema()
	for _, f := range have.Fields() {
		g, ok := want.FindFieldByName(f.Name)
		if !ok {
			return nil, &SchemaDriftError{Table: name, Column: f.Name, TableType: shape(f.Type)}
		}
		if !sameType(f.Type, g.Type) {
			return nil, &SchemaDriftError{Table: name, Column: f.Name, TableType: shape(f.Type), ObjectType: shape(g.Type)}
		}
	}
	var added []iceberg.NestedField
	for _, g := range want.Fields() {
		if _, ok := have.FindFieldByName(g.Name); !ok {
			added = append(added, g)
		}
	}
	if len(added) == 0 {
		return tbl, nil
	}
	txn := tbl.NewTransaction()
	upd := txn.UpdateSchema(true, false)
	for _, g := range added {
		upd.AddColumn([]string{g.Name}, g.Type, "", false, nil)
	}
	if err := upd.Commit(); err != nil {
		return nil, fmt.Errorf("icetable: %s: add columns: %w", name, err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("icetable: %s: add columns: %w", name, err)
	}
	return next, nil
}

// sameType compares two Iceberg types ignoring the field IDs and the
// nullability of nested types (which a fresh conversion sets anew).
func sameType(a, b iceberg.Type) bool {
	return shape(a) == shape(b)
}

// shape spells t without field IDs or nullability.
func shape(t iceberg.Type) string {
	switch t := t.(type) {
	case *iceberg.StructType:
		fields := make([]string, len(t.FieldList))
		for i, f := range t.FieldList {
			fields[i] = f.Name + ": " + shape(f.Type)
		}
		return "struct<" + strings.Join(fields, ", ") + ">"
	case *iceberg.ListType:
		return "list<" + shape(t.Element) + ">"
	case *iceberg.MapType:
		return "map<" + shape(t.KeyType) + ", " + shape(t.ValueType) + ">"
	}
	return t.String()
}
