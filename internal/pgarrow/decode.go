package pgarrow

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// decoder appends one value in PostgreSQL's binary format to its Arrow
// builder; b == nil is SQL NULL. It never keeps b.
type decoder func(b []byte) error

var be = binary.BigEndian

// Offsets between PostgreSQL's epoch (2000-01-01) and Unix's.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * 86400 * 1_000_000
)

// newDecoder returns the decoder for t appending to bld, which must be a
// builder of t.arrow.
func newDecoder(t *colType, bld array.Builder) decoder {
	switch t.kind {
	case kInt16:
		b := bld.(*array.Int16Builder)
		return fixed(bld, 2, func(v []byte) error { b.UnsafeAppend(int16(be.Uint16(v))); return nil })
	case kInt32:
		b := bld.(*array.Int32Builder)
		return fixed(bld, 4, func(v []byte) error { b.UnsafeAppend(int32(be.Uint32(v))); return nil })
	case kInt64:
		b := bld.(*array.Int64Builder)
		return fixed(bld, 8, func(v []byte) error { b.UnsafeAppend(int64(be.Uint64(v))); return nil })
	case kFloat32:
		b := bld.(*array.Float32Builder)
		return fixed(bld, 4, func(v []byte) error { b.UnsafeAppend(math.Float32frombits(be.Uint32(v))); return nil })
	case kFloat64:
		b := bld.(*array.Float64Builder)
		return fixed(bld, 8, func(v []byte) error { b.UnsafeAppend(math.Float64frombits(be.Uint64(v))); return nil })
	case kBool:
		b := bld.(*array.BooleanBuilder)
		return fixed(bld, 1, func(v []byte) error { b.UnsafeAppend(v[0] != 0); return nil })
	case kText:
		b := bld.(*array.StringBuilder).BinaryBuilder
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			b.Append(v)
			return nil
		}
	case kJSONB:
		b := bld.(*array.StringBuilder).BinaryBuilder
		return func(v []byte) error {
			switch {
			case v == nil:
				b.AppendNull()
			case len(v) == 0 || v[0] != 1:
				return fmt.Errorf("jsonb: unknown binary format version")
			default:
				b.Append(v[1:])
			}
			return nil
		}
	case kUUID:
		b := bld.(*array.StringBuilder).BinaryBuilder
		var buf [36]byte
		return fixed(bld, 16, func(v []byte) error { b.Append(formatUUID(&buf, v)); return nil })
	case kBytea:
		b := bld.(*array.BinaryBuilder)
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			b.Append(v)
			return nil
		}
	case kDate:
		b := bld.(*array.Date32Builder)
		return fixed(bld, 4, func(v []byte) error {
			d := int32(be.Uint32(v))
			if d == math.MaxInt32 || d == math.MinInt32 {
				return errUnrepresentable("infinite date")
			}
			b.UnsafeAppend(arrow.Date32(d + pgEpochDays))
			return nil
		})
	case kTime:
		b := bld.(*array.Time64Builder)
		return fixed(bld, 8, func(v []byte) error { b.UnsafeAppend(arrow.Time64(be.Uint64(v))); return nil })
	case kTimestamp, kTimestamptz:
		b := bld.(*array.TimestampBuilder)
		return fixed(bld, 8, func(v []byte) error {
			us := int64(be.Uint64(v))
			if us == math.MaxInt64 || us == math.MinInt64 {
				return errUnrepresentable("infinite timestamp")
			}
			b.UnsafeAppend(arrow.Timestamp(us + pgEpochMicros))
			return nil
		})
	case kInterval:
		b := bld.(*array.StructBuilder)
		months := b.FieldBuilder(0).(*array.Int32Builder)
		days := b.FieldBuilder(1).(*array.Int32Builder)
		micros := b.FieldBuilder(2).(*array.Int64Builder)
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			if len(v) != 16 {
				return fmt.Errorf("interval: %d bytes, want 16", len(v))
			}
			b.Append(true)
			micros.Append(int64(be.Uint64(v)))
			days.Append(int32(be.Uint32(v[8:])))
			months.Append(int32(be.Uint32(v[12:])))
			return nil
		}
	case kDecimal:
		b := bld.(*array.Decimal128Builder)
		scale := t.scale
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			n, err := numericToDecimal(v, scale)
			if err != nil {
				return err
			}
			b.Append(n)
			return nil
		}
	case kNumericText:
		b := bld.(*array.StringBuilder).BinaryBuilder
		var buf []byte
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			var err error
			if buf, err = appendNumericText(buf[:0], v); err != nil {
				return err
			}
			b.Append(buf)
			return nil
		}
	case kList:
		b := bld.(*array.ListBuilder)
		elem := newDecoder(t.elem, b.ValueBuilder())
		return func(v []byte) error {
			if v == nil {
				b.AppendNull()
				return nil
			}
			return decodeArray(b, elem, v)
		}
	}
	panic(fmt.Sprintf("pgarrow: no decoder for kind %d", t.kind))
}

// fixed wraps a decoder of fixed-width values: it appends NULLs, checks the
// width and reserves room so that f may use UnsafeAppend.
func fixed(bld array.Builder, width int, f decoder) decoder {
	return func(v []byte) error {
		if v == nil {
			bld.AppendNull()
			return nil
		}
		if len(v) != width {
			return fmt.Errorf("value of %d bytes, want %d", len(v), width)
		}
		bld.Reserve(1)
		return f(v)
	}
}

// decodeArray appends a one-dimensional array (array_send's format: ndim,
// has-nulls flag, element OID, then length and lower bound per dimension,
// then each element as a length-prefixed value) as one list.
func decodeArray(b *array.ListBuilder, elem decoder, v []byte) error {
	if len(v) < 12 {
		return fmt.Errorf("array: header of %d bytes", len(v))
	}
	ndim := int32(be.Uint32(v))
	if ndim == 0 {
		b.Append(true)
		return nil
	}
	if ndim != 1 {
		return errUnrepresentable(fmt.Sprintf("array of %d dimensions (only one-dimensional arrays are supported)", ndim))
	}
	if len(v) < 20 {
		return fmt.Errorf("array: header of %d bytes", len(v))
	}
	n := int(int32(be.Uint32(v[12:])))
	v = v[20:]
	b.Append(true)
	for i := 0; i < n; i++ {
		if len(v) < 4 {
			return fmt.Errorf("array: truncated at element %d", i)
		}
		l := int(int32(be.Uint32(v)))
		v = v[4:]
		if l < 0 {
			if err := elem(nil); err != nil {
				return err
			}
			continue
		}
		if l > len(v) {
			return fmt.Errorf("array: truncated at element %d", i)
		}
		// A zero-length value is not NULL: keep it non-nil.
		if err := elem(v[:l:l]); err != nil {
			return err
		}
		v = v[l:]
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// formatUUID writes the canonical 8-4-4-4-12 text form of u into buf.
func formatUUID(buf *[36]byte, u []byte) []byte {
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j], buf[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return buf[:]
}
