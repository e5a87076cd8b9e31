package localcatalog_test

import (
	"testing"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/catalogtest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestConformanceFileStore(t *testing.T) {
	catalogtest.Run(t, catalogtest.Options{AtomicUpdates: true}, func(t *testing.T) catalog.Catalog {
		s, err := filestore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return localcatalog.New(s)
	})
}

// TestConformanceS3 keeps the catalog in a bucket of the S3-compatible
// test server, where the version checks are S3's conditional writes
// (If-None-Match, If-Match).
func TestConformanceS3(t *testing.T) {
	catalogtest.Run(t, catalogtest.Options{AtomicUpdates: true}, func(t *testing.T) catalog.Catalog {
		cfg := testenv.S3(t)
		s, err := s3store.New(t.Context(), s3store.Options{Bucket: cfg.Bucket, Prefix: "lake", Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: true, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return localcatalog.New(s)
	})
}
