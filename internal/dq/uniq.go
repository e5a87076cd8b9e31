package dq

import (
	"encoding/binary"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Row codes of a uniqueness group.
const (
	uSkip uint8 = iota // the where clause excluded the row
	uNull              // a key column is NULL
	uOnce              // the key occurs once (so far, until Finish)
	uDup               // the key occurs more than once
)

// uniqGroup is the uniqueness state of one key (columns and where
// clause), shared by every rule that asks about it: IsUnique, Uniqueness,
// IsPrimaryKey, DistinctValuesCount. It holds one hash set of the keys,
// in memory or, past the memory budget, spilled to disk; and, when a
// row-level rule uses it, a code per row.
type uniqGroup struct {
	rule  string // the first rule's text, for messages
	cols  []*column
	where binder
	rows  bool  // a row-level rule uses it: keep codes
	hint  int64 // rows expected, to presize the set

	set   *uniqSet // nil once spilled
	spill *spill
	codes vec2
	buf   []uint8 // the current batch's codes
	epoch uint64  // the batch buf holds

	inScope, members int64
	// decided by finish
	once, distinct int64
	count          [4]int64 // rows per code
}

// observe reads one batch's keys, once per batch whatever the number of
// rules sharing the group.
func (g *uniqGroup) observe(cols []arrow.Array, n int, offset int64, epoch uint64) error {
	g.epoch = epoch
	if g.set == nil && g.spill == nil {
		g.set = newUniqSet(g.cols, g.hint)
	}
	var where func(int) tri
	if g.where != nil {
		where = g.where(cols)
	}
	key := bindKey(g.cols, cols)
	g.buf = resize(g.buf, n)
	buf := g.buf
	var enc []byte
	for i := 0; i < n; i++ {
		if where != nil && where(i) != tTrue {
			buf[i] = uSkip
			continue
		}
		g.inScope++
		if key.null(i) {
			buf[i] = uNull
			continue
		}
		g.members++
		row := offset + int64(i)
		buf[i] = uOnce
		if g.spill != nil {
			enc = key.encode(i, row, enc[:0])
			if err := g.spill.add(enc, row); err != nil {
				return err
			}
			continue
		}
		first, dup := g.set.see(key, i, row)
		if !dup {
			continue
		}
		buf[i] = uDup
		switch {
		case !g.rows:
		case first >= offset:
			buf[first-offset] = uDup
		case first >= 0:
			g.codes.set(first, uDup)
		}
	}
	if g.rows {
		g.codes.appendAll(buf)
	}
	return nil
}

// code is row r's code once decided (after finish).
func (g *uniqGroup) code(r int64) uint8 { return g.codes.get(r) }

// bytes is the memory the group holds.
func (g *uniqGroup) bytes() int64 {
	n := g.codes.bytes() + int64(cap(g.buf))
	if g.set != nil {
		n += g.set.bytes()
	}
	if g.spill != nil {
		n += spillBuffer
	}
	return n
}

// spillTo moves the group's hash set to a spill in dir.
func (g *uniqGroup) spillTo(dir string) error {
	s, err := newSpill(dir)
	if err != nil {
		return err
	}
	if g.set != nil {
		if err := g.set.dump(g.cols, s.add); err != nil {
			s.close()
			return err
		}
	}
	g.set, g.spill = nil, s
	return nil
}

// finish decides the duplicates and counts: from the hash set, or by
// reading the spill back with at most memory for its hash set.
func (g *uniqGroup) finish(dir string, memory int64) error {
	switch {
	case g.spill != nil:
		dup := func(r int64) {}
		if g.rows {
			dup = func(r int64) { g.codes.set(r, uDup) }
		}
		once, distinct, err := g.spill.resolve(dir, memory, dup)
		g.spill.close()
		g.spill = nil
		if err != nil {
			return err
		}
		g.once, g.distinct = once, distinct
	case g.set != nil:
		g.once, g.distinct = g.set.once, g.set.distinct()
		g.set = nil // its answers are in the codes
	}
	if g.rows {
		for r := int64(0); r < g.codes.n; r++ {
			g.count[g.code(r)]++
		}
	}
	return nil
}

// uniqSet remembers, for every distinct key, the row where it was first
// seen, or -1 once it has been seen again.
type uniqSet struct {
	ints     *intTable
	decs     map[decimal128.Num]int64
	floats   map[float64]int64
	strs     map[string]int64 // strings and multi-column keys
	presize  int
	keyBytes int64 // bytes of the strings in strs
	once     int64 // keys seen exactly once
}

// maxPresize caps how many entries a uniqueness set reserves up front
// from the expected row count; beyond it the set grows as values come.
const maxPresize = 1 << 21

// Estimated bytes per entry of the Go maps (key, value and the map's
// overhead at its average load); strings add their bytes and allocation.
const (
	mapEntryBytes = 48
	strEntryBytes = 64
)

func newUniqSet(cols []*column, hint int64) *uniqSet {
	u := &uniqSet{presize: int(min(hint, maxPresize))}
	switch {
	case len(cols) == 1 && (cols[0].kind == kInt || cols[0].kind == kTime):
		u.ints = newIntTable(int64(u.presize))
	case len(cols) == 1 && cols[0].kind == kDecimal:
		u.decs = make(map[decimal128.Num]int64, u.presize)
	case len(cols) == 1 && cols[0].kind == kFloat:
		u.floats = make(map[float64]int64, u.presize)
	default:
		u.strs = make(map[string]int64, u.presize)
	}
	return u
}

func (u *uniqSet) distinct() int64 {
	n := len(u.decs) + len(u.floats) + len(u.strs)
	if u.ints != nil {
		n += u.ints.n
	}
	return int64(n)
}

// bytes estimates the memory the set holds.
func (u *uniqSet) bytes() int64 {
	switch {
	case u.ints != nil:
		return int64(len(u.ints.keys)) * 16
	case u.strs != nil:
		return int64(max(len(u.strs), u.presize))*strEntryBytes + u.keyBytes
	}
	return int64(max(len(u.decs), len(u.floats), u.presize)) * mapEntryBytes
}

func record[K comparable](u *uniqSet, m map[K]int64, k K, row int64) (int64, bool) {
	first, ok := m[k]
	if !ok {
		m[k] = row
		u.once++
		return -1, false
	}
	if first >= 0 {
		m[k] = -1
		u.once--
	}
	return first, true
}

// see records the key of row i of the batch key is bound to, as row; it
// returns the row where the key was first seen (-1 if unknown or already
// reported) and whether it was seen before.
func (u *uniqSet) see(key boundKey, i int, row int64) (int64, bool) {
	switch {
	case u.ints != nil:
		first, dup, nowDup := u.ints.record(key.int(i), row)
		switch {
		case !dup:
			u.once++
		case nowDup:
			u.once--
		}
		return first, dup
	case u.decs != nil:
		return record(u, u.decs, key.dec.Value(i), row)
	case u.floats != nil:
		return record(u, u.floats, key.float(i), row)
	}
	s := key.str(i)
	if first, ok := u.strs[s]; ok { // look up without copying
		if first >= 0 {
			u.strs[s] = -1
			u.once--
		}
		return first, true
	}
	u.keyBytes += int64(len(s))
	return record(u, u.strs, strings.Clone(s), row)
}

// dump writes every key with its first row (-1: duplicated) to emit, in
// the encoding of boundKey.encode.
func (u *uniqSet) dump(cols []*column, emit func(key []byte, row int64) error) error {
	var b []byte
	switch {
	case u.ints != nil:
		for j, v := range u.ints.vals {
			if v == 0 {
				continue
			}
			if v > 0 {
				v--
			}
			if err := emit(binary.LittleEndian.AppendUint64(b[:0], uint64(u.ints.keys[j])), v); err != nil {
				return err
			}
		}
	case u.decs != nil:
		for k, first := range u.decs {
			if err := emit(encodeDecimal(b[:0], k), first); err != nil {
				return err
			}
		}
	case u.floats != nil:
		for k, first := range u.floats {
			if err := emit(encodeFloat(b[:0], k, first), first); err != nil {
				return err
			}
		}
	default:
		for k, first := range u.strs {
			if err := emit([]byte(k), first); err != nil {
				return err
			}
		}
	}
	return nil
}

func encodeDecimal(b []byte, d decimal128.Num) []byte {
	b = binary.LittleEndian.AppendUint64(b, d.LowBits())
	return binary.LittleEndian.AppendUint64(b, uint64(d.HighBits()))
}

// encodeFloat encodes f as the hash set compares it: -0 as 0, and a NaN,
// never equal to anything, made unique by its row.
func encodeFloat(b []byte, f float64, row int64) []byte {
	if f == 0 {
		f = 0
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	if math.IsNaN(f) {
		b = binary.LittleEndian.AppendUint64(b, uint64(row))
	}
	return b
}

// boundKey reads the keys of one batch.
type boundKey struct {
	arrs  []arrow.Array
	cols  []*column
	int   func(int) int64
	dec   *array.Decimal128
	float func(int) float64
	str   func(int) string
}

func bindKey(cols []*column, batch []arrow.Array) boundKey {
	k := boundKey{arrs: make([]arrow.Array, len(cols)), cols: cols}
	for j, c := range cols {
		k.arrs[j] = batch[c.slot]
	}
	if len(cols) > 1 {
		var b strings.Builder
		k.str = func(i int) string {
			b.Reset()
			for j, c := range cols {
				if j > 0 {
					b.WriteByte(0)
				}
				b.WriteString(c.format(k.arrs[j], i))
			}
			return b.String()
		}
		return k
	}
	switch a := k.arrs[0]; cols[0].kind {
	case kInt, kTime:
		k.int = intGetter(a)
	case kDecimal:
		k.dec = a.(*array.Decimal128)
	case kFloat:
		k.float = floatGetter(a)
	default:
		k.str = stringGetter(a)
	}
	return k
}

func (k boundKey) null(i int) bool {
	for _, a := range k.arrs {
		if a.IsNull(i) {
			return true
		}
	}
	return false
}

// encode appends the key of row i (object row row) to b, as a spill
// stores it.
func (k boundKey) encode(i int, row int64, b []byte) []byte {
	switch {
	case k.int != nil:
		return binary.LittleEndian.AppendUint64(b, uint64(k.int(i)))
	case k.dec != nil:
		return encodeDecimal(b, k.dec.Value(i))
	case k.float != nil:
		return encodeFloat(b, k.float(i), row)
	}
	return append(b, k.str(i)...)
}
