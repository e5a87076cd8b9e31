package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

// RunFaults runs the fault conformance suite against a backend that talks
// HTTP: every transient failure of a request (503 SlowDown, a reset before
// the response or in the middle of a body, a body cut short, a silent
// connection) must come back as a *store.StoreUnavailableError from every
// read path (Get, GetRange, NewReaderAt) and every write path (Put in one
// request and in parts, Copy), and a failed write must publish nothing.
// Faults the backend's client absorbs (latency shorter than its read
// timeout, one reset it retries) must change nothing.
//
// newStore returns a fresh, empty store whose every request goes through
// the proxy it returns; readTimeout is how long the store lets a connection
// stay silent before it gives up (the suite injects latency above and below
// it).
func RunFaults(t *testing.T, readTimeout time.Duration, newStore func(t *testing.T) (store.Store, *faultproxy.Proxy)) {
	t.Run("Reads", func(t *testing.T) {
		t.Parallel()
		testFaultyReads(t, readTimeout, newStore)
	})
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, s store.Store, p *faultproxy.Proxy)
	}{
		{"Put", testFaultyPut},
		{"PutInParts", testFaultyPutInParts},
		{"Copy", testFaultyCopy},
		{"Metadata", testFaultyMetadata},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, p := newStore(t)
			tt.fn(t, s, p)
		})
	}
}

// inject puts f in place for the rest of t, or fails t.
func inject(t *testing.T, p *faultproxy.Proxy, f faultproxy.Fault) *faultproxy.Injected {
	t.Helper()
	in, err := p.Inject(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Remove(in) })
	return in
}

// wantUnavailable fails t unless err is a *store.StoreUnavailableError for
// op on key.
func wantUnavailable(t *testing.T, what string, err error, op, key string) {
	t.Helper()
	var su *store.StoreUnavailableError
	if !errors.As(err, &su) {
		t.Errorf("%s: err=%v (%T), want a *store.StoreUnavailableError", what, err, err)
		return
	}
	if su.Op != op || su.Key != key {
		t.Errorf("%s: StoreUnavailableError for %s %q, want %s %q", what, su.Op, su.Key, op, key)
	}
}

// readFault is a fault on the GET requests of one object and what the
// read must give: its content, or a *store.StoreUnavailableError.
type readFault struct {
	description string
	fault       faultproxy.Fault
	unavailable bool
}

func readFaults(readTimeout time.Duration) []readFault {
	const cut = 1000 // body bytes relayed before a fault in the middle of a body
	return []readFault{
		{"503 SlowDown on every attempt", faultproxy.Fault{Action: faultproxy.SlowDown}, true},
		{"reset before the response on every attempt", faultproxy.Fault{Action: faultproxy.ResetBeforeResponse}, true},
		{"reset in the middle of the body", faultproxy.Fault{Action: faultproxy.ResetMidBody, Bytes: cut, Times: 1}, true},
		{"body cut short of its Content-Length", faultproxy.Fault{Action: faultproxy.CloseMidBody, Bytes: cut, Times: 1}, true},
		{"no answer within the read timeout", faultproxy.Fault{Action: faultproxy.Latency, Delay: 3 * readTimeout}, true},
		{"body stalls past the read timeout", faultproxy.Fault{Action: faultproxy.Latency, Bytes: cut, Delay: 3 * readTimeout, Times: 1}, true},
		{"one reset before the response (the client retries)", faultproxy.Fault{Action: faultproxy.ResetBeforeResponse, Times: 1}, false},
		{"one 503 SlowDown (the client retries)", faultproxy.Fault{Action: faultproxy.SlowDown, Times: 1}, false},
		{"latency below the read timeout", faultproxy.Fault{Action: faultproxy.Latency, Delay: readTimeout / 4}, false},
		{"body slows down below the read timeout", faultproxy.Fault{Action: faultproxy.Latency, Bytes: cut, Delay: readTimeout / 4}, false},
	}
}

// readPath reads part of the object at key and returns what it read and
// the first error of opening, reading or closing it.
type readPath struct {
	name string
	// resumes says the path resumes a read whose body failed once (a
	// fault in the middle of a body with Times set), as store.NewReaderAt
	// does, instead of returning the failure.
	resumes bool
	want    func(content []byte) []byte
	read    func(ctx context.Context, s store.Store, key string, size int64) ([]byte, error)
}

// readAll reads rc to the end and closes it, returning the first error.
func readAll(rc io.ReadCloser) ([]byte, error) {
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}

var readPaths = []readPath{
	{
		name: "Get",
		want: func(c []byte) []byte { return c },
		read: func(ctx context.Context, s store.Store, key string, _ int64) ([]byte, error) {
			rc, _, err := s.Get(ctx, key)
			if err != nil {
				return nil, err
			}
			return readAll(rc)
		},
	},
	{
		name: "GetRange",
		want: func(c []byte) []byte { return c[100 : len(c)-100] },
		read: func(ctx context.Context, s store.Store, key string, size int64) ([]byte, error) {
			rc, err := s.GetRange(ctx, key, 100, size-200)
			if err != nil {
				return nil, err
			}
			return readAll(rc)
		},
	},
	{
		// one read larger than the read-ahead block: one range request
		name:    "ReaderAt/large",
		resumes: true,
		want:    func(c []byte) []byte { return c[10:] },
		read: func(ctx context.Context, s store.Store, key string, size int64) ([]byte, error) {
			p := make([]byte, size-10)
			n, err := store.NewReaderAt(ctx, s, key, size).ReadAt(p, 10)
			return p[:n], err
		},
	},
	{
		// a footer-sized read: served from a cached block
		name:    "ReaderAt/small",
		resumes: true,
		want:    func(c []byte) []byte { return c[len(c)-16:] },
		read: func(ctx context.Context, s store.Store, key string, size int64) ([]byte, error) {
			p := make([]byte, 16)
			n, err := store.NewReaderAt(ctx, s, key, size).ReadAt(p, size-16)
			return p[:n], err
		},
	},
}

func testFaultyReads(t *testing.T, readTimeout time.Duration, newStore func(t *testing.T) (store.Store, *faultproxy.Proxy)) {
	const key = "bronze/landing/orders/faulty.parquet"
	const size = 3<<20 + 777
	content, _ := io.ReadAll(randomBytes(7, size))
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel() // most of the time goes to waiting out faults
			s, p := newStore(t)
			put(t, s, key, content)
			for _, tt := range readFaults(readTimeout) {
				t.Run(tt.description, func(t *testing.T) {
					f := tt.fault
					f.Method, f.Path = "GET", "/"+key+"$"
					in := inject(t, p, f)
					got, err := path.read(t.Context(), s, key, size)
					if in.Hits() == 0 {
						t.Fatalf("the fault was not hit (%d matching requests)", in.Matched())
					}
					if tt.unavailable && !(path.resumes && tt.fault.Times > 0 && tt.fault.Bytes > 0) {
						wantUnavailable(t, path.name, err, "get", key)
					} else if err != nil {
						t.Errorf("%s: %v, want the content", path.name, err)
					} else if !bytes.Equal(got, path.want(content)) {
						t.Errorf("%s: %d bytes differ from the object's", path.name, len(got))
					}
					// once the fault is gone, the same read gives the content
					p.Remove(in)
					got, err = path.read(t.Context(), s, key, size)
					if err != nil || !bytes.Equal(got, path.want(content)) {
						t.Errorf("%s after the fault: %d bytes, err=%v; want the content", path.name, len(got), err)
					}
				})
			}
		})
	}
	t.Run("ReaderAt/cache not poisoned", func(t *testing.T) {
		t.Parallel()
		s, p := newStore(t)
		put(t, s, key, content)
		r := store.NewReaderAt(t.Context(), s, key, size)
		in := inject(t, p, faultproxy.Fault{Method: "GET", Path: "/" + key + "$", Action: faultproxy.ResetMidBody, Bytes: 1000})
		buf := make([]byte, 16)
		_, err := r.ReadAt(buf, size-16)
		if in.Hits() == 0 {
			t.Fatalf("the fault was not hit")
		}
		wantUnavailable(t, "ReadAt during resets", err, "get", key)
		p.Remove(in)
		for _, off := range []int64{size - 16, size - 1<<20} { // the failed block, read again
			n, err := r.ReadAt(buf, off)
			if err != nil || !bytes.Equal(buf[:n], content[off:off+16]) {
				t.Errorf("ReadAt(16 bytes at %d) after the fault: err=%v, wrong or missing bytes", off, err)
			}
		}
	})
}

// putFault is a fault on the requests that write one object.
type putFault struct {
	description string
	fault       faultproxy.Fault
	unavailable bool
}

// checkPutFault writes content at key (with opts) under the fault and
// checks the outcome: a *store.StoreUnavailableError and the previous
// version untouched, or the new content in place.
func checkPutFault(t *testing.T, s store.Store, p *faultproxy.Proxy, key string, tt putFault, content func() io.Reader, want []byte) {
	t.Helper()
	before := put(t, s, key, []byte("previous version"))
	in := inject(t, p, tt.fault)
	_, err := s.Put(t.Context(), key, content(), nil)
	p.Remove(in)
	if in.Hits() == 0 {
		t.Fatalf("the fault was not hit (%d matching requests)", in.Matched())
	}
	got, info := get(t, s, key)
	if tt.unavailable {
		wantUnavailable(t, "Put", err, "put", key)
		if info.ETag != before.ETag || string(got) != "previous version" {
			t.Errorf("after the failed Put: %d bytes, ETag %q; want the previous version untouched (ETag %q)", len(got), info.ETag, before.ETag)
		}
	} else {
		if err != nil {
			t.Errorf("Put: %v, want success", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("after the Put: %d bytes differ from the %d written", len(got), len(want))
		}
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{key}) {
		t.Errorf("List after the Put=%q, want [%q]", got, key)
	}
}

func testFaultyPut(t *testing.T, s store.Store, p *faultproxy.Proxy) {
	const key = "_meta/state.json"
	content := []byte(strings.Repeat(`{"watermark":"2024-01-01"}`, 40))
	object := "/" + key + "$"
	tests := []putFault{
		{"503 SlowDown on every attempt", faultproxy.Fault{Method: "PUT", Path: object, Action: faultproxy.SlowDown}, true},
		{"reset before the response on every attempt", faultproxy.Fault{Method: "PUT", Path: object, Action: faultproxy.ResetBeforeResponse}, true},
		{"one reset before the response (the client retries)", faultproxy.Fault{Method: "PUT", Path: object, Action: faultproxy.ResetBeforeResponse, Times: 1}, false},
		{"one reset after the server wrote it (the client retries)", faultproxy.Fault{Method: "PUT", Path: object, Action: faultproxy.ResetBeforeResponse, Forward: true, Times: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			checkPutFault(t, s, p, key, tt, func() io.Reader { return bytes.NewReader(content) }, content)
		})
	}
}

func testFaultyPutInParts(t *testing.T, s store.Store, p *faultproxy.Proxy) {
	const key = "silver/staging/orders/large.parquet"
	const size = 9<<20 + 1 // more than one S3 part
	want, _ := io.ReadAll(randomBytes(8, size))
	object := "/" + key + "$"
	tests := []putFault{
		{"part upload reset on every attempt", faultproxy.Fault{Method: "PUT", Path: object, Query: "partNumber=", Nth: 2, Action: faultproxy.ResetBeforeResponse}, true},
		{"part upload answered 503 on every attempt", faultproxy.Fault{Method: "PUT", Path: object, Query: "partNumber=", Action: faultproxy.SlowDown}, true},
		{"completion answered 503 on every attempt", faultproxy.Fault{Method: "POST", Path: object, Query: "uploadId=", Action: faultproxy.SlowDown}, true},
		{"one part upload reset (the client retries)", faultproxy.Fault{Method: "PUT", Path: object, Query: "partNumber=", Nth: 2, Times: 1, Action: faultproxy.ResetBeforeResponse}, false},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			checkPutFault(t, s, p, key, tt, func() io.Reader { return unsized{randomBytes(8, size)} }, want)
		})
	}
}

func testFaultyCopy(t *testing.T, s store.Store, p *faultproxy.Proxy) {
	const src, dst = "bronze/landing/orders/a.parquet", "archive/orders/a.parquet"
	content, _ := io.ReadAll(randomBytes(9, 2<<20+5))
	put(t, s, src, content)
	tests := []struct {
		description string
		fault       faultproxy.Fault
		streamed    bool // through the caller, not server-side
	}{
		{"streamed: source reset in the middle of its body", faultproxy.Fault{Method: "GET", Path: "/" + src + "$", Action: faultproxy.ResetMidBody, Bytes: 1 << 20, Times: 1}, true},
		{"streamed: source cut short of its Content-Length", faultproxy.Fault{Method: "GET", Path: "/" + src + "$", Action: faultproxy.CloseMidBody, Bytes: 1 << 20, Times: 1}, true},
		{"streamed: destination answered 503 on every attempt", faultproxy.Fault{Method: "PUT", Path: "/" + dst + "$", Action: faultproxy.SlowDown}, true},
		{"destination answered 503 on every attempt", faultproxy.Fault{Method: "PUT", Path: "/" + dst + "$", Action: faultproxy.SlowDown}, false},
		{"reset before the answer on every attempt", faultproxy.Fault{Method: "PUT", Path: "/" + dst + "$", Action: faultproxy.ResetBeforeResponse}, false},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			var from store.Store = s
			if tt.streamed {
				from = struct{ store.Store }{s} // hides the backend: no server-side copy
			}
			in := inject(t, p, tt.fault)
			_, err := store.Copy(t.Context(), s, dst, from, src, "")
			p.Remove(in)
			if in.Hits() == 0 {
				t.Fatalf("the fault was not hit (%d matching requests)", in.Matched())
			}
			var su *store.StoreUnavailableError
			if !errors.As(err, &su) {
				t.Errorf("Copy: err=%v, want a *store.StoreUnavailableError", err)
			}
			if _, err := s.Stat(t.Context(), dst); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Stat(%q) after the failed Copy: err=%v, want ErrNotFound (nothing published)", dst, err)
			}
		})
	}
}

func testFaultyMetadata(t *testing.T, s store.Store, p *faultproxy.Proxy) {
	const key = "_meta/routed/orders/x.json"
	put(t, s, key, []byte("{}"))
	tests := []struct {
		description string
		fault       faultproxy.Fault
		op          func(ctx context.Context) error
		opName, arg string
	}{
		{"Stat answered 503", faultproxy.Fault{Method: "HEAD", Action: faultproxy.SlowDown},
			func(ctx context.Context) error { _, err := s.Stat(ctx, key); return err }, "stat", key},
		{"Delete reset before the response", faultproxy.Fault{Method: "DELETE", Action: faultproxy.ResetBeforeResponse},
			func(ctx context.Context) error { return s.Delete(ctx, key) }, "delete", key},
		{"List reset in the middle of its body", faultproxy.Fault{Method: "GET", Query: "list-type=", Action: faultproxy.ResetMidBody, Bytes: 20},
			func(ctx context.Context) error { return listErr(ctx, s, "_meta/") }, "list", "_meta/"},
		{"List cut short of its Content-Length", faultproxy.Fault{Method: "GET", Query: "list-type=", Action: faultproxy.CloseMidBody, Bytes: 20},
			func(ctx context.Context) error { return listErr(ctx, s, "_meta/") }, "list", "_meta/"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			in := inject(t, p, tt.fault)
			err := tt.op(t.Context())
			p.Remove(in)
			if in.Hits() == 0 {
				t.Fatalf("the fault was not hit (%d matching requests)", in.Matched())
			}
			wantUnavailable(t, tt.description, err, tt.opName, tt.arg)
		})
	}
	if got, _ := get(t, s, key); string(got) != "{}" {
		t.Errorf("%q after the faults: %q, want {}", key, got)
	}
}

// listErr lists prefix to the end and returns the error that ended it.
func listErr(ctx context.Context, s store.Store, prefix string) error {
	for _, err := range s.List(ctx, prefix) {
		if err != nil {
			return err
		}
	}
	return nil
}
