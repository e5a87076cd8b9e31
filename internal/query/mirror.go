package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/store"
)

// etagSuffix names the file beside each mirrored object that records the
// ETag it was copied at.
const etagSuffix = ".etag"

// mirrorTable makes dir/<key> a copy of every object under t's location,
// fetching only objects that are missing or whose ETag changed, and
// removing copies of objects that are gone. Objects are streamed to disk.
func mirrorTable(ctx context.Context, s store.Store, dir string, t *catalog.Table) error {
	seen := map[string]bool{}
	for info, err := range s.List(ctx, t.Location) {
		if err != nil {
			return fmt.Errorf("query: mirror %s.%s: %w", t.Database, t.Name, err)
		}
		if ok, _ := filepath.Match(cmp.Or(t.Files, "*."+string(t.Format)), path.Base(info.Key)); !ok {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(info.Key))
		seen[path] = true
		if etag, err := os.ReadFile(path + etagSuffix); err == nil && string(etag) == info.ETag {
			continue
		}
		if err := fetch(ctx, s, info.Key, path); err != nil {
			return fmt.Errorf("query: mirror %s.%s: %w", t.Database, t.Name, err)
		}
		if err := os.WriteFile(path+etagSuffix, []byte(info.ETag), 0o644); err != nil {
			return fmt.Errorf("query: mirror %s.%s: %w", t.Database, t.Name, err)
		}
	}
	base := filepath.Join(dir, filepath.FromSlash(t.Location))
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, etagSuffix) || seen[path] {
			return err
		}
		return errors.Join(remove(path), remove(path+etagSuffix))
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("query: mirror %s.%s: prune: %w", t.Database, t.Name, err)
	}
	return nil
}

// fetch copies the object at key to path through a temporary file.
func fetch(ctx context.Context, s store.Store, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return fmt.Errorf("fetch %s: %w", key, err)
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
