package dq

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIntTable checks the table against a Go map through growth, with
// zero, negative and extreme keys.
func TestIntTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := []int64{0, -1, math.MinInt64, math.MaxInt64}
	var sequential, strided []int64
	for i := 0; i < 20000; i++ {
		random = append(random, rng.Int64N(15000)-5000)
		sequential = append(sequential, int64(i/3))  // with duplicates
		strided = append(strided, int64(i%9000)<<32) // same low bits
	}
	for name, keys := range map[string][]int64{"random": random, "sequential": sequential, "strided": strided} {
		t.Run(name, func(t *testing.T) { checkIntTable(t, keys) })
	}
}

func checkIntTable(t *testing.T, keys []int64) {
	tab := newIntTable(0)
	ref := map[int64]int64{}
	for row, k := range keys {
		first, dup, nowDup := tab.record(k, int64(row))
		want, seen := ref[k]
		switch {
		case !seen:
			ref[k] = int64(row)
			if dup || first != -1 {
				t.Fatalf("row %d key %d: first=%d dup=%v, want new", row, k, first, dup)
			}
		case want >= 0:
			ref[k] = -1
			if !dup || !nowDup || first != want {
				t.Fatalf("row %d key %d: first=%d dup=%v nowDup=%v, want first %d", row, k, first, dup, nowDup, want)
			}
		default:
			if !dup || nowDup || first != -1 {
				t.Fatalf("row %d key %d: first=%d dup=%v nowDup=%v, want an old duplicate", row, k, first, dup, nowDup)
			}
		}
	}
	if got, want := tab.n, len(ref); got != want {
		t.Errorf("distinct=%d, want %d", got, want)
	}
	if strided := keys[1]-keys[0] == 1<<32; strided && !tab.mixed {
		t.Error("keys sharing their low bits did not switch the table to mixed hashing")
	}
}
