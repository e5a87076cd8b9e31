package pgarrow

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"
)

// kind is how a PostgreSQL type is decoded and which Arrow type it becomes.
type kind int

const (
	kInt16 kind = iota
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBool
	kText  // text, varchar, char(n), enums, json: the bytes as sent
	kJSONB // a version byte, then the JSON text
	kUUID  // 16 bytes, emitted as the canonical text form
	kBytea
	kDate
	kTime
	kTimestamp
	kTimestamptz
	kInterval
	kDecimal     // numeric(p,s) with p <= 38 and s >= 0
	kNumericText // any other numeric: exact decimal text
	kList
)

// colType is a resolved column type.
type colType struct {
	kind             kind
	precision, scale int32    // kDecimal
	elem             *colType // kList
	arrow            arrow.DataType
}

// Built-in type OIDs (stable across PostgreSQL versions).
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

var baseKinds = map[uint32]kind{
	oidBool: kBool, oidBytea: kBytea, oidInt8: kInt64, oidInt2: kInt16, oidInt4: kInt32,
	oidText: kText, oidJSON: kText, oidFloat4: kFloat32, oidFloat8: kFloat64,
	oidBpchar: kText, oidVarchar: kText, oidDate: kDate, oidTime: kTime,
	oidTimestamp: kTimestamp, oidTimestamptz: kTimestamptz, oidInterval: kInterval,
	oidNumeric: kDecimal, oidUUID: kUUID, oidJSONB: kJSONB,
}

// IntervalType is the Arrow type of interval columns: PostgreSQL's own
// three fields, so that no value is rounded or normalised.
var IntervalType = arrow.StructOf(
	arrow.Field{Name: "months", Type: arrow.PrimitiveTypes.Int32},
	arrow.Field{Name: "days", Type: arrow.PrimitiveTypes.Int32},
	arrow.Field{Name: "microseconds", Type: arrow.PrimitiveTypes.Int64},
)

const describeColumns = `
SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

const describeType = `
SELECT typtype, typbasetype, typtypmod, typelem, typcategory, typnotnull
FROM pg_catalog.pg_type WHERE oid = $1`

// Describe reads the columns of schema.table, in ordinal order, from the
// PostgreSQL catalog and maps each to an Arrow type (docs/types.md). It
// returns a *TableNotFoundError when the table does not exist and an
// *UnsupportedTypeError for the first column whose type has no faithful
// mapping.
func Describe(ctx context.Context, q Querier, schema, table string) (*Table, error) {
	t := &Table{Schema: schema, Name: table}
	rows, err := q.Query(ctx, describeColumns, schema, table)
	if err != nil {
		return nil, fmt.Errorf("pgarrow: describe %s: %w", t.Ident(), err)
	}
	type attr struct {
		name    string
		oid     uint32
		typmod  int32
		notNull bool
		typ     string
	}
	var attrs []attr
	for rows.Next() {
		var a attr
		if err := rows.Scan(&a.name, &a.oid, &a.typmod, &a.notNull, &a.typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pgarrow: describe %s: %w", t.Ident(), err)
		}
		attrs = append(attrs, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgarrow: describe %s: %w", t.Ident(), err)
	}
	if len(attrs) == 0 {
		return nil, &TableNotFoundError{Schema: schema, Table: table}
	}
	fields := make([]arrow.Field, len(attrs))
	for i, a := range attrs {
		r, err := resolve(ctx, q, a.oid, a.typmod, 0)
		if err != nil {
			return nil, fmt.Errorf("pgarrow: describe %s column %q: %w", t.Ident(), a.name, err)
		}
		if r.typ == nil {
			return nil, &UnsupportedTypeError{Table: schema + "." + table, Column: a.name, Type: a.typ}
		}
		notNull := a.notNull || r.notNull
		t.Columns = append(t.Columns, Column{Name: a.name, Type: a.typ, NotNull: notNull, OID: r.wireOID, typ: r.typ})
		fields[i] = arrow.Field{Name: a.name, Type: r.typ.arrow, Nullable: !notNull}
	}
	t.Arrow = arrow.NewSchema(fields, nil)
	return t, nil
}

// resolved is a type after following domains.
type resolved struct {
	typ     *colType // nil when unsupported
	wireOID uint32   // the OID PostgreSQL sends for values of the type
	notNull bool     // a domain along the way is NOT NULL
}

// resolve maps a type OID and typmod to a colType, following domains to
// their base type and arrays to their element type.
func resolve(ctx context.Context, q Querier, oid uint32, typmod int32, depth int) (resolved, error) {
	if depth > 32 {
		return resolved{}, fmt.Errorf("type %d: domains or arrays nested too deeply", oid)
	}
	if k, ok := baseKinds[oid]; ok {
		return resolved{typ: baseType(k, typmod), wireOID: oid}, nil
	}
	var (
		typtype, category byte
		base, elem        uint32
		baseMod           int32
		notNull           bool
	)
	rows, err := q.Query(ctx, describeType, oid)
	if err != nil {
		return resolved{}, err
	}
	_, err = pgx.ForEachRow(rows, []any{&typtype, &base, &baseMod, &elem, &category, &notNull}, func() error { return nil })
	if err != nil {
		return resolved{}, fmt.Errorf("type %d: %w", oid, err)
	}
	switch {
	case typtype == 'd':
		if typmod == -1 {
			typmod = baseMod
		}
		r, err := resolve(ctx, q, base, typmod, depth+1)
		r.notNull = r.notNull || notNull
		return r, err
	case typtype == 'e':
		return resolved{typ: baseType(kText, -1), wireOID: oid}, nil
	case category == 'A' && elem != 0:
		// Element typmods equal the array column's typmod.
		r, err := resolve(ctx, q, elem, typmod, depth+1)
		if err != nil || r.typ == nil || r.typ.kind == kList {
			return resolved{}, err
		}
		return resolved{typ: &colType{kind: kList, elem: r.typ, arrow: arrow.ListOf(r.typ.arrow)}, wireOID: oid}, nil
	}
	return resolved{}, nil
}

// baseType is the colType of a built-in type with the given typmod.
func baseType(k kind, typmod int32) *colType {
	t := &colType{kind: k}
	switch k {
	case kInt16:
		t.arrow = arrow.PrimitiveTypes.Int16
	case kInt32:
		t.arrow = arrow.PrimitiveTypes.Int32
	case kInt64:
		t.arrow = arrow.PrimitiveTypes.Int64
	case kFloat32:
		t.arrow = arrow.PrimitiveTypes.Float32
	case kFloat64:
		t.arrow = arrow.PrimitiveTypes.Float64
	case kBool:
		t.arrow = arrow.FixedWidthTypes.Boolean
	case kText, kJSONB, kUUID:
		t.arrow = arrow.BinaryTypes.String
	case kBytea:
		t.arrow = arrow.BinaryTypes.Binary
	case kDate:
		t.arrow = arrow.FixedWidthTypes.Date32
	case kTime:
		t.arrow = arrow.FixedWidthTypes.Time64us
	case kTimestamp:
		t.arrow = &arrow.TimestampType{Unit: arrow.Microsecond}
	case kTimestamptz:
		t.arrow = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case kInterval:
		t.arrow = IntervalType
	case kDecimal:
		// typmod = ((precision << 16) | (scale & 0x7ff)) + 4; scale is an
		// 11-bit signed number (negative scales exist since PostgreSQL 15).
		if typmod < 4 {
			t.kind, t.arrow = kNumericText, arrow.BinaryTypes.String
			break
		}
		p := (typmod - 4) >> 16 & 0xffff
		s := ((typmod-4)&0x7ff ^ 1024) - 1024
		if p > 38 || s < 0 || s > p {
			t.kind, t.arrow = kNumericText, arrow.BinaryTypes.String
			break
		}
		t.precision, t.scale = p, s
		t.arrow = &arrow.Decimal128Type{Precision: p, Scale: s}
	}
	return t
}
