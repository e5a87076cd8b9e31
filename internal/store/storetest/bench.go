package storetest

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/medallionlake/lake/internal/store"
)

// Benchmark measures Put, Get and Stat on s for a small and a large object.
func Benchmark(b *testing.B, s store.Store) {
	for _, size := range []int64{1 << 10, 32 << 20} {
		content, _ := io.ReadAll(randomBytes(6, size))
		key := fmt.Sprintf("bench/%d", size)
		b.Run(fmt.Sprintf("Put/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := s.Put(b.Context(), key, unsized{bytes.NewReader(content)}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				rc, _, err := s.Get(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Stat", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stat(b.Context(), "bench/1024"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
