package s3store_test

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/store/storetest"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newStore opens a Store on a fresh versitygw bucket, under prefix.
func newStore(t *testing.T, prefix string) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), testenv.S3(t).Options(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, "") })
}

func TestConformanceWithPrefix(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, "lakes/prod") })
}

// TestFaults runs the fault conformance suite with the store's requests
// going through a fault-injecting proxy in front of versitygw.
func TestFaults(t *testing.T) {
	const readTimeout = time.Second // long enough for versitygw on a busy machine
	storetest.RunFaults(t, readTimeout, func(t *testing.T) (store.Store, *faultproxy.Proxy) {
		cfg, p := testenv.S3(t).ThroughProxy(t)
		opts := cfg.Options("lakes/prod")
		opts.ReadTimeout = readTimeout
		s, err := s3store.New(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	})
}

func TestUnreachableIsUnavailable(t *testing.T) {
	s, err := s3store.New(t.Context(), s3store.Options{
		Bucket:    "b",
		Region:    "us-east-1",
		Endpoint:  "http://127.0.0.1:1", // nothing listens on port 1
		PathStyle: true,
		AccessKey: "x",
		SecretKey: "y",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(t.Context(), "k", strings.NewReader("x"), nil)
	var unavailable *store.StoreUnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("Put to a closed port: err=%v (%T), want *store.StoreUnavailableError", err, err)
	}
	if got, want := unavailable.Op, "put"; got != want {
		t.Errorf("Op=%q, want %q", got, want)
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("source broke")
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func TestFailedMultipartIsAborted(t *testing.T) {
	cfg := testenv.S3(t)
	s, err := s3store.New(t.Context(), cfg.Options(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "k", &failingReader{n: 20 << 20}, nil); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	uploads, err := cfg.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &cfg.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(uploads.Uploads); n != 0 {
		t.Errorf("%d multipart uploads left after a failed Put, want 0", n)
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after a failed Put: err=%v, want ErrNotFound", err)
	}
}

// TestPutBoundedMemory streams an object of unknown length, 12 parts long,
// and checks that the heap stays within a few part buffers.
func TestPutBoundedMemory(t *testing.T) {
	s := newStore(t, "")
	const size = 96 << 20
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	info, err := s.Put(t.Context(), "big", io.LimitReader(zeros{}, size), nil)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Errorf("Size=%d, want %d", info.Size, size)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("heap in use grew by at most %d MiB while putting %d MiB", grew>>20, size>>20)
	if limit := int64(48 << 20); grew > limit {
		t.Errorf("heap grew by %d MiB, want at most %d MiB (3 part buffers and the SDK's)", grew>>20, limit>>20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestMissingBucketIsNotMissingObject(t *testing.T) {
	opts := testenv.S3(t).Options("")
	opts.Bucket += "-none"
	s, err := s3store.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Get(t.Context(), "k")
	var unavailable *store.StoreUnavailableError
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.As(err, &unavailable) {
		t.Errorf("Get from a missing bucket: err=%v, want a plain error (not ErrNotFound, not retryable)", err)
	}
	if !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("Get from a missing bucket: err=%v, want it to name NoSuchBucket", err)
	}
}

func TestBadCredentialsAreNotRetried(t *testing.T) {
	opts := testenv.S3(t).Options("")
	opts.SecretKey = "wrong-secret"
	s, err := s3store.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(t.Context(), "k", strings.NewReader("x"), nil)
	var unavailable *store.StoreUnavailableError
	if err == nil || errors.As(err, &unavailable) || errors.Is(err, store.ErrPreconditionFailed) {
		t.Errorf("Put with a wrong secret: err=%v, want a plain error", err)
	}
}

func BenchmarkS3Store(b *testing.B) {
	s, err := s3store.New(b.Context(), testenv.S3(b).Options(""))
	if err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, s)
}
