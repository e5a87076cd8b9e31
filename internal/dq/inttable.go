package dq

import "math/bits"

// intTable is an open-addressing hash table from int64 keys to the
// uniqueness state (first row, or -1 once duplicated). It replaces a Go
// map for integer and timestamp keys, the common primary-key case, where
// the map's per-lookup cost dominated validation.
type intTable struct {
	keys  []int64
	vals  []int64 // 0: empty slot; >0: first row + 1; -1: seen again
	shift uint
	n     int
}

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
}

func (t *intTable) slot(k int64) uint64 { return (uint64(k) * 0x9E3779B97F4A7C15) >> t.shift }

// record notes key k at row; it returns the row where k was first seen
// (-1 if unknown or already reported) and whether k was seen before, and
// whether k became a duplicate now (its first occurrence is reported).
func (t *intTable) record(k, row int64) (first int64, dup, nowDup bool) {
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		v := t.vals[i]
		if v == 0 {
			t.keys[i], t.vals[i] = k, row+1
			t.n++
			if t.n*4 >= len(t.keys)*3 {
				t.grow()
			}
			return -1, false, false
		}
		if t.keys[i] == k {
			if v > 0 {
				t.vals[i] = -1
				return v - 1, true, true
			}
			return -1, true, false
		}
	}
}

func (t *intTable) grow() {
	keys, vals := t.keys, t.vals
	t.alloc(int64(len(keys)) * 2)
	mask := uint64(len(t.keys) - 1)
	for j, v := range vals {
		if v == 0 {
			continue
		}
		i := t.slot(keys[j])
		for t.vals[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = keys[j], v
	}
}
