package icebergio_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends open a fresh FS over each store backend.
var backends = []struct {
	name  string
	newFS func(t *testing.T) *icebergio.FS
}{
	{"folder", func(t *testing.T) *icebergio.FS {
		dir := filepath.Join(t.TempDir(), "lake dir") // a space, to exercise URI escaping
		st, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newFS(t, st, "file://"+dir)
	}},
	{"s3", func(t *testing.T) *icebergio.FS {
		cfg := testenv.S3(t)
		st, err := s3store.New(t.Context(), cfg.Options("lakes/prod"))
		if err != nil {
			t.Fatal(err)
		}
		return newFS(t, st, "s3://"+cfg.Bucket+"/lakes/prod")
	}},
}

func newFS(t *testing.T, st store.Store, lakeURL string) *icebergio.FS {
	t.Helper()
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	f, err := icebergio.New(st, root)
	if err != nil {
		t.Fatal(err)
	}
	return f.WithContext(t.Context())
}

func TestFS(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *icebergio.FS)
	}{
		{"KeyAndLocation", testKeyAndLocation},
		{"CreateOpenRead", testCreateOpenRead},
		{"UnclosedWriterPublishesNothing", testUnclosedWriter},
		{"Missing", testMissing},
		{"WalkDir", testWalkDir},
		{"OutsideLake", testOutsideLake},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, b.newFS(t)) })
			}
		})
	}
}

func TestRootURI(t *testing.T) {
	abs, err := filepath.Abs("rel/lake")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "s3://bucket", want: "s3://bucket"},
		{in: "s3://bucket/", want: "s3://bucket"},
		{in: "s3://bucket/a/b/", want: "s3://bucket/a/b"},
		{in: "file:///tmp/lake", want: "file:///tmp/lake"},
		{in: "file://rel/lake", want: "file://" + abs},
		{in: "file:///tmp/a b", want: "file:///tmp/a%20b"},
		{in: "s3://", wantErr: true},
		{in: "file://", wantErr: true},
		{in: "gs://bucket", wantErr: true},
		{in: "/tmp/lake", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := icebergio.RootURI(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RootURI(%q) = %q, %v; want error %v", tt.in, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("RootURI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func testKeyAndLocation(t *testing.T, f *icebergio.FS) {
	for _, key := range []string{"silver/orders/metadata/v1.metadata.json", "silver/orders/data/created_at_month=2025-01/00000-0-x.parquet", "a b/c%d"} {
		loc := f.Location(key)
		got, err := f.Key(loc)
		if err != nil {
			t.Fatalf("Key(Location(%q)=%q): %v", key, loc, err)
		}
		if got != key {
			t.Errorf("Key(Location(%q)) = %q, want the key back", key, got)
		}
	}
}

func testCreateOpenRead(t *testing.T, f *icebergio.FS) {
	content := make([]byte, 3<<20+17)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rnd.Uint32())
	}
	loc := f.Location("t/data/file.parquet")
	w, err := f.Create(loc)
	if err != nil {
		t.Fatal(err)
	}
	// write in odd-sized pieces, half through ReadFrom
	if _, err := w.Write(content[:1000]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadFrom(bytes.NewReader(content[1000:])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := f.ReadFile(loc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("ReadFile: %d bytes differ from the %d written", len(got), len(content))
	}
	fi, err := f.Stat(loc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Size(), int64(len(content)); got != want {
		t.Errorf("Stat size=%d, want %d", got, want)
	}
	if got, want := fi.Name(), "file.parquet"; got != want {
		t.Errorf("Stat name=%q, want %q", got, want)
	}

	r, err := f.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tail := make([]byte, 8)
	if _, err := r.ReadAt(tail, int64(len(content)-8)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tail, content[len(content)-8:]) {
		t.Errorf("ReadAt at the end = %x, want %x", tail, content[len(content)-8:])
	}
	if _, err := r.Seek(1<<20, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	mid := make([]byte, 100)
	if _, err := io.ReadFull(r, mid); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mid, content[1<<20:1<<20+100]) {
		t.Errorf("Read after Seek differs from the content at 1 MiB")
	}

	if err := f.WriteFile(loc, []byte("small")); err != nil {
		t.Fatal(err)
	}
	if got, err := f.ReadFile(loc); err != nil || string(got) != "small" {
		t.Errorf("ReadFile after WriteFile = %q, %v; want \"small\"", got, err)
	}
	if err := f.Remove(loc); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(loc); err != nil {
		t.Errorf("removing a missing file: %v, want nil", err)
	}
}

func testUnclosedWriter(t *testing.T, f *icebergio.FS) {
	loc := f.Location("t/data/partial.parquet")
	w, err := f.Create(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), 200<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(loc); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat before Close: %v, want fs.ErrNotExist (nothing published yet)", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(loc); err != nil {
		t.Errorf("Stat after Close: %v", err)
	}
}

func testMissing(t *testing.T, f *icebergio.FS) {
	loc := f.Location("t/metadata/v9.metadata.json")
	if _, err := f.Open(loc); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open missing: %v, want fs.ErrNotExist and store.ErrNotFound", err)
	}
	if _, err := f.ReadFile(loc); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile missing: %v, want fs.ErrNotExist", err)
	}
	if _, err := f.Stat(loc); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat missing: %v, want fs.ErrNotExist", err)
	}
}

func testWalkDir(t *testing.T, f *icebergio.FS) {
	keys := []string{"t/data/a.parquet", "t/data/p=1/b.parquet", "t/metadata/v1.metadata.json", "tt/data/c.parquet"}
	for _, k := range keys {
		if err := f.WriteFile(f.Location(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(root string) []string {
		var got []string
		err := f.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() == 0 || d.IsDir() {
				t.Errorf("WalkDir: %s: size %d, dir %v", p, info.Size(), d.IsDir())
			}
			got = append(got, p)
			return nil
		})
		if err != nil {
			t.Fatalf("WalkDir(%s): %v", root, err)
		}
		return got
	}
	want := []string{f.Location(keys[0]), f.Location(keys[1])}
	for _, root := range []string{f.Location("t/data"), f.Location("t/data") + "/"} {
		if got := walk(root); !slices.Equal(got, want) {
			t.Errorf("WalkDir(%s) = %q, want %q", root, got, want)
		}
	}
	if got := walk(f.Root()); len(got) != len(keys) {
		t.Errorf("WalkDir(root) = %q, want all %d objects", got, len(keys))
	}
	if got := walk(f.Location("missing")); len(got) != 0 {
		t.Errorf("WalkDir(missing) = %q, want nothing", got)
	}
}

func testOutsideLake(t *testing.T, f *icebergio.FS) {
	root := f.Root()
	for _, loc := range []string{
		"/etc/passwd",
		"file:///etc/passwd",
		"s3://other-bucket/x",
		root + "2/x",
		root,
		root + "/",
		root + "/../x",
		root + "/a/../../x",
		root + "/a//b",
		root + "/x?versionId=1",
		"",
	} {
		if _, err := f.Key(loc); !errors.Is(err, icebergio.ErrOutsideLake) {
			t.Errorf("Key(%q): %v, want ErrOutsideLake", loc, err)
		}
		if err := f.WriteFile(loc, []byte("x")); !errors.Is(err, icebergio.ErrOutsideLake) {
			t.Errorf("WriteFile(%q): %v, want ErrOutsideLake", loc, err)
		}
		if _, err := f.Open(loc); !errors.Is(err, icebergio.ErrOutsideLake) {
			t.Errorf("Open(%q): %v, want ErrOutsideLake", loc, err)
		}
		if err := f.Remove(loc); !errors.Is(err, icebergio.ErrOutsideLake) {
			t.Errorf("Remove(%q): %v, want ErrOutsideLake", loc, err)
		}
	}
}
