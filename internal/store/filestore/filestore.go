// Package filestore is the store backend for a lake in a local folder
// (file://DIR), the default for local runs and tests. Objects are plain
// files at DIR/<key>, so other tools (DuckDB, a file browser) can read the
// lake directly.
//
// How it keeps the store.Store contract:
//
//   - Atomic writes: Put writes a temporary file under DIR/.lakestore/tmp/,
//     fsyncs it, then renames (or, for IfNoneMatch, hard-links) it into
//     place and fsyncs the folder. A reader holds the old file or the new
//     one, never a mix. .lakestore is reserved: List never shows it and keys
//     under it are refused with store.ErrInvalidKey. New removes temporary
//     files older than an hour, left by processes that died mid-Put.
//   - Confinement: every key passes store.ValidateKey, and all file access
//     goes through an os.Root opened on DIR, which refuses to follow a
//     symbolic link out of DIR.
//   - ETags: the hex MD5 of the content, computed while writing and kept in
//     the file's extended attribute user.lakestore.etag together with the
//     size and modification time it was computed for. Stat trusts it only
//     while size and time still match; a file dropped in or edited by hand
//     is hashed on first Stat and the attribute stored then. Where the file
//     system has no user extended attributes, the hash is recomputed on
//     every Stat, Get and List.
//   - A full disk (ENOSPC, or EDQUOT over a quota) fails Put with a
//     *store.StoreFullError, leaving the object unchanged and no
//     temporary file behind.
//   - Conditional and unconditional writes alike publish under an exclusive
//     flock(2) on one of 64 lock files in DIR/.lakestore/locks/ picked by
//     the key's hash, so a condition is checked and its write published
//     atomically across goroutines and processes on one machine. flock is
//     not reliable on network file systems; use one host per lake folder.
//
// Limitations of a folder as an object store: a key cannot be both an
// object and a prefix of other objects ("a" and "a/b"), and on a
// case-insensitive file system keys differing only in case collide.
// Unix only (Linux, macOS).
package filestore

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/medallionlake/lake/internal/store"
)

// Scheme is the URL scheme of this backend.
const Scheme = "file"

var _ store.Store = (*Store)(nil)

const (
	// reservedDir is the top-level folder holding temporary and lock files.
	reservedDir = ".lakestore"
	tmpDir      = reservedDir + "/tmp"
	lockDir     = reservedDir + "/locks"
	lockStripes = 64
	etagXattr   = "user.lakestore.etag"
)

// Store is a lake in a local folder. It is safe for concurrent use, also by
// several processes sharing the folder.
type Store struct {
	dir  string
	root *os.Root
}

// New opens (creating it if needed) the lake folder dir.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: lake folder %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("filestore: create lake folder: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("filestore: open lake folder: %w", err)
	}
	for _, d := range []string{tmpDir, lockDir} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("filestore: create %s: %w", filepath.Join(abs, d), err)
		}
	}
	s := &Store{dir: abs, root: root}
	s.sweepTemp()
	return s, nil
}

// staleTemp is the age past which a temporary file is taken to be left over
// from a process that died mid-Put.
const staleTemp = time.Hour

// sweepTemp removes stale temporary files (best effort). Fresh ones may
// belong to another process's Put in progress and are left alone.
func (s *Store) sweepTemp() {
	d, err := s.root.Open(tmpDir)
	if err != nil {
		return
	}
	defer d.Close()
	entries, _ := d.ReadDir(-1)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			s.root.Remove(tmpDir + "/" + e.Name())
		}
	}
}

// Dir is the lake folder's absolute path.
func (s *Store) Dir() string { return s.dir }

// URL is the lake's URL, file://DIR, as storeurl opens it.
func (s *Store) URL() string { return "file://" + s.dir }

// Close releases the folder handle. The Store must not be used afterwards.
func (s *Store) Close() error { return s.root.Close() }

// checkKey applies store.ValidateKey and refuses the reserved folder.
func checkKey(key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if key == reservedDir || strings.HasPrefix(key, reservedDir+"/") {
		return fmt.Errorf("store: key %q: %s is reserved by the file store: %w", key, reservedDir, store.ErrInvalidKey)
	}
	return nil
}

// Put implements store.Store. A write that fails for want of space is a
// *store.StoreFullError.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (_ store.ObjectInfo, err error) {
	defer func() { err = diskFull(key, err) }()
	if err := checkKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	if opts == nil {
		opts = &store.PutOptions{}
	}
	tmp, info, err := s.writeTemp(ctx, r)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	defer s.root.Remove(tmp) // a no-op once renamed
	info.Key = key

	unlock, err := s.lock(key)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	if opts.IfMatch != "" {
		cur, err := s.stat(key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.ObjectInfo{}, fmt.Errorf("store: put %q if-match %q: object missing: %w", key, opts.IfMatch, store.ErrPreconditionFailed)
		case err != nil:
			return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, err)
		case cur.ETag != opts.IfMatch:
			return store.ObjectInfo{}, fmt.Errorf("store: put %q if-match %q: current ETag is %q: %w", key, opts.IfMatch, cur.ETag, store.ErrPreconditionFailed)
		}
	}
	publish := s.root.Rename
	if opts.IfNoneMatch {
		publish = s.root.Link // fails with EEXIST instead of replacing
	}
	if err := s.publish(key, tmp, publish); err != nil {
		if opts.IfNoneMatch && errors.Is(err, fs.ErrExist) {
			return store.ObjectInfo{}, fmt.Errorf("store: put %q if-none-match: object exists: %w", key, store.ErrPreconditionFailed)
		}
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, publishErr(key, err))
	}
	return info, nil
}

// writeTemp copies r into a new temporary file, fsyncs it and records its
// ETag. It returns the file's name under the root.
func (s *Store) writeTemp(ctx context.Context, r io.Reader) (string, store.ObjectInfo, error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	name := tmpDir + "/" + hex.EncodeToString(rnd[:])
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", store.ObjectInfo{}, fmt.Errorf("create temporary file: %w", err)
	}
	fail := func(err error) (string, store.ObjectInfo, error) {
		f.Close()
		s.root.Remove(name)
		return "", store.ObjectInfo{}, err
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return fail(fmt.Errorf("write: %w", err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync: %w", err))
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	etag := hex.EncodeToString(h.Sum(nil))
	if err := setETag(f, fi, etag); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		s.root.Remove(name)
		return "", store.ObjectInfo{}, err
	}
	return name, store.ObjectInfo{Size: n, ETag: etag, ModTime: fi.ModTime()}, nil
}

// publish moves tmp to key with op (rename or link), creating the key's
// folders, and fsyncs the folder. A concurrent Delete may remove a folder
// it just created (Delete prunes empty folders), so it tries again.
func (s *Store) publish(key, tmp string, op func(oldname, newname string) error) error {
	dir := path.Dir(key)
	var err error
	for range 10 {
		if err = op(tmp, key); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err = s.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock takes the exclusive flock of key's lock stripe; unlock releases it.
func (s *Store) lock(key string) (unlock func(), err error) {
	h := fnv.New32a()
	h.Write([]byte(key))
	name := fmt.Sprintf("%s/%02d", lockDir, h.Sum32()%lockStripes)
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := fdErr(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX) }); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	f, info, err := s.open(key)
	if err != nil {
		return nil, store.ObjectInfo{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	return f, info, nil
}

// GetRange implements store.Store.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("store: get %q: negative offset %d", key, offset)
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, fmt.Errorf("store: get %q: %w", key, mapErr(key, err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("a folder: %w", store.ErrNotFound)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: get %q: %w", key, err)
	}
	if length < 0 || offset+length > fi.Size() {
		length = max(0, fi.Size()-offset)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, nil
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	info, err := s.stat(key)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: stat %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) stat(key string) (store.ObjectInfo, error) {
	f, info, err := s.open(key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	f.Close()
	return info, nil
}

// open opens the object at key and describes it.
func (s *Store) open(key string) (*os.File, store.ObjectInfo, error) {
	f, err := s.root.Open(key)
	if err != nil {
		return nil, store.ObjectInfo{}, mapErr(key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("a folder: %w", store.ErrNotFound)
	}
	var etag string
	if err == nil {
		etag, err = fileETag(f, fi)
	}
	if err != nil {
		f.Close()
		return nil, store.ObjectInfo{}, err
	}
	return f, store.ObjectInfo{Key: key, Size: fi.Size(), ETag: etag, ModTime: fi.ModTime()}, nil
}

// Delete implements store.Store. It also removes the folders that the
// deletion left empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	unlock, err := s.lock(key)
	if err != nil {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	defer unlock()
	fi, err := s.root.Lstat(key)
	if err != nil {
		if err = mapErr(key, err); errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a prefix of other objects, not an object
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if s.root.Remove(dir) != nil {
			break // not empty (or already gone): its parents are not empty either
		}
	}
	return nil
}

// List implements store.Store. It reads one folder at a time, starting at
// the deepest folder that the prefix names, and visits a folder's entries
// in the order of their keys (a folder "a" sorts as "a/").
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	return func(yield func(store.ObjectInfo, error) bool) {
		if err := store.ValidatePrefix(prefix); err != nil {
			yield(store.ObjectInfo{}, err)
			return
		}
		dir, namePrefix := ".", prefix
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dir, namePrefix = prefix[:i], prefix[i+1:]
		}
		s.walk(ctx, dir, namePrefix, yield)
	}
}

// walk yields the objects under dir whose names start with namePrefix, in
// key order. It reports whether to go on.
func (s *Store) walk(ctx context.Context, dir, namePrefix string, yield func(store.ObjectInfo, error) bool) bool {
	entries, err := s.readDir(dir)
	if err != nil {
		return yield(store.ObjectInfo{}, fmt.Errorf("store: list %q: %w", dir, err))
	}
	type entry struct {
		name  string
		isDir bool
	}
	var sorted []entry
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) || (dir == "." && name == reservedDir) {
			continue
		}
		switch {
		case e.IsDir():
			sorted = append(sorted, entry{name, true})
		case e.Type().IsRegular():
			sorted = append(sorted, entry{name, false})
		}
	}
	sortKey := func(e entry) string {
		if e.isDir {
			return e.name + "/"
		}
		return e.name
	}
	slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(sortKey(a), sortKey(b)) })
	for _, e := range sorted {
		if err := ctx.Err(); err != nil {
			return yield(store.ObjectInfo{}, fmt.Errorf("store: list %q: %w", dir, err))
		}
		key := e.name
		if dir != "." {
			key = dir + "/" + e.name
		}
		if e.isDir {
			if !s.walk(ctx, key, "", yield) {
				return false
			}
			continue
		}
		info, err := s.stat(key)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the folder was read
		}
		if err != nil {
			err = fmt.Errorf("store: list: %w", err)
		}
		if !yield(info, err) || err != nil {
			return false
		}
	}
	return true
}

// readDir reads the folder dir; a missing folder is empty.
func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := s.root.Open(dir)
	if err != nil {
		if errors.Is(mapErr(dir, err), store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	return entries, err
}

// mapErr turns a missing file (or a file where a folder was expected) into
// store.ErrNotFound and a name too long for the file system into
// store.ErrInvalidKey.
func mapErr(key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("store: key %q: a path segment is too long for the file system: %w", key, store.ErrInvalidKey)
	}
	return err
}

// diskFull turns err, from writing key, into a *store.StoreFullError when
// the file system is full or over quota, wherever that happened (the
// temporary file, its ETag attribute, a new folder, a lock file).
func diskFull(key string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &store.StoreFullError{Op: "put", Key: key, Err: err}
	}
	return err
}

// publishErr explains why a temporary file could not be moved to key.
func publishErr(key string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("a folder on the key's path is an object (a file store cannot hold both \"a\" and \"a/b\"): %w", err)
	case errors.Is(err, syscall.EISDIR), errors.Is(err, fs.ErrExist):
		return fmt.Errorf("the key is a folder of other objects (a file store cannot hold both \"a\" and \"a/b\"): %w", err)
	}
	return mapErr(key, err)
}

// fileETag returns the ETag recorded on f if it still describes fi, and
// otherwise hashes the content and records the result.
func fileETag(f *os.File, fi os.FileInfo) (string, error) {
	buf := make([]byte, 128)
	var n int
	if err := fdErr(f, func(fd int) (err error) {
		n, err = unix.Fgetxattr(fd, etagXattr, buf)
		return err
	}); err == nil {
		if size, mtime, etag, ok := parseETagAttr(string(buf[:n])); ok &&
			size == fi.Size() && mtime == fi.ModTime().UnixNano() {
			return etag, nil
		}
	}
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return "", fmt.Errorf("hash content: %w", err)
	}
	etag := hex.EncodeToString(h.Sum(nil))
	if now, err := f.Stat(); err == nil && now.Size() == fi.Size() && now.ModTime().Equal(fi.ModTime()) {
		_ = setETag(f, fi, etag) // best effort: a cache, recomputed when missing
	}
	return etag, nil
}

// setETag records etag on f for its current size and modification time.
// A file system without user extended attributes is not an error.
func setETag(f *os.File, fi os.FileInfo, etag string) error {
	val := fmt.Sprintf("%d %d %s", fi.Size(), fi.ModTime().UnixNano(), etag)
	err := fdErr(f, func(fd int) error { return unix.Fsetxattr(fd, etagXattr, []byte(val), 0) })
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record ETag: %w", err)
	}
	return nil
}

func parseETagAttr(v string) (size, mtime int64, etag string, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return 0, 0, "", false
	}
	size, err1 := strconv.ParseInt(f[0], 10, 64)
	mtime, err2 := strconv.ParseInt(f[1], 10, 64)
	return size, mtime, f[2], err1 == nil && err2 == nil
}

// fdErr runs op on f's descriptor.
func fdErr(f *os.File, op func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = op(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var _ store.Locator = (*Store)(nil)
