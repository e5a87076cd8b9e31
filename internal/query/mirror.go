package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/medallionlake/lake/internal/store"
)

// etagSuffix names the file beside each mirrored meta record that
// records the ETag it was copied at.
const etagSuffix = ".etag"

// unused is how long a mirrored Iceberg file or a cached plan that no
// statement read stays in the cache before it is removed (a concurrent
// `lake query` reading another snapshot may still need it).
const unused = time.Hour

// fetchers is how many files are copied at once.
const fetchers = 8

// files says where DuckDB reads each object of the lake: in place when
// the lake is a local folder, otherwise in a local mirror that the store
// fills.
type files struct {
	s      store.Store
	dir    string // the folder local paths are under
	mirror bool
}

// folder is implemented by stores whose objects are plain files under a
// local folder (store/filestore).
type folder interface{ Dir() string }

func newFiles(s store.Store, cacheDir string) (*files, error) {
	if f, ok := s.(folder); ok {
		return &files{s: s, dir: f.Dir()}, nil
	}
	if cacheDir == "" {
		return nil, errors.New("query: the lake is not a local folder: a cache folder is needed to mirror its tables for DuckDB")
	}
	return &files{s: s, dir: cacheDir, mirror: true}, nil
}

// local is the path DuckDB reads the object at key at.
func (f *files) local(key string) string {
	return filepath.Join(f.dir, filepath.FromSlash(key))
}

// fetch makes the objects at keys, all under the table folder prefix,
// readable locally. Iceberg never changes a data, delete or metadata
// file once written (their names are unique), so a copy that is there is
// current: only missing ones are copied, as many at once as fetchers.
// Copies under prefix that keys do not name and that no statement read
// for unused are removed.
func (f *files) fetch(ctx context.Context, prefix string, keys []string) error {
	if !f.mirror {
		return nil
	}
	now := time.Now()
	keep := make(map[string]bool, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchers)
	for _, key := range keys {
		p := f.local(key)
		keep[p] = true
		if err := os.Chtimes(p, now, now); err == nil {
			continue // there already: mark it used
		}
		g.Go(func() error { return copyObject(gctx, f.s, key, p) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if err := prune(f.local(prefix), keep, now); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	return nil
}

// prune removes the files under dir that keep does not name and that
// were not used (their modification time set) for unused before now.
func prune(dir string, keep map[string]bool, now time.Time) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || keep[p] {
			return err
		}
		if info, err := d.Info(); err == nil && now.Sub(info.ModTime()) < unused {
			return nil
		}
		return remove(p)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prune %s: %w", dir, err)
	}
	return nil
}

// mirrorPrefix makes the local folder of prefix a copy of the objects
// under prefix whose names match pattern (records that change in place,
// such as the meta tables'), fetching only objects that are missing or
// whose ETag changed, and removing copies of objects that are gone.
// Objects are streamed to disk.
func (f *files) mirrorPrefix(ctx context.Context, prefix, pattern string) error {
	if !f.mirror {
		return nil
	}
	seen := map[string]bool{}
	for info, err := range f.s.List(ctx, prefix) {
		if err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		if ok, _ := filepath.Match(pattern, path.Base(info.Key)); !ok {
			continue
		}
		p := f.local(info.Key)
		seen[p] = true
		if etag, err := os.ReadFile(p + etagSuffix); err == nil && string(etag) == info.ETag {
			continue
		}
		if err := copyObject(ctx, f.s, info.Key, p); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		if err := os.WriteFile(p+etagSuffix, []byte(info.ETag), 0o644); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
	}
	err := filepath.WalkDir(f.local(prefix), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, etagSuffix) || seen[p] {
			return err
		}
		return errors.Join(remove(p), remove(p+etagSuffix))
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mirror: prune %s: %w", prefix, err)
	}
	return nil
}

// copyObject copies the object at key to path, streaming it.
func copyObject(ctx context.Context, s store.Store, key, path string) error {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := writeFile(path, rc); err != nil {
		return fmt.Errorf("fetch %s: %w", key, err)
	}
	return nil
}

// writeFile writes what r holds to path through a temporary file beside
// it, so that path never holds part of it.
func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// remove deletes a file; a missing one is not an error.
func remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
