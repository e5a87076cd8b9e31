// Package icebergio lets Apache Iceberg (github.com/apache/iceberg-go) read
// and write a lake's tables through the lake's own object store
// (internal/store): every metadata file, manifest and data file goes
// through the same store.Store as the rest of the lake, so the same S3
// client, endpoint settings and credentials apply, and no path outside the
// lake can be touched.
//
// Iceberg names files by URI. FS maps the URIs under the lake's root URI
// (file:///ABS/DIR for a folder, s3://BUCKET[/PREFIX] for S3) to store keys
// and refuses every other URI with an error wrapping ErrOutsideLake.
//
// FS implements iceberg-go's io.IO, io.ReadFileIO, io.WriteFileIO,
// io.ListableIO and io.StatIO. Imported by the Iceberg catalog
// (internal/icecatalog) and the table operations (internal/icetable).
package icebergio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	iceio "github.com/apache/iceberg-go/io"

	"github.com/medallionlake/lake/internal/store"
)

// ErrOutsideLake is returned (wrapped) for a URI that does not name an
// object under the lake's root.
var ErrOutsideLake = errors.New("icebergio: location is outside the lake")

var (
	_ iceio.IO          = (*FS)(nil)
	_ iceio.ReadFileIO  = (*FS)(nil)
	_ iceio.WriteFileIO = (*FS)(nil)
	_ iceio.ListableIO  = (*FS)(nil)
	_ iceio.StatIO      = (*FS)(nil)
)

// FS is an Iceberg file system over a lake store. It is safe for
// concurrent use.
type FS struct {
	ctx  context.Context
	st   store.Store
	root *url.URL // scheme, host and a path without a trailing slash
}

// RootURI returns the Iceberg root URI of the lake at lakeURL (the lake
// command's --lake): file://DIR becomes file:///ABSOLUTE/DIR, s3://BUCKET
// and s3://BUCKET/PREFIX stay as they are (without a trailing slash).
func RootURI(lakeURL string) (string, error) {
	scheme, rest, ok := strings.Cut(lakeURL, "://")
	if !ok {
		return "", fmt.Errorf("icebergio: lake URL %q: want file://DIR or s3://BUCKET[/PREFIX]", lakeURL)
	}
	switch scheme {
	case "file":
		if rest == "" {
			return "", fmt.Errorf("icebergio: lake URL %q: no folder", lakeURL)
		}
		abs, err := filepath.Abs(rest)
		if err != nil {
			return "", fmt.Errorf("icebergio: lake URL %q: %w", lakeURL, err)
		}
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
	case "s3":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return "", fmt.Errorf("icebergio: lake URL %q: no bucket", lakeURL)
		}
		u := url.URL{Scheme: "s3", Host: bucket}
		if prefix = strings.Trim(prefix, "/"); prefix != "" {
			u.Path = "/" + prefix
		}
		return u.String(), nil
	}
	return "", fmt.Errorf("icebergio: lake URL %q: unsupported scheme %q", lakeURL, scheme)
}

// New returns an FS over st, whose objects are named by URIs under root
// (from RootURI). The FS uses context.Background until WithContext gives it
// another.
func New(st store.Store, root string) (*FS, error) {
	u, err := url.Parse(root)
	if err != nil || u.Scheme == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("icebergio: root %q is not a plain file:// or s3:// URI", root)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("icebergio: root %q: want file:///ABSOLUTE/PATH", root)
		}
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("icebergio: root %q: no bucket", root)
		}
	default:
		return nil, fmt.Errorf("icebergio: root %q: unsupported scheme %q", root, u.Scheme)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return &FS{ctx: context.Background(), st: st, root: u}, nil
}

// WithContext returns a copy of f whose store calls use ctx: iceberg-go
// hands a context to the function that opens a table's file system, not to
// each file operation.
func (f *FS) WithContext(ctx context.Context) *FS {
	c := *f
	c.ctx = ctx
	return &c
}

// Store is the store f reads and writes.
func (f *FS) Store() store.Store { return f.st }

// Root is the lake's root URI, without a trailing slash.
func (f *FS) Root() string { return f.root.String() }

// Location is the URI of the object at key.
func (f *FS) Location(key string) string {
	u := *f.root
	u.Path = f.root.Path + "/" + key
	return u.String()
}

// Key is the store key of the object that location names. A URI with
// another scheme or bucket, outside the root's path, or whose key
// store.ValidateKey refuses gives an error wrapping ErrOutsideLake.
func (f *FS) Key(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrOutsideLake, location, err)
	}
	if u.Scheme != f.root.Scheme || u.Host != f.root.Host || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%w: %q is not under %s", ErrOutsideLake, location, f.Root())
	}
	key, ok := strings.CutPrefix(u.Path, f.root.Path+"/")
	if !ok {
		return "", fmt.Errorf("%w: %q is not under %s", ErrOutsideLake, location, f.Root())
	}
	if err := store.ValidateKey(key); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrOutsideLake, location, err)
	}
	return key, nil
}

// prefix is the list prefix for the folder URI location ("" for the root).
func (f *FS) prefix(location string) (string, error) {
	trimmed := strings.TrimRight(location, "/")
	if trimmed == f.Root() {
		return "", nil
	}
	key, err := f.Key(trimmed)
	if err != nil {
		return "", err
	}
	return key + "/", nil
}

// pathError wraps err for op on name, adding fs.ErrNotExist to a store
// error that wraps store.ErrNotFound (iceberg-go tests for it).
func pathError(op, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open implements io.IO: the object is read with range requests as it is
// read, and it must not change while open.
func (f *FS) Open(name string) (iceio.File, error) {
	key, err := f.Key(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info, err := f.st.Stat(f.ctx, key)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return &file{
		SectionReader: io.NewSectionReader(store.NewReaderAt(f.ctx, f.st, key, info.Size), 0, info.Size),
		info:          fileInfo{name: path.Base(key), size: info.Size, mod: info.ModTime},
	}, nil
}

// ReadFile implements io.ReadFileIO.
func (f *FS) ReadFile(name string) ([]byte, error) {
	key, err := f.Key(name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	rc, _, err := f.st.Get(f.ctx, key)
	if err != nil {
		return nil, pathError("read", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, pathError("read", name, err)
	}
	return b, nil
}

// Remove implements io.IO. Removing a missing object is not an error.
func (f *FS) Remove(name string) error {
	key, err := f.Key(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	if err := f.st.Delete(f.ctx, key); err != nil {
		return pathError("remove", name, err)
	}
	return nil
}

// WriteFile implements io.WriteFileIO: one atomic, unconditional Put.
func (f *FS) WriteFile(name string, p []byte) error {
	key, err := f.Key(name)
	if err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	if _, err := f.st.Put(f.ctx, key, bytes.NewReader(p), nil); err != nil {
		return pathError("write", name, err)
	}
	return nil
}

// Create implements io.WriteFileIO. What is written streams into one Put
// (bounded memory: the store's part buffers); the object appears, whole,
// only when Close returns nil. A writer that is not closed never publishes
// anything.
func (f *FS) Create(name string) (iceio.FileWriter, error) {
	key, err := f.Key(name)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	pr, pw := io.Pipe()
	w := &fileWriter{pw: pw, done: make(chan error, 1), name: name}
	go func() {
		_, err := f.st.Put(f.ctx, key, pr, nil)
		pr.CloseWithError(errWriterGone(err))
		w.done <- err
	}()
	return w, nil
}

// errWriterGone is what a write after a failed Put returns.
func errWriterGone(err error) error {
	if err == nil {
		return io.ErrClosedPipe
	}
	return err
}

// Stat implements io.StatIO.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	key, err := f.Key(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	info, err := f.st.Stat(f.ctx, key)
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return fileInfo{name: path.Base(key), size: info.Size, mod: info.ModTime}, nil
}

// WalkDir implements io.ListableIO over the objects under root (a folder
// URI): fn sees every object as a file, with its full URI, in key order.
// Folders are not reported. An error from the store ends the walk and is
// passed to fn.
func (f *FS) WalkDir(root string, fn fs.WalkDirFunc) error {
	prefix, err := f.prefix(root)
	if err != nil {
		return fn(root, nil, &fs.PathError{Op: "walk", Path: root, Err: err})
	}
	for info, err := range f.st.List(f.ctx, prefix) {
		if err != nil {
			return fn(root, nil, pathError("walk", root, err))
		}
		e := dirEntry{fileInfo{name: path.Base(info.Key), size: info.Size, mod: info.ModTime}}
		if err := fn(f.Location(info.Key), e, nil); err != nil {
			if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	return nil
}

// file is an open object.
type file struct {
	*io.SectionReader
	info fileInfo
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

// fileWriter feeds a Put running in its own goroutine.
type fileWriter struct {
	pw     *io.PipeWriter
	done   chan error
	name   string
	closed bool
	err    error
}

func (w *fileWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *fileWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(w.pw, r) }

// Close ends the object and waits for the Put: nil means it is stored.
func (w *fileWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.pw.Close()
	if err := <-w.done; err != nil {
		w.err = pathError("close", w.name, err)
	}
	return w.err
}

// fileInfo describes an object as a file.
type fileInfo struct {
	name string
	size int64
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

// dirEntry is an object as WalkDir reports it.
type dirEntry struct{ info fileInfo }

func (e dirEntry) Name() string               { return e.info.name }
func (e dirEntry) IsDir() bool                { return false }
func (e dirEntry) Type() fs.FileMode          { return 0 }
func (e dirEntry) Info() (fs.FileInfo, error) { return e.info, nil }
