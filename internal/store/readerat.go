package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Read-ahead cache of NewReaderAt: small reads (under directRead bytes)
// are served from blocks of readAheadBlock bytes, the last readAheadBlocks
// used of them kept. A block starts where the read that fetched it starts
// (or ends at the object's end, for reads near it: formats like Parquet
// read a footer and then the metadata just before it), so that the large
// read that usually follows a small one (a Parquet column chunk after its
// dictionary page) takes what the block holds and fetches only the rest.
// Larger reads go straight to the store: a body read in chunks is read
// about once.
const (
	readAheadBlock  = 256 << 10
	directRead      = 64 << 10
	readAheadBlocks = 4
)

// NewReaderAt returns an io.ReaderAt over the object at key, which is size
// bytes long (from Stat or List), backed by range reads. Reads smaller than
// 64 KiB are served from a small cache of 256 KiB blocks, so that many tiny
// reads (a Parquet footer and the metadata before it, dictionary pages)
// cost one request per block; larger reads take what the cache holds of
// their start and fetch the rest in one range request. At most 1 MiB is
// cached.
//
// It is safe for parallel ReadAt calls, as io.ReaderAt requires. Every read
// uses ctx. Reading at or past size returns io.EOF. A range that comes back
// shorter than asked for (the object changed since it was sized, or a
// connection was cut) is a *StoreUnavailableError wrapping
// io.ErrUnexpectedEOF, like every transient failure of the backend's
// range reads: never an error that a reader would take for bad content.
// A read whose body fails so is tried again, resuming where it stopped,
// up to fetchAttempts range reads in all, before that error is returned.
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

// cachedBlock is one cached block; data is never modified once stored, so
// it may be read outside the lock.
type cachedBlock struct {
	start int64
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
	want := int(min(int64(len(p)), r.size-off))
	n := 0
	for n < want {
		pos := off + int64(n)
		data, ok := r.cached(pos)
		switch {
		case ok:
			n += copy(p[n:want], data)
		case want-n >= directRead:
			if err := r.fetch(p[n:want], pos); err != nil {
				return n, err
			}
			n = want
		default:
			data, err := r.block(pos)
			if err != nil {
				return n, err
			}
			n += copy(p[n:want], data)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// cached returns the bytes a cached block holds from pos on.
func (r *readerAt) cached(pos int64) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := range r.blocks {
		b := &r.blocks[j]
		if b.used != 0 && pos >= b.start && pos < b.start+int64(len(b.data)) {
			r.clock++
			b.used = r.clock
			return b.data[pos-b.start:], true
		}
	}
	return nil, false
}

// block fetches the block for a small read at pos, caches it in place of
// the least recently used, and returns its bytes from pos on.
func (r *readerAt) block(pos int64) ([]byte, error) {
	start := max(0, min(pos, r.size-readAheadBlock))
	data := make([]byte, min(readAheadBlock, r.size-start))
	if err := r.fetch(data, start); err != nil {
		return nil, err
	}
	r.mu.Lock()
	oldest := 0
	for j := range r.blocks {
		if r.blocks[j].used < r.blocks[oldest].used {
			oldest = j
		}
	}
	r.clock++
	r.blocks[oldest] = cachedBlock{start: start, data: data, used: r.clock}
	r.mu.Unlock()
	return data[pos-start:], nil
}

// fetchAttempts is how many range reads fetch makes for one read whose
// body keeps failing transiently (a reset or a timeout in the middle of
// the body, a body cut short: a *StoreUnavailableError), each resuming
// where the last one stopped, with waits from fetchBackoff growing
// fourfold between them. A reader half-way through an object then goes on
// instead of failing its whole task for one bad connection, which would
// redo the work done so far. A request that fails before its body is not
// tried again here: the backend's client has retried it already.
const (
	fetchAttempts = 4
	fetchBackoff  = 100 * time.Millisecond
)

// fetch fills p with the bytes at off, in one range read unless a
// transient failure cuts its body short (see fetchAttempts).
func (r *readerAt) fetch(p []byte, off int64) error {
	wait := fetchBackoff
	for attempt := 1; ; attempt++ {
		rc, err := r.s.GetRange(r.ctx, r.key, off, int64(len(p)))
		if err != nil {
			return fmt.Errorf("store: read %q at offset %d: %w", r.key, off, err)
		}
		n, err := readBody(rc, p, r.key, off)
		p, off = p[n:], off+int64(n)
		var unavailable *StoreUnavailableError
		if err == nil || !errors.As(err, &unavailable) || attempt == fetchAttempts {
			return err
		}
		select {
		case <-r.ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 4
	}
}

// readBody fills p from rc, the body of a range read of key at off, and
// closes it; it returns how many bytes it read.
func readBody(rc io.ReadCloser, p []byte, key string, off int64) (int, error) {
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// the store ended the range early: the object changed since it was
		// sized, or a connection was cut where the backend could not see it
		return n, &StoreUnavailableError{Op: "get", Key: key, Err: fmt.Errorf("short read at offset %d: %d of %d bytes: %w", off, n, len(p), io.ErrUnexpectedEOF)}
	}
	if err != nil {
		return n, fmt.Errorf("store: read %q at offset %d: %w", key, off, err)
	}
	return n, nil
}
