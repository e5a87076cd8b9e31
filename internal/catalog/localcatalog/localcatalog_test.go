package localcatalog_test

import (
	"testing"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/catalogtest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/store/filestore"
)

func TestConformance(t *testing.T) {
	catalogtest.Run(t, catalogtest.Options{AtomicUpdates: true}, func(t *testing.T) catalog.Catalog {
		s, err := filestore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return localcatalog.New(s)
	})
}
