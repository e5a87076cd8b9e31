package dq

import "math/bits"

// intTable is an open-addressing (linear probing) hash table from int64
// keys to the uniqueness state (first row, or -1 once duplicated). It
// replaces a Go map for integer and timestamp keys, the common
// primary-key case, where the map's per-lookup cost dominated validation.
//
// Keys first index the table by their low bits, so that sequential keys
// (generated ids) land in neighbouring slots and stay in cache. Should a
// probe run grow long (keys sharing their low bits, or crafted input), the
// table switches for good to multiplicative hashing and rehashes, which
// keeps lookups O(1) expected whatever the keys.
type intTable struct {
	keys  []int64
	vals  []int64 // 0: empty slot; >0: first row + 1; -1: seen again
	shift uint
	mask  uint64
	mixed bool // multiplicative hashing
	n     int
}

// maxProbe is the probe run that makes the table switch to mixed hashing.
const maxProbe = 64

func newIntTable(hint int64) *intTable {
	t := &intTable{}
	t.alloc(max(64, hint*4/3))
	return t
}

func (t *intTable) alloc(want int64) {
	b := bits.Len64(uint64(want - 1))
	t.keys = make([]int64, 1<<b)
	t.vals = make([]int64, 1<<b)
	t.shift = uint(64 - b)
	t.mask = uint64(1)<<b - 1
}

func (t *intTable) slot(k int64) uint64 {
	if t.mixed {
		return (uint64(k) * 0x9E3779B97F4A7C15) >> t.shift
	}
	return uint64(k) & t.mask
}

// record notes key k at row; it returns the row where k was first seen
// (-1 if unknown or already reported) and whether k was seen before, and
// whether k became a duplicate now (its first occurrence is reported).
func (t *intTable) record(k, row int64) (first int64, dup, nowDup bool) {
	probe := 0
	for i := t.slot(k); ; i = (i + 1) & t.mask {
		v := t.vals[i]
		if v == 0 {
			t.keys[i], t.vals[i] = k, row+1
			t.n++
			switch {
			case t.n*4 >= len(t.keys)*3:
				t.rehash(int64(len(t.keys)) * 2)
			case probe > maxProbe && !t.mixed:
				t.mixed = true
				t.rehash(int64(len(t.keys)))
			}
			return -1, false, false
		}
		probe++
		if t.keys[i] == k {
			if v > 0 {
				t.vals[i] = -1
				return v - 1, true, true
			}
			return -1, true, false
		}
	}
}

// rehash moves every entry into a table of size slots.
func (t *intTable) rehash(size int64) {
	keys, vals := t.keys, t.vals
	t.alloc(size)
	for j, v := range vals {
		if v == 0 {
			continue
		}
		i := t.slot(keys[j])
		for t.vals[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.keys[i], t.vals[i] = keys[j], v
	}
}
