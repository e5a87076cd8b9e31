// Package faultstore wraps any store.Store and fails chosen writes the way
// a full disk does: with a *store.StoreFullError wrapping ENOSPC, after
// reading a chosen number of bytes of the content, and with nothing
// published. The steps' fault tests use it to check that a full disk at
// any write loses nothing and that a rerun finishes the work. Imported
// only by tests.
package faultstore

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sync"
	"syscall"

	"github.com/medallionlake/lake/internal/store"
)

var _ store.Store = (*Store)(nil)

// Point chooses the writes that fail. Puts whose key matches are counted
// from 1; those from the Nth on fail, Times of them at most.
type Point struct {
	// Key is a regular expression matched against the key; empty matches
	// every key.
	Key   string
	Nth   int // the first failing Put among the matching ones; 0 means 1
	Times int // how many Puts fail; 0 means every one from Nth on (the disk stays full)
	// After is how many bytes of the content are read before the write
	// fails, as a disk fills up part-way through a file.
	After int64
}

// Armed is a Point in place; it counts what it saw.
type Armed struct {
	Point
	key *regexp.Regexp

	mu      sync.Mutex
	matched int
	hits    int
}

// Hits is how many writes the point failed.
func (a *Armed) Hits() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits
}

// take counts a Put of key and reports whether to fail it.
func (a *Armed) take(key string) bool {
	if a.key != nil && !a.key.MatchString(key) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.matched++
	if a.matched < max(a.Nth, 1) || (a.Times > 0 && a.hits >= a.Times) {
		return false
	}
	a.hits++
	return true
}

// Store is a store.Store whose writes fail at the armed points (the first
// point armed that fails a write decides how much it reads); every
// other call goes to the wrapped store unchanged. It is safe for
// concurrent use.
type Store struct {
	store.Store

	mu     sync.Mutex
	points []*Armed
}

// New wraps inner.
func New(inner store.Store) *Store { return &Store{Store: inner} }

// FailWrites arms p. It fails on a bad regular expression.
func (s *Store) FailWrites(p Point) (*Armed, error) {
	a := &Armed{Point: p}
	if p.Key != "" {
		re, err := regexp.Compile(p.Key)
		if err != nil {
			return nil, fmt.Errorf("faultstore: %w", err)
		}
		a.key = re
	}
	s.mu.Lock()
	s.points = append(s.points, a)
	s.mu.Unlock()
	return a, nil
}

// Clear disarms every point: the disk has space again.
func (s *Store) Clear() {
	s.mu.Lock()
	s.points = nil
	s.mu.Unlock()
}

// Put implements store.Store: at an armed point it reads After bytes of r,
// writes nothing and returns a *store.StoreFullError wrapping ENOSPC.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	s.mu.Lock()
	points := s.points
	s.mu.Unlock()
	var hit *Armed
	for _, a := range points { // every point counts the write
		if a.take(key) && hit == nil {
			hit = a
		}
	}
	if hit == nil {
		return s.Store.Put(ctx, key, r, opts)
	}
	if _, err := io.CopyN(io.Discard, r, hit.After); err != nil && err != io.EOF {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: read: %w", key, err)
	}
	return store.ObjectInfo{}, &store.StoreFullError{Op: "put", Key: key, Err: &fs.PathError{Op: "write", Path: key, Err: syscall.ENOSPC}}
}
