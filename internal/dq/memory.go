package dq

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMemoryBudget is Options.MemoryBudget when it is 0: sized for a
// 1024 MB Lambda, which also holds a few record batches, the Parquet
// readers and writers and the Go runtime's headroom.
const DefaultMemoryBudget = 256 << 20

// MemoryBudgetError means that what the rules must keep for every row does
// not fit the memory budget even once every uniqueness hash set has gone
// to disk: a quarter of a byte per row for each uniqueness key and for
// each rule combined with a uniqueness rule, and an eighth for the failed
// rows. It is not retryable: raise the budget (--dq-memory,
// LAKE_DQ_MEMORY), write fewer distinct uniqueness rules, or send smaller
// objects. The workflow reports it by this name.
type MemoryBudgetError struct {
	Rule   string // a rule holding per-row state, the largest
	Need   int64  // bytes the per-row state needs
	Budget int64
}

func (e *MemoryBudgetError) Error() string {
	return fmt.Sprintf("dq: the rules' per-row state needs %s, over the memory budget of %s, with every uniqueness hash set already spilled to disk (the largest is for rule %s); raise --dq-memory / LAKE_DQ_MEMORY or split the object",
		FormatMemory(e.Need), FormatMemory(e.Budget), e.Rule)
}

// memoryUnits are the suffixes ParseMemory accepts, longest first.
var memoryUnits = []struct {
	suffix string
	bytes  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

// ParseMemory reads a memory size: a whole number with a unit (256MiB,
// 1GiB, 512MB, 300M), or a bare number of bytes. It must be at least 1 MiB.
func ParseMemory(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range memoryUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("dq: memory size %q: want a whole number with a unit, such as 256MiB or 1GiB", s)
	}
	if n*mult < 1<<20 {
		return 0, fmt.Errorf("dq: memory size %q: want at least 1MiB", s)
	}
	return n * mult, nil
}

// FormatMemory writes n bytes in MiB (or KiB below one).
func FormatMemory(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
