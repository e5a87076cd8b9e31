package dq

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
)

// A spill holds a uniqueness group's keys on disk once its hash set no
// longer fits the memory budget: one record (key, row) per occurrence, in
// an unlinked temporary file (it vanishes when closed, or when the process
// dies). resolve then finds the duplicated keys with a hash set per
// partition of the records, partitioning by hash again (into
// spillFanout files) while a partition would not fit the memory it is
// given: an external hash aggregation, whose memory is bounded by the
// budget whatever the number of distinct keys.
type spill struct {
	f        *os.File
	w        *bufio.Writer
	records  int64
	keyBytes int64
	scratch  [2 * binary.MaxVarintLen64]byte
}

const (
	// spillBuffer is a spill's write buffer, counted in the budget.
	spillBuffer = 32 << 10
	// spillFanout is how many partitions one that is too large is split into.
	spillFanout = 16
	// maxSpillDepth bounds repartitioning: 16^4 partitions.
	maxSpillDepth = 4
	// spillEntryBytes is what a key costs in resolve's hash set, beyond
	// its bytes (a map[string]int64 entry with the map's overhead).
	spillEntryBytes = 64
)

// newSpill creates an empty spill in dir (the system's temporary folder
// when empty).
func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "lake-dq-*.spill")
	if err != nil {
		return nil, fmt.Errorf("dq: spill uniqueness state to disk: %w", err)
	}
	// unlinked at once: nothing to clean up, whatever happens next
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("dq: spill uniqueness state to disk: %w", err)
	}
	return &spill{f: f, w: bufio.NewWriterSize(f, spillBuffer)}, nil
}

// add records one occurrence of key at row (-1: an occurrence already
// known to be a duplicate, whose rows are marked).
func (s *spill) add(key []byte, row int64) error {
	b := binary.AppendUvarint(s.scratch[:0], uint64(len(key)))
	b = binary.AppendUvarint(b, uint64(row+1))
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("dq: spill uniqueness state to disk: %w", err)
	}
	if _, err := s.w.Write(key); err != nil {
		return fmt.Errorf("dq: spill uniqueness state to disk: %w", err)
	}
	s.records++
	s.keyBytes += int64(len(key))
	return nil
}

// close releases the file (and its disk space).
func (s *spill) close() error { return s.f.Close() }

// reader returns a reader of every record written.
func (s *spill) reader() (*bufio.Reader, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("dq: spill uniqueness state to disk: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("dq: read spilled uniqueness state: %w", err)
	}
	return bufio.NewReaderSize(s.f, spillBuffer), nil
}

// each calls fn with every record of r; key is valid during the call.
func each(r *bufio.Reader, fn func(key []byte, row int64) error) error {
	var key []byte
	for {
		var row int64
		var err error
		key, row, err = next(r, key)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(key, row); err != nil {
			return err
		}
	}
}

// next reads one record into key (reusing its memory).
func next(r *bufio.Reader, key []byte) ([]byte, int64, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, err // io.EOF at the end
	}
	row, err := binary.ReadUvarint(r)
	if err == nil {
		if uint64(cap(key)) < n {
			key = make([]byte, n)
		}
		key = key[:n]
		_, err = io.ReadFull(r, key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("dq: read spilled uniqueness state: %w", noEOF(err))
	}
	return key, int64(row) - 1, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// resolve reads the spill back and calls dup for every row whose key
// occurs more than once; it returns how many keys occur once and how many
// distinct keys there are. memory is how much its hash set may take.
func (s *spill) resolve(dir string, memory int64, dup func(row int64)) (once, distinct int64, err error) {
	return s.resolveAt(dir, memory, dup, 0)
}

func (s *spill) resolveAt(dir string, memory int64, dup func(row int64), depth int) (once, distinct int64, err error) {
	r, err := s.reader()
	if err != nil {
		return 0, 0, err
	}
	if s.records*spillEntryBytes+s.keyBytes <= memory || depth == maxSpillDepth {
		return aggregate(r, s.records, dup)
	}
	var parts [spillFanout]*spill
	defer func() {
		for _, p := range parts {
			if p != nil {
				p.close()
			}
		}
	}()
	for i := range parts {
		if parts[i], err = newSpill(dir); err != nil {
			return 0, 0, err
		}
	}
	seed := maphash.MakeSeed()
	err = each(r, func(key []byte, row int64) error {
		return parts[maphash.Bytes(seed, key)%spillFanout].add(key, row)
	})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range parts {
		o, d, err := p.resolveAt(dir, memory, dup, depth+1)
		if err != nil {
			return 0, 0, err
		}
		once, distinct = once+o, distinct+d
	}
	return once, distinct, nil
}

// aggregate finds the duplicated keys of r's records (records of them)
// with a hash set.
func aggregate(r *bufio.Reader, records int64, dup func(row int64)) (once, distinct int64, err error) {
	first := make(map[string]int64, records) // the key's first row; -1 once duplicated
	err = each(r, func(key []byte, row int64) error {
		f, seen := first[string(key)]
		switch {
		case !seen:
			first[string(key)] = row
			return nil
		case f >= 0:
			dup(f)
			first[string(key)] = -1
		}
		if row >= 0 {
			dup(row)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, f := range first {
		if f >= 0 {
			once++
		}
	}
	return once, int64(len(first)), nil
}
