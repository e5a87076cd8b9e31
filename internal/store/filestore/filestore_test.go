package filestore_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/storetest"
	"github.com/medallionlake/lake/internal/testenv"
)

// newStore opens a store in <tmp>/lake and checks, when the test ends, that
// nothing was written beside it and no temporary file was left.
func newStore(t *testing.T) *filestore.Store {
	t.Helper()
	parent := t.TempDir()
	s, err := filestore.New(filepath.Join(parent, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if tmp, _ := os.ReadDir(filepath.Join(parent, "lake", ".lakestore", "tmp")); len(tmp) != 0 {
			t.Errorf("%d temporary files left behind", len(tmp))
		}
		entries, _ := os.ReadDir(parent)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"lake"}) {
			t.Errorf("folder around the lake holds %q, want only [lake]", names)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestReservedFolder(t *testing.T) {
	s := newStore(t)
	for _, key := range []string{".lakestore", ".lakestore/tmp/x", ".lakestore/locks/00"} {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x"), nil); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q): err=%v, want ErrInvalidKey", key, err)
		}
	}
	for info, err := range s.List(t.Context(), ".lake") {
		t.Errorf("List(.lake) yields %q, %v; want nothing", info.Key, err)
	}
}

func TestSymlinkOutOfRootRefused(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), "link/secret"); err == nil {
		t.Errorf("Get through a symlink out of the lake succeeded")
	}
	if _, err := s.Put(t.Context(), "link/planted", strings.NewReader("x"), nil); err == nil {
		t.Errorf("Put through a symlink out of the lake succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written outside the lake: stat err=%v", err)
	}
	for info, err := range s.List(t.Context(), "") {
		t.Errorf("List yields %q, %v through a symlink; want nothing", info.Key, err)
	}
}

func TestHandDroppedFile(t *testing.T) {
	s := newStore(t)
	path := filepath.Join(s.Dir(), "bronze", "landing", "orders", "dropped.parquet")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(t.Context(), "bronze/landing/orders/dropped.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.ETag, "5d41402abc4b2a76b9719d911017c592"; got != want { // md5("hello")
		t.Errorf("ETag=%q, want the content's MD5 %q", got, want)
	}
	// an edit by hand in place must change the ETag even though the
	// recorded attribute is still there
	if err := os.WriteFile(path, []byte("hello, edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	edited, err := s.Stat(t.Context(), "bronze/landing/orders/dropped.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if edited.ETag == info.ETag {
		t.Errorf("ETag %q unchanged after an edit by hand", edited.ETag)
	}
}

func TestDeletePrunesEmptyFolders(t *testing.T) {
	s := newStore(t)
	if _, err := s.Put(t.Context(), "bronze/landing/orders/a", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "bronze/landing/orders/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "bronze")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty folders left after Delete: stat bronze err=%v", err)
	}
}

// TestConditionalAcrossProcesses runs a compare-and-swap counter in several
// processes at once (this test binary, re-executed), which only the flock
// on the lock files keeps correct.
func TestConditionalAcrossProcesses(t *testing.T) {
	const procs, perProc = 4, 25
	if dir := os.Getenv("FILESTORE_CAS_DIR"); dir != "" {
		s, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		for range perProc {
			increment(t, s)
		}
		return
	}
	s := newStore(t)
	if _, err := s.Put(t.Context(), "counter", strings.NewReader("0"), nil); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConditionalAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FILESTORE_CAS_DIR="+s.Dir())
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}
	if got, want := read(t, s, "counter"), fmt.Sprint(procs*perProc); got != want {
		t.Errorf("counter=%s after %d processes x %d increments, want %s", got, procs, perProc, want)
	}
}

// increment adds one to the counter with a compare-and-swap loop.
func increment(t *testing.T, s *filestore.Store) {
	t.Helper()
	for {
		rc, info, err := s.Get(t.Context(), "counter")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Put(t.Context(), "counter", strings.NewReader(strconv.Itoa(n+1)), &store.PutOptions{IfMatch: info.ETag})
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrPreconditionFailed) {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, s store.Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestObjectAndFolderConflict(t *testing.T) {
	tests := []struct {
		description string
		first, then string
	}{
		{"object under an object", "a", "a/b"},
		{"object over a folder", "a/b", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			s := newStore(t)
			if _, err := s.Put(t.Context(), tt.first, strings.NewReader("x"), nil); err != nil {
				t.Fatal(err)
			}
			_, err := s.Put(t.Context(), tt.then, strings.NewReader("y"), nil)
			if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "cannot hold both") {
				t.Errorf("Put(%q) after Put(%q): err=%v, want an explanation", tt.then, tt.first, err)
			}
			if got := read(t, s, tt.first); got != "x" {
				t.Errorf("%q=%q after the refused Put, want %q", tt.first, got, "x")
			}
		})
	}
}

func BenchmarkFileStore(b *testing.B) {
	s, err := filestore.New(filepath.Join(b.TempDir(), "lake"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Benchmark(b, s)
}

func TestNewSweepsStaleTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lake")
	s, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	tmp := filepath.Join(dir, ".lakestore", "tmp")
	for _, name := range []string{"stale", "fresh"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(tmp, "stale"), old, old); err != nil {
		t.Fatal(err)
	}
	s, err = filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"fresh"}; !slices.Equal(names, want) {
		t.Errorf("temporary files after New=%q, want %q (only the stale one removed)", names, want)
	}
}

// TestDiskFull fills a real (1 MiB tmpfs) file system: the write fails
// with a *store.StoreFullError, publishes nothing and leaves no temporary
// file taking space.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		testenv.Unavailable(t, "a 1 MiB tmpfs mount (needs root or CAP_SYS_ADMIN)", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	s, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const key = "silver/staging/orders/dt=2024-01-01/part-0.parquet"
	_, err = s.Put(t.Context(), key, strings.NewReader(strings.Repeat("x", 2<<20)), nil)
	var full *store.StoreFullError
	if !errors.As(err, &full) {
		t.Fatalf("Put of 2 MiB on a 1 MiB disk: err=%v (%T), want a *store.StoreFullError", err, err)
	}
	if full.Op != "put" || full.Key != key || !errors.Is(err, unix.ENOSPC) {
		t.Errorf("StoreFullError{Op: %q, Key: %q, Err: %v}, want put %q wrapping ENOSPC", full.Op, full.Key, full.Err, key)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after the failed Put: err=%v, want ErrNotFound", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, ".lakestore", "tmp")); len(tmp) != 0 {
		t.Errorf("%d temporary files left behind", len(tmp))
	}
	if _, err := s.Put(t.Context(), key, strings.NewReader("small"), nil); err != nil {
		t.Errorf("Put of 5 bytes once the failed write freed its space: %v", err)
	}
}
