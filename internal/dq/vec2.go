package dq

// vec2 is a growing vector of 2-bit values, one per row: a rule's row
// states (sPass, sFail, sSkip) or a uniqueness group's row codes (uSkip,
// uNull, uOnce, uDup). It is the per-row memory the evaluator keeps past a
// batch: a quarter of a byte per row.
type vec2 struct {
	w []uint64
	n int64
}

// appendAll appends one value per element of s.
func (v *vec2) appendAll(s []uint8) {
	need := int((v.n + int64(len(s)) + 31) / 32)
	if need > len(v.w) {
		if need > cap(v.w) {
			w := make([]uint64, need, max(need, 2*cap(v.w)))
			copy(w, v.w)
			v.w = w
		}
		v.w = v.w[:need]
	}
	for _, x := range s {
		v.w[v.n>>5] |= uint64(x&3) << ((v.n & 31) * 2)
		v.n++
	}
}

// get returns the value at r.
func (v *vec2) get(r int64) uint8 { return uint8(v.w[r>>5]>>((r&31)*2)) & 3 }

// set replaces the value at r.
func (v *vec2) set(r int64, x uint8) {
	sh := (r & 31) * 2
	v.w[r>>5] = v.w[r>>5]&^(3<<sh) | uint64(x&3)<<sh
}

// bytes is the memory the vector holds.
func (v *vec2) bytes() int64 { return int64(cap(v.w)) * 8 }
