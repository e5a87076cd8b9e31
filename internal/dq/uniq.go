package dq

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// uniqSet remembers, for every distinct key, the row where it was first
// seen, or -1 once it has been seen again. This hash set is the memory the
// evaluator needs beyond a batch: one entry per distinct value.
type uniqSet struct {
	cols   []*column
	ints   *intTable
	decs   map[decimal128.Num]int64
	floats map[float64]int64
	strs   map[string]int64 // strings and multi-column keys
	once   int64            // keys seen exactly once
}

// maxPresize caps how many entries a uniqueness set reserves up front
// from the expected row count; beyond it the set grows as values come.
const maxPresize = 1 << 21

func newUniqSet(cols []*column, hint int64) *uniqSet {
	u := &uniqSet{cols: cols}
	h := int(min(hint, maxPresize))
	switch {
	case len(cols) == 1 && (cols[0].kind == kInt || cols[0].kind == kTime):
		u.ints = newIntTable(int64(h))
	case len(cols) == 1 && cols[0].kind == kDecimal:
		u.decs = make(map[decimal128.Num]int64, h)
	case len(cols) == 1 && cols[0].kind == kFloat:
		u.floats = make(map[float64]int64, h)
	default:
		u.strs = make(map[string]int64, h)
	}
	return u
}

func (u *uniqSet) unique() int64 { return u.once }

func (u *uniqSet) distinct() int64 {
	n := len(u.decs) + len(u.floats) + len(u.strs)
	if u.ints != nil {
		n += u.ints.n
	}
	return int64(n)
}

// boundKey reads keys from one batch.
type boundKey struct {
	u    *uniqSet
	null func(int) bool
	see  func(i int, row int64) (first int64, dup bool)
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

func (u *uniqSet) bind(cols []arrow.Array) boundKey {
	arrs := make([]arrow.Array, len(u.cols))
	for j, c := range u.cols {
		arrs[j] = cols[c.slot]
	}
	k := boundKey{u: u}
	k.null = func(i int) bool {
		for _, a := range arrs {
			if a.IsNull(i) {
				return true
			}
		}
		return false
	}
	switch {
	case u.ints != nil:
		get := intGetter(arrs[0])
		k.see = func(i int, row int64) (int64, bool) {
			first, dup, nowDup := u.ints.record(get(i), row)
			switch {
			case !dup:
				u.once++
			case nowDup:
				u.once--
			}
			return first, dup
		}
	case u.decs != nil:
		d := arrs[0].(*array.Decimal128)
		k.see = func(i int, row int64) (int64, bool) { return record(u, u.decs, d.Value(i), row) }
	case u.floats != nil:
		get := floatGetter(arrs[0])
		k.see = func(i int, row int64) (int64, bool) { return record(u, u.floats, get(i), row) }
	case len(u.cols) == 1:
		get := stringGetter(arrs[0])
		k.see = func(i int, row int64) (int64, bool) {
			s := get(i)
			if first, ok := u.strs[s]; ok { // look up without copying
				if first >= 0 {
					u.strs[s] = -1
					u.once--
				}
				return first, true
			}
			return record(u, u.strs, strings.Clone(s), row)
		}
	default:
		var b strings.Builder
		k.see = func(i int, row int64) (int64, bool) {
			b.Reset()
			for j, c := range u.cols {
				if j > 0 {
					b.WriteByte(0)
				}
				b.WriteString(c.format(arrs[j], i))
			}
			return record(u, u.strs, b.String(), row)
		}
	}
	return k
}
