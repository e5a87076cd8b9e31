package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
)

// countingStore counts the range reads that reach a real store.
type countingStore struct {
	store.Store
	ranges atomic.Int64
}

func (c *countingStore) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	c.ranges.Add(1)
	return c.Store.GetRange(ctx, key, offset, length)
}

func newCounting(t testing.TB, content []byte) *countingStore {
	fs, err := filestore.New(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	if _, err := fs.Put(context.Background(), "obj", bytes.NewReader(content), nil); err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: fs}
}

func TestReaderAtRequests(t *testing.T) {
	const size = 10<<20 + 3
	content := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	tests := []struct {
		description string
		reads       [][2]int64 // offset, length
		want        int64      // range requests
	}{
		{"footer then metadata in the last block", [][2]int64{{size - 8, 8}, {size - 5000, 4992}}, 1},
		{"many tiny reads in one block", func() (r [][2]int64) {
			for i := range int64(1000) {
				r = append(r, [2]int64{3<<20 + 10 + i*100, 100}) // one block: it starts at the first
			}
			return r
		}(), 1},
		{"a small read across a cached block's end", [][2]int64{{1 << 20, 100}, {1<<20 + 256<<10 - 10, 20}}, 2},
		{"a chunk read after its dictionary page fetches only the rest", [][2]int64{{1 << 20, 1000}, {1<<20 + 1000, 600 << 10}}, 2},
		{"large reads go straight through", [][2]int64{{0, 2 << 20}, {4 << 20, 1 << 20}}, 2},
		{"sequential small reads over 12 blocks", func() (r [][2]int64) {
			for off := int64(3); off < 3<<20+3; off += 16 << 10 { // blocks start at 3+k*256KiB
				r = append(r, [2]int64{off, 16 << 10})
			}
			return r
		}(), 12},
		{"column-chunk reads of 64 KiB or more, each once", func() (r [][2]int64) {
			for off := int64(0); off < 1<<20; off += 100 << 10 {
				r = append(r, [2]int64{off, 100 << 10})
			}
			return r
		}(), 11},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			cs := newCounting(t, content)
			r := store.NewReaderAt(t.Context(), cs, "obj", size)
			for _, rd := range tt.reads {
				p := make([]byte, rd[1])
				n, err := r.ReadAt(p, rd[0])
				if err != nil {
					t.Fatalf("ReadAt(%d bytes at %d): %v", rd[1], rd[0], err)
				}
				if !bytes.Equal(p[:n], content[rd[0]:rd[0]+rd[1]]) {
					t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", rd[1], rd[0])
				}
			}
			if got := cs.ranges.Load(); got != tt.want {
				t.Errorf("%d range requests, want %d", got, tt.want)
			}
		})
	}
}

func TestReaderAtObjectShrank(t *testing.T) {
	cs := newCounting(t, []byte("short"))
	r := store.NewReaderAt(t.Context(), cs, "obj", 100) // sized before it changed
	_, err := r.ReadAt(make([]byte, 50), 0)
	var su *store.StoreUnavailableError
	if !errors.As(err, &su) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAt on an object shorter than its size: err=%v, want a *store.StoreUnavailableError wrapping io.ErrUnexpectedEOF", err)
	}
}

// cuttingStore ends the body of its first cuts range reads half-way, as
// a connection reset in the middle of a body does.
type cuttingStore struct {
	*countingStore
	cuts atomic.Int64
}

func (c *cuttingStore) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := c.countingStore.GetRange(ctx, key, offset, length)
	if err != nil || c.cuts.Add(-1) < 0 {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length/2), rc}, nil
}

func TestReaderAtResumesCutReads(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	tests := []struct {
		cuts       int64
		wantRanges int64
		wantErr    bool
	}{
		{cuts: 1, wantRanges: 2},
		{cuts: 3, wantRanges: 4},
		{cuts: 4, wantRanges: 4, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d cut", tt.cuts), func(t *testing.T) {
			cs := &cuttingStore{countingStore: newCounting(t, content)}
			cs.cuts.Store(tt.cuts)
			p := make([]byte, len(content))
			n, err := store.NewReaderAt(t.Context(), cs, "obj", int64(len(content))).ReadAt(p, 0)
			var su *store.StoreUnavailableError
			switch {
			case tt.wantErr && !errors.As(err, &su):
				t.Errorf("ReadAt: %v, want a *store.StoreUnavailableError", err)
			case !tt.wantErr && (err != nil || !bytes.Equal(p[:n], content)):
				t.Errorf("ReadAt: %d bytes, %v; want the whole object", n, err)
			}
			if got := cs.ranges.Load(); got != tt.wantRanges {
				t.Errorf("%d range requests, want %d", got, tt.wantRanges)
			}
		})
	}
}

func TestCopySourceChangedSize(t *testing.T) {
	tests := []struct {
		description string
		delta       int64 // what Get adds to the size it reports
		unavailable bool  // a retryable error, or a plain one
	}{
		{"ends short of its size", 1, true},
		{"runs past its size", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			src := newCounting(t, []byte("0123456789"))
			lying := &lyingSize{Store: src, delta: tt.delta}
			_, err := store.Copy(t.Context(), src, "dst", lying, "obj", "")
			if err == nil {
				t.Fatal("Copy of a source that changed size succeeded")
			}
			var su *store.StoreUnavailableError
			if got := errors.As(err, &su); got != tt.unavailable {
				t.Errorf("Copy: err=%v; StoreUnavailableError=%v, want %v", err, got, tt.unavailable)
			}
			if _, err := src.Stat(t.Context(), "dst"); err == nil {
				t.Error("a truncated copy was published")
			}
		})
	}
}

// lyingSize reports a size delta bytes off the object's, as if it had
// been replaced while being read.
type lyingSize struct {
	store.Store
	delta int64
}

func (l *lyingSize) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	rc, info, err := l.Store.Get(ctx, key)
	info.Size += l.delta
	return rc, info, err
}

func BenchmarkReaderAtSmallReads(b *testing.B) {
	const size = 8 << 20
	content := bytes.Repeat([]byte{7}, size)
	cs := newCounting(b, content)
	p := make([]byte, 512)
	b.SetBytes(int64(len(p)))
	r := store.NewReaderAt(b.Context(), cs, "obj", size)
	for i := 0; b.Loop(); i++ {
		if _, err := r.ReadAt(p, int64(i*4096)%(size-512)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cs.ranges.Load())/float64(b.N), "requests/op")
}
