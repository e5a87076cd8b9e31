// Package storetest is the conformance suite that every store backend
// passes: each backend's tests call Run with a function that opens a fresh,
// empty store. Imported only by tests.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/medallionlake/lake/internal/store"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call; it is called once per subtest with that subtest's t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PutGetStat", testPutGetStat},
		{"RangeReads", testRangeReads},
		{"Missing", testMissing},
		{"List", testList},
		{"ListStopsEarly", testListStopsEarly},
		{"UnusualValidKeys", testUnusualValidKeys},
		{"HostileKeys", testHostileKeys},
		{"LargeObject", testLargeObject},
		{"Atomicity", testAtomicity},
		{"FailedPutChangesNothing", testFailedPutChangesNothing},
		{"ConditionalCreate", testConditionalCreate},
		{"ConditionalReplace", testConditionalReplace},
		{"ConditionalLarge", testConditionalLarge},
		{"ConditionalCreateRace", testConditionalCreateRace},
		{"CompareAndSwapRace", testCompareAndSwapRace},
		{"ReaderAt", testReaderAt},
		{"Copy", testCopy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// put writes content at key or fails the test.
func put(t *testing.T, s store.Store, key string, content []byte) store.ObjectInfo {
	t.Helper()
	info, err := s.Put(t.Context(), key, bytes.NewReader(content), nil)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

// get reads the whole object at key or fails the test.
func get(t *testing.T, s store.Store, key string) ([]byte, store.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b, info
}

// list collects List(prefix) or fails the test.
func list(t *testing.T, s store.Store, prefix string) []store.ObjectInfo {
	t.Helper()
	var infos []store.ObjectInfo
	for info, err := range s.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		infos = append(infos, info)
	}
	return infos
}

func keys(infos []store.ObjectInfo) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Key
	}
	return out
}

func testPutGetStat(t *testing.T, s store.Store) {
	const key = "bronze/landing/orders/part-0.parquet"
	for _, content := range [][]byte{[]byte("first version"), {}, []byte("second, longer version")} {
		info := put(t, s, key, content)
		if got, want := info.Key, key; got != want {
			t.Errorf("Put: Key=%q, want %q", got, want)
		}
		if got, want := info.Size, int64(len(content)); got != want {
			t.Errorf("Put: Size=%d, want %d", got, want)
		}
		if info.ETag == "" {
			t.Errorf("Put: empty ETag")
		}
		body, ginfo := get(t, s, key)
		if !bytes.Equal(body, content) {
			t.Errorf("Get: content=%q, want %q", body, content)
		}
		if got, want := ginfo.ETag, info.ETag; got != want {
			t.Errorf("Get: ETag=%q, want Put's %q", got, want)
		}
		sinfo, err := s.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if sinfo.Key != key || sinfo.Size != int64(len(content)) || sinfo.ETag != info.ETag || sinfo.ModTime.IsZero() {
			t.Errorf("Stat=%+v, want key %q, size %d, ETag %q and a ModTime", sinfo, key, len(content), info.ETag)
		}
		again, err := s.Stat(t.Context(), key)
		if err != nil || again.ETag != sinfo.ETag {
			t.Errorf("second Stat: ETag=%q, err=%v; want unchanged %q", again.ETag, err, sinfo.ETag)
		}
	}
	a := put(t, s, "a", []byte("one"))
	b := put(t, s, "a", []byte("two"))
	if a.ETag == b.ETag {
		t.Errorf("ETag %q did not change when the content did", a.ETag)
	}
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(t.Context(), "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after Delete: err=%v, want ErrNotFound", err)
	}
}

func testRangeReads(t *testing.T, s store.Store) {
	const key = "r/obj"
	content := []byte("0123456789abcdefghij")
	put(t, s, key, content)
	n := int64(len(content))
	tests := []struct {
		description    string
		offset, length int64
		want           string
	}{
		{"whole", 0, -1, string(content)},
		{"middle", 3, 4, "3456"},
		{"to the end", 10, -1, "abcdefghij"},
		{"length past the end", 15, 100, "fghij"},
		{"last byte", n - 1, 1, "j"},
		{"zero length", 5, 0, ""},
		{"at the end", n, -1, ""},
		{"past the end", n + 10, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			rc, err := s.GetRange(t.Context(), key, tt.offset, tt.length)
			if err != nil {
				t.Fatalf("GetRange(%d, %d): %v", tt.offset, tt.length, err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("GetRange(%d, %d): read: %v", tt.offset, tt.length, err)
			}
			if string(got) != tt.want {
				t.Errorf("GetRange(%d, %d)=%q, want %q", tt.offset, tt.length, got, tt.want)
			}
		})
	}
}

func testMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, "present/x", []byte("x"))
	for _, key := range []string{"missing", "present/missing", "present", "present/x/under-an-object"} {
		if _, _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): err=%v, want ErrNotFound", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRange(%q): err=%v, want ErrNotFound", key, err)
		}
		if _, err := s.GetRange(ctx, key, 0, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRange(%q, 0, 0): err=%v, want ErrNotFound", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Stat(%q): err=%v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q): %v, want no error", key, err)
		}
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"present/x"}) {
		t.Errorf("List after deleting missing keys=%q, want [present/x]", got)
	}
}

// listKeys holds keys whose order differs between a naive folder walk and
// byte order ("orders-v2" < "orders/" < "orders0"), and prefixes that end
// mid-segment.
var listKeys = []string{
	"_meta/watermarks/orders",
	"bronze/landing.txt",
	"bronze/landing/orders-v2/y.parquet",
	"bronze/landing/orders/2024/x2.parquet",
	"bronze/landing/orders/x1.parquet",
	"bronze/landing/orders/x10.parquet",
	"bronze/landing/orders/x2.parquet",
	"bronze/landing/orders0",
	"bronze/landing0/z",
	"silver/a",
	"silver/ab",
	"silver/b/c",
}

func testList(t *testing.T, s store.Store) {
	for i, k := range slices.Backward(listKeys) { // written out of order
		put(t, s, k, []byte(strings.Repeat("x", i)))
	}
	prefixes := []string{
		"", "b", "bronze/", "bronze/land", "bronze/landing", "bronze/landing/",
		"bronze/landing/ord", "bronze/landing/orders", "bronze/landing/orders/",
		"bronze/landing/orders/x1", "silver/a", "silver/b/", "zzz", "nothing/here/",
	}
	for _, prefix := range prefixes {
		t.Run(fmt.Sprintf("prefix=%q", prefix), func(t *testing.T) {
			var want []string
			for _, k := range listKeys {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			infos := list(t, s, prefix)
			if got := keys(infos); !slices.Equal(got, want) {
				t.Fatalf("List(%q)=%q, want %q", prefix, got, want)
			}
			for _, info := range infos {
				st, err := s.Stat(t.Context(), info.Key)
				if err != nil {
					t.Fatalf("Stat(%q): %v", info.Key, err)
				}
				if info.Size != st.Size || info.ETag != st.ETag {
					t.Errorf("List info for %q: size %d ETag %q; Stat says size %d ETag %q", info.Key, info.Size, info.ETag, st.Size, st.ETag)
				}
			}
		})
	}
	for _, prefix := range []string{"/abs", "../x", "a//", "a/../b/", "bad\x00"} {
		var gotErr error
		for _, err := range s.List(t.Context(), prefix) {
			gotErr = err
			break
		}
		if !errors.Is(gotErr, store.ErrInvalidKey) {
			t.Errorf("List(%q): err=%v, want ErrInvalidKey", prefix, gotErr)
		}
	}
}

func testListStopsEarly(t *testing.T, s store.Store) {
	for i := range 5 {
		put(t, s, fmt.Sprintf("k/%d", i), []byte("x"))
	}
	var got []string
	for info, err := range s.List(t.Context(), "k/") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.Key)
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"k/0", "k/1"}; !slices.Equal(got, want) {
		t.Errorf("List with break=%q, want %q", got, want)
	}
}

func testUnusualValidKeys(t *testing.T, s store.Store) {
	// 1000 bytes: S3's limit is 1024 including a backend's key prefix
	long := strings.Repeat(strings.Repeat("l", 200)+"/", 5)[:999] + "z"
	tests := []string{
		"données/été.parquet",
		"with space/a b",
		"plus+equals=/x%20y&z?w#v",
		"emoji/🦆",
		".hidden/.dotfile",
		"...three-dots/x",
		"a:b;c,d'e\"f",
		long,
	}
	for _, key := range tests {
		t.Run(fmt.Sprintf("%.40q", key), func(t *testing.T) {
			content := []byte("content of " + key)
			put(t, s, key, content)
			if got, _ := get(t, s, key); !bytes.Equal(got, content) {
				t.Errorf("Get(%q)=%q, want %q", key, got, content)
			}
			if got := keys(list(t, s, key)); !slices.Equal(got, []string{key}) {
				t.Errorf("List(%q)=%q, want just the key", key, got)
			}
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete(%q): %v", key, err)
			}
		})
	}
}

// HostileKeys are keys that every backend must refuse with ErrInvalidKey.
var HostileKeys = []string{
	"", "..", ".", "../escape", "a/../../escape", "a/../b", "a/./b", "./a",
	"/etc/passwd", "/abs", "a//b", "a/", "//", "nul\x00byte", "new\nline",
	"tab\tkey", "del\x7fkey", "back\\slash", `..\..\windows`, "\xff\xfeinvalid-utf8",
	strings.Repeat("x", 1025), strings.Repeat("../", 400) + "etc/passwd",
}

func testHostileKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, key := range HostileKeys {
		t.Run(fmt.Sprintf("%.40q", key), func(t *testing.T) {
			ops := map[string]error{}
			_, ops["Put"] = s.Put(ctx, key, strings.NewReader("evil"), nil)
			_, ops["PutIfNoneMatch"] = s.Put(ctx, key, strings.NewReader("evil"), &store.PutOptions{IfNoneMatch: true})
			_, _, ops["Get"] = s.Get(ctx, key)
			_, ops["GetRange"] = s.GetRange(ctx, key, 0, 1)
			_, ops["Stat"] = s.Stat(ctx, key)
			ops["Delete"] = s.Delete(ctx, key)
			for op, err := range ops {
				if !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("%s(%q): err=%v, want ErrInvalidKey", op, key, err)
				}
			}
		})
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("store holds %q after hostile writes, want nothing", keys(got))
	}
}

// unsized hides everything but Read, so that a backend cannot learn the
// length in advance.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// randomBytes is a deterministic stream of n pseudo-random bytes.
func randomBytes(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func testLargeObject(t *testing.T, s store.Store) {
	const key = "large/object.bin"
	const size = 24<<20 + 12345 // several S3 parts, not a multiple of any
	h := sha256.New()
	info, err := s.Put(t.Context(), key, unsized{io.TeeReader(randomBytes(1, size), h)}, nil)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := h.Sum(nil)
	if info.Size != size {
		t.Errorf("Put: Size=%d, want %d", info.Size, size)
	}
	rc, ginfo, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h.Reset()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("Get: read: %v", err)
	}
	if n != size || ginfo.Size != size || !bytes.Equal(h.Sum(nil), want) {
		t.Errorf("Get: read %d bytes (info says %d), sha256 %x; want %d bytes, sha256 %x", n, ginfo.Size, h.Sum(nil), size, want)
	}
	// a range across the 8 and 16 MiB marks
	all, _ := io.ReadAll(randomBytes(1, size))
	off, length := int64(8<<20-100), int64(8<<20+200)
	rr, err := s.GetRange(t.Context(), key, off, length)
	if err != nil {
		t.Fatalf("GetRange: %v", err)
	}
	defer rr.Close()
	got, err := io.ReadAll(rr)
	if err != nil || !bytes.Equal(got, all[off:off+length]) {
		t.Errorf("GetRange(%d, %d): %d bytes, err=%v; want the %d bytes written there", off, length, len(got), err, length)
	}
}

func testAtomicity(t *testing.T, s store.Store) {
	const key = "state/object"
	const size = 1 << 20
	const versions = 12
	ctx := t.Context()
	put(t, s, key, bytes.Repeat([]byte{0}, size))

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for v := 1; v <= versions; v++ {
			// each version is one byte value throughout, and a different length
			if _, err := s.Put(ctx, key, unsized{bytes.NewReader(bytes.Repeat([]byte{byte(v)}, size+v))}, nil); err != nil {
				t.Errorf("Put version %d: %v", v, err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for reads := 0; !done.Load() || reads == 0; reads++ {
				rc, info, err := s.Get(ctx, key)
				if err != nil {
					t.Errorf("Get during writes: %v", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Errorf("Get during writes: read: %v", err)
					return
				}
				v := int(b[0])
				if len(b) != size+v || int64(len(b)) != info.Size || bytes.Count(b, []byte{b[0]}) != len(b) {
					t.Errorf("Get during writes: %d bytes (info says %d) starting with version %d: a mix or a partial object", len(b), info.Size, v)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for !done.Load() {
			for info, err := range s.List(ctx, "") {
				if err != nil {
					t.Errorf("List during writes: %v", err)
					return
				}
				if info.Key != key {
					t.Errorf("List during writes shows %q: a temporary object", info.Key)
					return
				}
			}
		}
	})
	wg.Wait()
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{key}) {
		t.Errorf("List after writes=%q, want [%q]", got, key)
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// cancelReader cancels a context when read, and ends.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

func testFailedPutChangesNothing(t *testing.T, s store.Store) {
	const key = "bronze/landing/orders/obj"
	broke := errors.New("source broke")
	tests := []struct {
		description string
		size        int64 // bytes read before the failure: within one part, and past it
		err         error // the source's error; nil: the context is canceled (and data keeps coming)
	}{
		{"source fails early", 1 << 20, broke},
		{"source fails after a part", 9 << 20, broke},
		// what an HTTP body cut short of its Content-Length returns: an
		// error, not the end of the object
		{"source cut short early", 1 << 20, io.ErrUnexpectedEOF},
		{"source cut short after a part", 9 << 20, io.ErrUnexpectedEOF},
		{"context canceled early", 1 << 20, nil},
		{"context canceled after a part", 9 << 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			v1 := put(t, s, key, []byte("version 1"))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var failure io.Reader = errReader{tt.err}
			if tt.err == nil {
				failure = io.MultiReader(cancelReader{cancel}, randomBytes(5, 16<<20))
			}
			r := io.MultiReader(randomBytes(4, tt.size), failure)
			if _, err := s.Put(ctx, key, unsized{r}, nil); err == nil {
				t.Fatalf("Put succeeded")
			}
			got, info := get(t, s, key)
			if string(got) != "version 1" || info.ETag != v1.ETag {
				t.Errorf("after the failed Put: %d bytes, ETag %q; want version 1 (ETag %q)", len(got), info.ETag, v1.ETag)
			}
			if got := keys(list(t, s, "")); !slices.Equal(got, []string{key}) {
				t.Errorf("List after the failed Put=%q, want [%q]", got, key)
			}
		})
	}
}

func testConditionalCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key = "_meta/lock"
	create := &store.PutOptions{IfNoneMatch: true}
	info, err := s.Put(ctx, key, strings.NewReader("first"), create)
	if err != nil {
		t.Fatalf("Put IfNoneMatch on a missing key: %v", err)
	}
	if _, err := s.Put(ctx, key, strings.NewReader("second"), create); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put IfNoneMatch on an existing key: err=%v, want ErrPreconditionFailed", err)
	}
	if got, ginfo := get(t, s, key); string(got) != "first" || ginfo.ETag != info.ETag {
		t.Errorf("after the refused create: content %q ETag %q, want %q %q", got, ginfo.ETag, "first", info.ETag)
	}
}

func testConditionalReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key = "_meta/watermark"
	if _, err := s.Put(ctx, key, strings.NewReader("v1"), &store.PutOptions{IfMatch: `"0123456789abcdef0123456789abcdef"`}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put IfMatch on a missing key: err=%v, want ErrPreconditionFailed", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused IfMatch created the object: Stat err=%v", err)
	}
	v1 := put(t, s, key, []byte("v1"))
	v2, err := s.Put(ctx, key, strings.NewReader("v2"), &store.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("Put IfMatch with the current ETag: %v", err)
	}
	if v2.ETag == v1.ETag {
		t.Errorf("ETag unchanged after a replace: %q", v2.ETag)
	}
	if _, err := s.Put(ctx, key, strings.NewReader("v3"), &store.PutOptions{IfMatch: v1.ETag}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put IfMatch with a stale ETag: err=%v, want ErrPreconditionFailed", err)
	}
	if got, info := get(t, s, key); string(got) != "v2" || info.ETag != v2.ETag {
		t.Errorf("after the refused replace: content %q ETag %q, want %q %q", got, info.ETag, "v2", v2.ETag)
	}
}

// testConditionalLarge checks conditions on objects larger than a part,
// which S3 backends write with multipart uploads.
func testConditionalLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key = "_meta/large-state"
	const size = 9<<20 + 1
	large := func(seed uint64) io.Reader { return unsized{randomBytes(seed, size)} }
	v1, err := s.Put(ctx, key, large(10), &store.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("Put IfNoneMatch on a missing key: %v", err)
	}
	if _, err := s.Put(ctx, key, large(11), &store.PutOptions{IfNoneMatch: true}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put IfNoneMatch on an existing key: err=%v, want ErrPreconditionFailed", err)
	}
	v2, err := s.Put(ctx, key, large(12), &store.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("Put IfMatch with the current ETag: %v", err)
	}
	if _, err := s.Put(ctx, key, large(13), &store.PutOptions{IfMatch: v1.ETag}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put IfMatch with a stale ETag: err=%v, want ErrPreconditionFailed", err)
	}
	want, _ := io.ReadAll(randomBytes(12, size))
	if got, info := get(t, s, key); !bytes.Equal(got, want) || info.ETag != v2.ETag {
		t.Errorf("after refused writes: %d bytes, ETag %q; want the second version (%d bytes, ETag %q)", len(got), info.ETag, size, v2.ETag)
	}
}

func testConditionalCreateRace(t *testing.T, s store.Store) {
	const n = 16
	const key = "_meta/claim"
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Put(t.Context(), key, strings.NewReader(fmt.Sprint("writer ", i)), &store.PutOptions{IfNoneMatch: true})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both created %q", winner, i, key)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPreconditionFailed):
			t.Errorf("writer %d: err=%v, want nil or ErrPreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer created %q", key)
	}
	if got, _ := get(t, s, key); string(got) != fmt.Sprint("writer ", winner) {
		t.Errorf("content=%q, want the winner's %q", got, fmt.Sprint("writer ", winner))
	}
}

func testCompareAndSwapRace(t *testing.T, s store.Store) {
	const n = 8
	const key = "_meta/counter"
	ctx := t.Context()
	put(t, s, key, []byte("0"))
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for range n {
		wg.Go(func() {
			for {
				rc, info, err := s.Get(ctx, key)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				var v int
				if _, serr := fmt.Sscan(string(b), &v); err != nil || serr != nil {
					t.Errorf("read counter %q: %v %v", b, err, serr)
					return
				}
				_, err = s.Put(ctx, key, strings.NewReader(fmt.Sprint(v+1)), &store.PutOptions{IfMatch: info.ETag})
				if err == nil {
					return
				}
				if !errors.Is(err, store.ErrPreconditionFailed) {
					t.Errorf("Put IfMatch: %v", err)
					return
				}
				conflicts.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d increments, %d conflicts retried", n, conflicts.Load())
	if got, _ := get(t, s, key); string(got) != fmt.Sprint(n) {
		t.Errorf("counter=%s after %d compare-and-swap increments (%d conflicts retried), want %d", got, n, conflicts.Load(), n)
	}
}

func testReaderAt(t *testing.T, s store.Store) {
	const key = "parquet/file"
	const size = 3<<20 + 777
	content, _ := io.ReadAll(randomBytes(2, size))
	put(t, s, key, content)
	r := store.NewReaderAt(t.Context(), s, key, size)
	tests := []struct {
		description string
		off, n      int64
		wantErr     error
	}{
		{"footer", size - 8, 8, nil},
		{"small", 100, 10, nil},
		{"across a block edge", 1<<20 - 5, 10, nil},
		{"large", 1000, 2 << 20, nil},
		{"whole", 0, size, nil},
		{"past the end", size - 4, 10, io.EOF},
		{"at the end", size, 1, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			p := make([]byte, tt.n)
			n, err := r.ReadAt(p, tt.off)
			want := content[min(tt.off, size):min(tt.off+tt.n, size)]
			if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
				t.Errorf("ReadAt(%d bytes at %d): err=%v, want %v", tt.n, tt.off, err, tt.wantErr)
			}
			if !bytes.Equal(p[:n], want) {
				t.Errorf("ReadAt(%d bytes at %d): %d bytes differ from the object's %d", tt.n, tt.off, n, len(want))
			}
		})
	}
	t.Run("parallel", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for range 50 {
					off := rng.Int64N(size)
					p := make([]byte, rng.IntN(4096)+1)
					n, err := r.ReadAt(p, off)
					if err != nil && !errors.Is(err, io.EOF) {
						t.Errorf("ReadAt: %v", err)
						return
					}
					if !bytes.Equal(p[:n], content[off:off+int64(n)]) {
						t.Errorf("ReadAt(%d bytes at %d): wrong bytes", len(p), off)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func testCopy(t *testing.T, s store.Store) {
	content, _ := io.ReadAll(randomBytes(3, 1<<20+3))
	src := put(t, s, "bronze/landing/orders/a.parquet", content)
	for _, tc := range []struct {
		description string
		ifMatch     string
	}{
		{"any version", ""},
		{"the current version", src.ETag},
		{"the current version, unquoted", store.NormalizeETag(src.ETag)},
	} {
		t.Run(tc.description, func(t *testing.T) {
			info, err := store.Copy(t.Context(), s, "archive/orders/a.parquet", s, "bronze/landing/orders/a.parquet", tc.ifMatch)
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if info.Size != int64(len(content)) {
				t.Errorf("Copy: Size=%d, want %d", info.Size, len(content))
			}
			if got, want := store.NormalizeETag(info.ETag), store.NormalizeETag(src.ETag); got != want {
				t.Errorf("Copy: ETag=%s, want the source's %s", got, want)
			}
			if got, _ := get(t, s, "archive/orders/a.parquet"); !bytes.Equal(got, content) {
				t.Errorf("copy differs from the source (%d bytes, want %d)", len(got), len(content))
			}
		})
	}
	t.Run("another version", func(t *testing.T) {
		if _, err := store.Copy(t.Context(), s, "archive/orders/b.parquet", s, "bronze/landing/orders/a.parquet", `"0123456789abcdef0123456789abcdef"`); !errors.Is(err, store.ErrPreconditionFailed) {
			t.Errorf("Copy of another version: err=%v, want ErrPreconditionFailed", err)
		}
		if _, err := s.Stat(t.Context(), "archive/orders/b.parquet"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a failed Copy left its destination: Stat err=%v", err)
		}
	})
	t.Run("missing source", func(t *testing.T) {
		if _, err := store.Copy(t.Context(), s, "archive/x", s, "missing", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Copy of a missing object: err=%v, want ErrNotFound", err)
		}
	})
}
