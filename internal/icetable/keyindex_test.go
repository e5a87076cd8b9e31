package icetable

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
)

// encodeOne encodes the key of one column holding vals (nil: NULL).
func encodeOne(t *testing.T, dt arrow.DataType, vals ...any) [][]byte {
	t.Helper()
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b.AppendNull()
		case int64:
			b.(*array.Int64Builder).Append(v)
		case int32:
			b.(*array.Int32Builder).Append(v)
		case string:
			b.(*array.StringBuilder).Append(v)
		case decimal128.Num:
			b.(*array.Decimal128Builder).Append(v)
		case bool:
			b.(*array.BooleanBuilder).Append(v)
		default:
			t.Fatalf("value %v (%T)", v, v)
		}
	}
	a := b.NewArray()
	defer a.Release()
	var out [][]byte
	for i := range a.Len() {
		k, err := appendKey(nil, []arrow.Array{a}, i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func TestKeyEncodingOrder(t *testing.T) {
	tests := []struct {
		name string
		dt   arrow.DataType
		vals []any // in ascending order
	}{
		{"int64", arrow.PrimitiveTypes.Int64, []any{nil, int64(math.MinInt64), int64(-2), int64(-1), int64(0), int64(1), int64(255), int64(256), int64(math.MaxInt64)}},
		{"int32", arrow.PrimitiveTypes.Int32, []any{nil, int32(math.MinInt32), int32(-1), int32(0), int32(7)}},
		{"string", arrow.BinaryTypes.String, []any{nil, "", "\x00", "\x00\x00", "\x00a", "a", "a\x00", "a\x00b", "ab", "b", "é"}},
		{"decimal", &arrow.Decimal128Type{Precision: 38, Scale: 2}, []any{nil, decimal128.FromI64(-1 << 62).Mul(decimal128.FromI64(8)), decimal128.FromI64(-5), decimal128.FromI64(0), decimal128.FromI64(5), decimal128.FromI64(1 << 62).Mul(decimal128.FromI64(8))}},
		{"bool", arrow.FixedWidthTypes.Boolean, []any{nil, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := encodeOne(t, tt.dt, tt.vals...)
			for i := 1; i < len(keys); i++ {
				if bytes.Compare(keys[i-1], keys[i]) >= 0 {
					t.Errorf("key of %v (%x) does not sort below that of %v (%x)", tt.vals[i-1], keys[i-1], tt.vals[i], keys[i])
				}
			}
		})
	}
}

// buildIndex indexes keys (sorted) with cursor i for row i.
func buildIndex(t *testing.T, keys [][]byte) []byte {
	t.Helper()
	var b keyIndexBuilder
	for i, k := range keys {
		if err := b.add(k, cursor{v: int64(i), valid: true}); err != nil {
			t.Fatal(err)
		}
	}
	return b.finish("f.parquet", 1234)
}

func TestKeyIndexLookup(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ints := func(n int, gap func() int64) [][]byte {
		var out [][]byte
		v := int64(-1000)
		for range n {
			out = append(out, appendIntKey(nil, uint64(v)^1<<63))
			v += gap()
		}
		return out
	}
	strs := func(n int) [][]byte {
		var out [][]byte
		for i := range n {
			out = append(out, encodeOne(t, arrow.BinaryTypes.String, fmt.Sprintf("order-%08d-%x", i*3, i%7))[0])
		}
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"empty", nil},
		{"dense integers", ints(10_000, func() int64 { return 1 })},
		{"sparse integers", ints(5_000, func() int64 { return 1 + rnd.Int64N(1000) })},
		{"huge gaps", ints(600, func() int64 { return 1 + rnd.Int64N(math.MaxInt64/1000) })},
		{"duplicates across blocks", ints(2_000, func() int64 { return int64(rnd.IntN(2)) * 3 })},
		{"one block", ints(keyIndexBlock, func() int64 { return 2 })},
		{"strings", strs(3_000)},
		{"NULL keys then integers", append(encodeOne(t, arrow.PrimitiveTypes.Int64, nil, nil, nil), ints(700, func() int64 { return 5 })...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := parseKeyIndex(buildIndex(t, tt.keys), "f.parquet", int64(len(tt.keys)), 1234)
			if err != nil {
				t.Fatal(err)
			}
			// look up every other distinct key, and keys that are absent
			var probe [][]byte
			for i, k := range tt.keys {
				if i%2 == 0 {
					probe = append(probe, k)
				}
			}
			probe = append(probe, appendIntKey(nil, 3), encodeOne(t, arrow.BinaryTypes.String, "order-00000001-0")[0], []byte{0xff})
			slices.SortFunc(probe, bytes.Compare)
			probe = slices.CompactFunc(probe, bytes.Equal)
			got := map[int64]int{}
			err = x.lookup(probe, func(k int, pos int64, blockMax cursor) {
				if _, dup := got[pos]; dup {
					t.Errorf("row %d reported twice", pos)
				}
				got[pos] = k
				if blockMax.v < pos || blockMax.v >= (pos/keyIndexBlock+1)*keyIndexBlock || !blockMax.valid {
					t.Errorf("row %d: block's greatest cursor %+v", pos, blockMax)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[int64]int{}
			for pos, k := range tt.keys {
				if i, ok := slices.BinarySearchFunc(probe, k, bytes.Compare); ok {
					want[int64(pos)] = i
				}
			}
			if len(got) != len(want) {
				t.Errorf("found %d rows, want %d", len(got), len(want))
			}
			for pos, k := range want {
				if g, ok := got[pos]; !ok || g != k {
					t.Errorf("row %d: found as key %d (%v), want key %d", pos, g, ok, k)
				}
			}
		})
	}
}

func TestKeyIndexRejectsMismatch(t *testing.T) {
	keys := [][]byte{appendIntKey(nil, 1), appendIntKey(nil, 5)}
	good := buildIndex(t, keys)
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name       string
		b          []byte
		file       string
		rows, size int64
	}{
		{"other file", good, "g.parquet", 2, 1234},
		{"other row count", good, "f.parquet", 3, 1234},
		{"other size", good, "f.parquet", 2, 99},
		{"corrupt", flipped, "f.parquet", 2, 1234},
		{"truncated", good[:len(good)-7], "f.parquet", 2, 1234},
		{"not an index", []byte("PAR1...."), "f.parquet", 2, 1234},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseKeyIndex(tt.b, tt.file, tt.rows, tt.size); !errors.Is(err, errKeyIndexMismatch) {
				t.Errorf("parse = %v, want errKeyIndexMismatch", err)
			}
		})
	}
	var b keyIndexBuilder
	if err := b.add(keys[1], cursor{}); err != nil {
		t.Fatal(err)
	}
	if err := b.add(keys[0], cursor{}); err == nil {
		t.Errorf("a key below the previous one was accepted")
	}
}

func TestKeyIndexSize(t *testing.T) {
	// 1,000,000 consecutive integer keys: the directory, and no payload
	var b keyIndexBuilder
	for i := range 1_000_000 {
		if err := b.add(appendIntKey(nil, uint64(i)), cursor{}); err != nil {
			t.Fatal(err)
		}
	}
	n := len(b.finish("f.parquet", 1))
	if perKey := float64(n) / 1e6; perKey > 0.2 {
		t.Errorf("index of 1,000,000 consecutive keys: %d bytes, %.2f a key; want at most 0.2", n, perKey)
	}
}

func TestBoundKeyMatchesKeyEncoding(t *testing.T) {
	dec := func(v int64) decimal128.Num { return decimal128.FromI64(v) }
	tests := []struct {
		name string
		typ  iceberg.Type
		dt   arrow.DataType
		vals []any
		lit  func(v any) iceberg.Literal
	}{
		{"long", iceberg.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64, []any{int64(math.MinInt64), int64(-3), int64(0), int64(1 << 40)},
			func(v any) iceberg.Literal { return iceberg.NewLiteral(v.(int64)) }},
		{"int", iceberg.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int32, []any{int32(-7), int32(0), int32(math.MaxInt32)},
			func(v any) iceberg.Literal { return iceberg.NewLiteral(v.(int32)) }},
		{"string", iceberg.PrimitiveTypes.String, arrow.BinaryTypes.String, []any{"", "a\x00b", "zz"},
			func(v any) iceberg.Literal { return iceberg.NewLiteral(v.(string)) }},
		{"decimal", iceberg.DecimalTypeOf(38, 2), &arrow.Decimal128Type{Precision: 38, Scale: 2}, []any{dec(-1 << 50), dec(-1), dec(0), dec(255), dec(1 << 60)},
			func(v any) iceberg.Literal {
				return iceberg.DecimalLiteral(iceberg.Decimal{Val: decimal.Decimal128(v.(decimal128.Num)), Scale: 2})
			}},
		{"boolean", iceberg.PrimitiveTypes.Bool, arrow.FixedWidthTypes.Boolean, []any{false, true},
			func(v any) iceberg.Literal { return iceberg.NewLiteral(v.(bool)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := encodeOne(t, tt.dt, tt.vals...)
			for i, v := range tt.vals {
				b, err := tt.lit(v).MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if got := boundKey(tt.typ, b); !bytes.Equal(got, keys[i]) {
					t.Errorf("bound of %v encodes as %x, the key as %x", v, got, keys[i])
				}
			}
		})
	}
}
