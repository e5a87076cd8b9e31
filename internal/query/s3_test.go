package query_test

import (
	"io"
	"testing"

	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestS3Lake queries a lake in a bucket of the S3-compatible test server:
// the tables are mirrored through the store into the cache folder.
func TestS3Lake(t *testing.T) {
	cfg := testenv.S3(t)
	s3, err := s3store.New(t.Context(), s3store.Options{Bucket: cfg.Bucket, Prefix: "lake", Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: true, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	// Build the fixture lake in a folder, copy it to the bucket object by
	// object, and crawl it there.
	local := newLake(t)
	for info, err := range local.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Copy(ctx, s3, info.Key, local, info.Key, ""); err != nil {
			t.Fatal(err)
		}
	}
	crawlLake(t, s3)
	e := open(t, s3, query.Options{CacheDir: t.TempDir()})
	if got, want := run(t, e, format.CSV, `SELECT order_id, status FROM silver.orders_current ORDER BY order_id`), "order_id,status\n1,SHIPPED\n2,PENDING\n3,RETURNED\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	w, _ := format.New(io.Discard, format.CSV)
	if err := e.Query(ctx, `SELECT * FROM discarded.orders, meta.watermarks`, w); err != nil {
		t.Errorf("discarded and meta over S3: %v", err)
	}
}
