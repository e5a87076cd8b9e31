package query_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestS3Lake queries a lake in a bucket of the S3-compatible test server,
// its Iceberg tables written and committed there: the files the
// statements read are mirrored through the store into the cache folder.
func TestS3Lake(t *testing.T) {
	l := newS3Lake(t)
	h := l.fill(t)
	cache := t.TempDir()
	e := l.open(t, query.Options{CacheDir: cache})
	if got, want := run(t, e, format.CSV, `SELECT order_id, status, note FROM silver.orders_current ORDER BY order_id`), "order_id,status,note\n1,SHIPPED,gift\n2,PENDING,\n3,RETURNED,\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := run(t, e, format.CSV, `SELECT count(*) AS n FROM discarded.orders, meta.watermarks`), "n\n1\n"; got != want {
		t.Errorf("discarded and meta over S3: %q, want %q", got, want)
	}
	if got, want := run(t, l.open(t, query.Options{CacheDir: cache, AsOf: h.o2}), format.CSV, `SELECT string_agg(status, ' ' ORDER BY order_id) AS s FROM silver.orders_current`), "s\nPAID PENDING CANCELLED\n"; got != want {
		t.Errorf("as of the second object, over S3: %q, want %q", got, want)
	}
}

// counting is a lake store that is not a local folder (so the engine
// mirrors it) and counts the data and delete files it serves whole, and
// the reads of manifests and manifest lists (planning).
type counting struct {
	store.Store
	mu        sync.Mutex
	gets      []string
	manifests int
}

func (c *counting) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	c.count(key, true)
	return c.Store.Get(ctx, key)
}

func (c *counting) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	c.count(key, false)
	return c.Store.GetRange(ctx, key, offset, length)
}

func (c *counting) count(key string, whole bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case whole && strings.Contains(key, "/data/"):
		c.gets = append(c.gets, key)
	case strings.Contains(key, "/metadata/") && strings.HasSuffix(key, ".avro"):
		c.manifests++
	}
}

// fetched returns and forgets the data and delete files served.
func (c *counting) fetched() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.gets
	c.gets = nil
	slices.Sort(out)
	return out
}

// planned returns and forgets how many reads of manifests and manifest
// lists there were.
func (c *counting) planned() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.manifests
	c.manifests = 0
	return n
}

// cached lists the files of the cache folder under prefix, as lake keys.
func cached(t *testing.T, cache, prefix string) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(filepath.Join(cache, prefix), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(cache, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// TestMirror checks what the mirror of a remote lake fetches: only the
// files of the tables a statement names, each once, and that copies no
// snapshot needs any more go once they have not been read for an hour.
func TestMirror(t *testing.T) {
	folder := newLake(t)
	folder.fill(t)
	remote := &counting{Store: folder.st}
	root := "file://" + folder.st.(interface{ Dir() string }).Dir()
	l := openLake(t, remote, root)
	cache := t.TempDir()
	current, silver := l.folder(t, icetable.Current), l.folder(t, icetable.Silver)

	if got, want := run(t, l.open(t, query.Options{CacheDir: cache}), format.CSV, `SELECT count(*) AS n FROM meta.watermarks`), "n\n1\n"; got != want {
		t.Fatalf("meta: %q, want %q", got, want)
	}
	if got := remote.fetched(); len(got) != 0 {
		t.Errorf("a statement on meta fetched Iceberg files: %q", got)
	}

	e := l.open(t, query.Options{CacheDir: cache})
	if got, want := run(t, e, format.CSV, `SELECT count(*) AS n FROM silver.orders_current`), "n\n3\n"; got != want {
		t.Fatalf("current: %q, want %q", got, want)
	}
	got := remote.fetched()
	var want []string
	for _, s := range e.Snapshots() {
		if s.Table == "silver.orders_current" {
			if len(got) != s.DataFiles+s.DeleteFiles || s.DeleteFiles == 0 {
				t.Errorf("fetched %d files for %+v, want its data and delete files, each once", len(got), s)
			}
		}
	}
	want = cached(t, cache, current)
	if !slices.Equal(got, want) {
		t.Errorf("fetched %q, cache holds %q", got, want)
	}
	if other := cached(t, cache, silver); len(other) != 0 {
		t.Errorf("silver.orders, which no statement read, was mirrored: %q", other)
	}

	if remote.planned() == 0 {
		t.Errorf("_current was read without reading its manifests")
	}

	// Again: the files and the plan of the snapshot are in the cache.
	if got, want := run(t, l.open(t, query.Options{CacheDir: cache}), format.CSV, `SELECT count(*) AS n FROM silver.orders_current`), "n\n3\n"; got != want {
		t.Fatalf("current again: %q, want %q", got, want)
	}
	if got := remote.fetched(); len(got) != 0 {
		t.Errorf("fetched again: %q", got)
	}
	if n := remote.planned(); n != 0 {
		t.Errorf("planned again: %d reads of manifests, want the snapshot's plan from the cache", n)
	}
	// A cached plan that cannot be read is planned again.
	plans, err := filepath.Glob(filepath.Join(cache, "plans", "silver.orders_current", "*.json"))
	if err != nil || len(plans) != 1 {
		t.Fatalf("cached plans of _current: %q, %v; want one", plans, err)
	}
	if err := os.WriteFile(plans[0], []byte(`{"table": "silver.orders_current", "files": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := run(t, l.open(t, query.Options{CacheDir: cache}), format.CSV, `SELECT count(*) AS n FROM silver.orders_current`), "n\n3\n"; got != want {
		t.Fatalf("current with a broken cached plan: %q, want %q", got, want)
	}
	if remote.planned() == 0 {
		t.Errorf("a broken cached plan was used")
	}

	// Compaction replaces _current's files: the new ones are fetched, the
	// old copies stay while another query may read them, and go once
	// they have not been read for an hour.
	if _, err := folder.ice.Maintain(ctx, icetable.Current, folder.t, icetable.MaintainOptions{}); err != nil {
		t.Fatal(err)
	}
	old := cached(t, cache, current)
	e = l.open(t, query.Options{CacheDir: cache})
	if got, want := run(t, e, format.CSV, `SELECT string_agg(status, ' ' ORDER BY order_id) AS s FROM silver.orders_current`), "s\nSHIPPED PENDING RETURNED\n"; got != want {
		t.Fatalf("after compaction: %q, want %q", got, want)
	}
	fresh := remote.fetched()
	if len(fresh) == 0 || len(slices.DeleteFunc(slices.Clone(fresh), func(k string) bool { return !slices.Contains(old, k) })) != 0 {
		t.Errorf("after compaction fetched %q; want only new files (had %q)", fresh, old)
	}
	if got := cached(t, cache, current); len(got) != len(old)+len(fresh) {
		t.Errorf("cache right after compaction: %q, want the old copies %q and the new %q", got, old, fresh)
	}
	long := time.Now().Add(-2 * time.Hour)
	for _, k := range old {
		if err := os.Chtimes(filepath.Join(cache, k), long, long); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l.open(t, query.Options{CacheDir: cache}), format.CSV, `SELECT count(*) FROM silver.orders_current`)
	if got := cached(t, cache, current); !slices.Equal(got, fresh) {
		t.Errorf("cache after an hour: %q, want only %q", got, fresh)
	}

	if _, err := openLake(t, remote, root).openErr(query.Options{}); err == nil || !strings.Contains(err.Error(), "cache folder") {
		t.Errorf("Open without a cache folder for a remote lake: %v, want an error asking for one", err)
	}
}
