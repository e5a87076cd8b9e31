// Package store is the lake's object store: a small interface that every
// step (ingest, validate, route, crawl, the local runner) reads and writes
// the lake through, and helpers shared by its backends.
//
// Backends live in their own packages (store/filestore for a local folder,
// store/s3store for S3 and S3-compatible servers) and are opened by URL with
// storeurl.Open (package store/storeurl). One conformance suite,
// store/storetest, runs against every backend.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (wrapped) when an object does not exist.
var ErrNotFound = errors.New("object not found")

// ErrPreconditionFailed is returned (wrapped) when a conditional write's
// condition does not hold: IfNoneMatch and the object exists, or IfMatch
// and the object's current ETag differs (or the object is missing).
var ErrPreconditionFailed = errors.New("precondition failed")

// ErrInvalidKey is returned (wrapped) for a key that could escape the lake
// root or that no backend can store faithfully.
var ErrInvalidKey = errors.New("invalid key")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ETag    string // opaque; changes whenever the content changes
	ModTime time.Time
}

// PutOptions make a write conditional. The zero value writes unconditionally.
type PutOptions struct {
	// IfNoneMatch makes the write succeed only if no object exists at the key.
	IfNoneMatch bool
	// IfMatch, when set, makes the write succeed only if the object exists
	// and its current ETag equals IfMatch.
	IfMatch string
	// ContentType is stored where the backend supports it.
	ContentType string
}

// Store is implemented by every backend. Keys are slash-separated paths
// relative to the lake root and must pass ValidateKey; every method returns
// an error wrapping ErrInvalidKey for one that does not.
type Store interface {
	// Put writes the whole of r at key atomically: a reader sees the old
	// object or the new one, never part of one, and no temporary object
	// ever shows in List. It returns the new object's info. With opts it
	// is conditional and returns an error wrapping ErrPreconditionFailed
	// when the condition fails, leaving the object unchanged.
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (ObjectInfo, error)

	// Get opens the object for reading. It returns an error wrapping
	// ErrNotFound when the object does not exist.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)

	// GetRange reads length bytes from offset (length < 0 means to the
	// end). It returns an error wrapping ErrNotFound when the object does
	// not exist.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the object's info, or an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error

	// List yields the objects whose keys start with prefix, in
	// lexicographic key order. An error ends the sequence.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
}

// ValidateKey refuses keys that could escape the lake root or be stored
// ambiguously: empty keys, absolute paths, "." and ".." segments, empty
// segments (// or a trailing slash), backslashes, NUL and other control
// characters, invalid UTF-8, and keys longer than 1024 bytes (S3's limit).
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("store: key %q: %s: %w", key, why, ErrInvalidKey)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > 1024:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("absolute path")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return bad(fmt.Sprintf("contains control character %U", r))
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad(fmt.Sprintf("path segment %q", seg))
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: "" (everything) or a string that
// would be a valid key once completed; it may end in "/".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return fmt.Errorf("store: prefix %q: %w", prefix, ErrInvalidKey)
	}
	return ValidateKey(p)
}

// Locator is implemented by backends that can say their lake's URL
// (file://DIR, s3://BUCKET[/PREFIX]), as package storeurl opens it.
type Locator interface {
	URL() string
}

// Exists reports whether there is an object at key. A store failure comes
// back as Wrap returns it.
func Exists(ctx context.Context, st Store, key string) (bool, error) {
	_, err := st.Stat(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, Wrap(err, "store: stat %q", key)
	}
	return true, nil
}
