package faultstore_test

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/faultstore"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/storetest"
)

func newStore(t *testing.T) *faultstore.Store {
	t.Helper()
	fs, err := filestore.New(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return faultstore.New(fs)
}

// TestConformance: with no point armed, the wrapper is the store it wraps.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestFailWrites(t *testing.T) {
	writes := []string{"silver/a", "discarded/b", "silver/c", "silver/d", "silver/e"}
	tests := []struct {
		description string
		point       faultstore.Point
		fail        []string // the writes that fail
	}{
		{"every write", faultstore.Point{}, writes},
		{"the 2nd silver write and on (the disk stays full)", faultstore.Point{Key: "^silver/", Nth: 2}, []string{"silver/c", "silver/d", "silver/e"}},
		{"the 2nd silver write once", faultstore.Point{Key: "^silver/", Nth: 2, Times: 1}, []string{"silver/c"}},
		{"part-way through a file", faultstore.Point{Key: "^discarded/", After: 1000}, []string{"discarded/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			s := newStore(t)
			armed, err := s.FailWrites(tt.point)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, key := range writes {
				src := &countingReader{r: strings.NewReader(strings.Repeat("x", 5000))}
				_, err := s.Put(t.Context(), key, src, nil)
				if err == nil {
					continue
				}
				failed = append(failed, key)
				var full *store.StoreFullError
				if !errors.As(err, &full) || full.Key != key || !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("Put(%q): err=%v (%T), want a *store.StoreFullError wrapping ENOSPC", key, err, err)
				}
				if src.n != tt.point.After {
					t.Errorf("Put(%q) read %d bytes before failing, want %d", key, src.n, tt.point.After)
				}
				if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Stat(%q) after the failed Put: err=%v, want ErrNotFound", key, err)
				}
			}
			if !slices.Equal(failed, tt.fail) {
				t.Errorf("failed writes %q, want %q", failed, tt.fail)
			}
			if got := armed.Hits(); got != len(tt.fail) {
				t.Errorf("Hits()=%d, want %d", got, len(tt.fail))
			}
			s.Clear()
			for _, key := range tt.fail {
				if _, err := s.Put(t.Context(), key, strings.NewReader("after"), nil); err != nil {
					t.Errorf("Put(%q) after Clear: %v", key, err)
				}
			}
		})
	}
}

func TestFailWritesRefusesBadPattern(t *testing.T) {
	if _, err := newStore(t).FailWrites(faultstore.Point{Key: "("}); err == nil {
		t.Error("FailWrites with a bad regular expression succeeded")
	}
}

func TestCopyIntoAFullStore(t *testing.T) {
	s := newStore(t)
	if _, err := s.Put(t.Context(), "bronze/landing/orders/x", strings.NewReader(fmt.Sprint(1234567)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailWrites(faultstore.Point{Key: "^archive/"}); err != nil {
		t.Fatal(err)
	}
	_, err := store.Copy(t.Context(), s, "archive/orders/x", s, "bronze/landing/orders/x", "")
	var full *store.StoreFullError
	if !errors.As(err, &full) {
		t.Errorf("Copy into a full store: err=%v, want a *store.StoreFullError", err)
	}
}
