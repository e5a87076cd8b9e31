package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Read-ahead cache of NewReaderAt: small reads are served from blocks of
// readAheadBlock bytes, the last readAheadBlocks used of them kept. Blocks
// are aligned on the object's end, so that the last block is a whole one:
// formats like Parquet read a footer and then the metadata just before it.
// Reads of a block or more go straight to the store.
const (
	readAheadBlock  = 1 << 20
	readAheadBlocks = 4
)

// NewReaderAt returns an io.ReaderAt over the object at key, which is size
// bytes long (from Stat or List), backed by range reads. Reads smaller than
// 1 MiB are served from a small cache of 1 MiB blocks (aligned on the
// object's end), so that many tiny reads (a Parquet footer and the metadata
// before it, page headers) cost one request per block; larger reads are one
// range request each. At most 4 MiB is cached.
//
// It is safe for parallel ReadAt calls, as io.ReaderAt requires. Every read
// uses ctx. Reading at or past size returns io.EOF. A range that comes back
// shorter than asked for (the object changed since it was sized, or a
// connection was cut) is a *StoreUnavailableError wrapping
// io.ErrUnexpectedEOF, like every transient failure of the backend's
// range reads: never an error that a reader would take for bad content.
// Wrap it in io.NewSectionReader(r, 0, size) where an io.ReadSeeker is
// needed.
func NewReaderAt(ctx context.Context, s Store, key string, size int64) io.ReaderAt {
	return &readerAt{ctx: ctx, s: s, key: key, size: size}
}

type readerAt struct {
	ctx  context.Context
	s    Store
	key  string
	size int64

	mu     sync.Mutex
	clock  uint64
	blocks [readAheadBlocks]cachedBlock
}

// cachedBlock is one cached aligned block; data is never modified once
// stored, so it may be read outside the lock.
type cachedBlock struct {
	index int64
	data  []byte
	used  uint64 // clock at last use; 0 marks an empty slot
}

// ReadAt implements io.ReaderAt.
func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: read %q at offset %d: negative offset", r.key, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	var n int
	if want >= readAheadBlock {
		if err := r.fetch(p[:want], off); err != nil {
			return 0, err
		}
		n = int(want)
	} else {
		for int64(n) < want {
			pos := off + int64(n)
			i := (r.size - 1 - pos) / readAheadBlock // counted from the end
			start, data, err := r.block(i)
			if err != nil {
				return n, err
			}
			n += copy(p[n:want], data[pos-start:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// block returns the offset and data of block i (counted from the object's
// end), from the cache or the store.
func (r *readerAt) block(i int64) (int64, []byte, error) {
	start := max(0, r.size-(i+1)*readAheadBlock)
	r.mu.Lock()
	r.clock++
	oldest := 0
	for j := range r.blocks {
		b := &r.blocks[j]
		if b.used != 0 && b.index == i {
			b.used = r.clock
			data := b.data
			r.mu.Unlock()
			return start, data, nil
		}
		if b.used < r.blocks[oldest].used {
			oldest = j
		}
	}
	r.mu.Unlock()

	data := make([]byte, r.size-i*readAheadBlock-start)
	if err := r.fetch(data, start); err != nil {
		return 0, nil, err
	}

	r.mu.Lock()
	r.clock++
	r.blocks[oldest] = cachedBlock{index: i, data: data, used: r.clock}
	r.mu.Unlock()
	return start, data, nil
}

// fetch fills p with the bytes at off with one range read.
func (r *readerAt) fetch(p []byte, off int64) error {
	rc, err := r.s.GetRange(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return fmt.Errorf("store: read %q at offset %d: %w", r.key, off, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// the store ended the range early: the object changed since it was
		// sized, or a connection was cut where the backend could not see it
		return &StoreUnavailableError{Op: "get", Key: r.key, Err: fmt.Errorf("short read at offset %d: %d of %d bytes: %w", off, n, len(p), io.ErrUnexpectedEOF)}
	}
	if err != nil {
		return fmt.Errorf("store: read %q at offset %d: %w", r.key, off, err)
	}
	return nil
}
