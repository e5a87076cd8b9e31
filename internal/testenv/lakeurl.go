package testenv

import (
	"path/filepath"
	"testing"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/store/storeurl"
)

// Lake is a new, empty lake as a process addresses it: its store, its URL
// (the lake command's --lake, LAKE_URL) and the environment variables a
// process needs besides to reach it (storeurl.Open's, for S3).
type Lake struct {
	Store store.Store
	URL   string
	Env   []string
}

// LakeURLs are the backends of Lakes, opened with their URL: a temporary
// folder, and a fresh bucket of the test S3 server under the prefix lake.
var LakeURLs = []struct {
	Name string
	Open func(t *testing.T) Lake
}{
	{"file", func(t *testing.T) Lake {
		dir := filepath.Join(t.TempDir(), "lake")
		st, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return Lake{Store: st, URL: "file://" + dir}
	}},
	{"s3", func(t *testing.T) Lake {
		cfg := S3(t)
		st, err := s3store.New(t.Context(), cfg.Options("lake"))
		if err != nil {
			t.Fatal(err)
		}
		return Lake{Store: st, URL: "s3://" + cfg.Bucket + "/lake", Env: cfg.Env()}
	}},
}

// Env is the environment that lets storeurl.Open (the lake command, a
// task's configuration) reach the bucket: the endpoint and credentials.
func (c S3Config) Env() []string {
	return []string{
		storeurl.EnvS3Endpoint + "=" + c.Endpoint,
		"AWS_ACCESS_KEY_ID=" + c.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretKey,
		"AWS_REGION=" + c.Region,
	}
}
