package icetable

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Primary keys are compared and looked up as byte strings: appendKey
// encodes a row's key columns so that comparing encodings byte-wise
// orders the keys as an Iceberg sort order on the key columns does
// (column by column, ascending, NULLs first), and distinct keys have
// distinct encodings. Per column:
//
//	NULL                       0x00
//	a value                    0x01, then
//	  integers, dates, times-  8 bytes big-endian, sign bit flipped (any
//	  tamps                    integer width encodes alike)
//	  strings, binaries        the bytes, 0x00 escaped as 0x00 0xFF,
//	                           ended by 0x00 0x01
//	  decimals                 16 bytes big-endian two's complement, sign
//	                           bit flipped
//	  booleans                 0x00 or 0x01
//
// Each column's encoding ends by itself, so the encoding of a key's first
// column is a prefix of the key's encoding.

// appendKey appends the encoding of row i of keys (the primary key
// columns) to buf.
func appendKey(buf []byte, keys []arrow.Array, i int) ([]byte, error) {
	for _, a := range keys {
		if a.IsNull(i) {
			buf = append(buf, 0)
			continue
		}
		buf = append(buf, 1)
		switch a := a.(type) {
		case *array.String:
			buf = appendEscaped(buf, a.Value(i))
		case *array.Binary:
			buf = appendEscaped(buf, a.Value(i))
		case *array.Decimal128:
			v := a.Value(i)
			buf = appendSigned(buf, v.HighBits())
			buf = binary.BigEndian.AppendUint64(buf, v.LowBits())
		case *array.Boolean:
			b := byte(0)
			if a.Value(i) {
				b = 1
			}
			buf = append(buf, b)
		default:
			v, ok := intValue(a, i)
			if !ok {
				return nil, fmt.Errorf("primary key column of type %s is not supported", a.DataType())
			}
			buf = appendSigned(buf, v)
		}
	}
	return buf, nil
}

// appendEscaped appends the encoding of a string or binary value.
func appendEscaped[T string | []byte](buf []byte, v T) []byte {
	for i := range len(v) {
		if v[i] == 0 {
			buf = append(buf, 0, 0xFF)
		} else {
			buf = append(buf, v[i])
		}
	}
	return append(buf, 0, 1)
}

// intKeyLen is the length of the encoding of a non-NULL key of one
// integer-like column.
const intKeyLen = 9

// intKey is the integer that an encoding of intKeyLen bytes holds, in
// the encoding's order (unsigned), and whether enc is one.
func intKey(enc []byte) (uint64, bool) {
	if len(enc) != intKeyLen || enc[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint64(enc[1:]), true
}

// appendSigned appends v in 8 bytes whose byte order is v's order: big
// endian, with the sign bit flipped.
func appendSigned(buf []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(v)^1<<63)
}

// appendIntKey appends the encoding that intKey reads v from.
func appendIntKey(buf []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, 1), v)
}

// keyBatch holds the encoded keys of the rows of a record batch.
type keyBatch struct {
	buf  []byte
	ends []int32 // key i is buf[ends[i-1]:ends[i]]
}

// key is the encoding of row i.
func (k *keyBatch) key(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = k.ends[i-1]
	}
	return k.buf[start:k.ends[i]:k.ends[i]]
}

func (k *keyBatch) len() int { return len(k.ends) }

// add appends a key.
func (k *keyBatch) add(key []byte) {
	k.buf = append(k.buf, key...)
	k.ends = append(k.ends, int32(len(k.buf)))
}

// encodeKeys encodes the keys of every row of rec, whose columns keyIdx
// are the primary key.
func encodeKeys(rec arrow.RecordBatch, keyIdx []int) (keyBatch, error) {
	cols := make([]arrow.Array, len(keyIdx))
	for i, c := range keyIdx {
		cols[i] = rec.Column(c)
	}
	n := int(rec.NumRows())
	kb := keyBatch{buf: make([]byte, 0, n*(intKeyLen*len(cols))), ends: make([]int32, 0, n)}
	for i := range n {
		var err error
		if kb.buf, err = appendKey(kb.buf, cols, i); err != nil {
			return keyBatch{}, err
		}
		kb.ends = append(kb.ends, int32(len(kb.buf)))
	}
	return kb, nil
}

// columnIndices returns the positions in sc of the columns names.
func columnIndices(sc *arrow.Schema, names []string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		idx := sc.FieldIndices(n)
		if len(idx) != 1 {
			return nil, fmt.Errorf("no column %q", n)
		}
		out[i] = idx[0]
	}
	return out, nil
}
