package testenv

import (
	"testing"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
)

// Lakes are the backends a lake can be in, for tests that run over each:
// Open returns a new, empty lake in a temporary folder, or in a fresh
// bucket of the test S3 server under the prefix lakes/test.
var Lakes = []struct {
	Name string
	Open func(t *testing.T) store.Store
}{
	{"file", func(t *testing.T) store.Store {
		lake, err := filestore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lake.Close() })
		return lake
	}},
	{"s3", func(t *testing.T) store.Store {
		lake, err := s3store.New(t.Context(), S3(t).Options("lakes/test"))
		if err != nil {
			t.Fatal(err)
		}
		return lake
	}},
}
