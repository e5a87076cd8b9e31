package storeurl_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		description string
		url         string
		wantDir     string
	}{
		{"relative with ./", "file://./lake", filepath.Join(dir, "lake")},
		{"relative", "file://lake2/sub", filepath.Join(dir, "lake2", "sub")},
		{"absolute", "file://" + filepath.Join(dir, "abs"), filepath.Join(dir, "abs")},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			s, err := storeurl.Open(t.Context(), tt.url)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			fs, ok := s.(*filestore.Store)
			if !ok {
				t.Fatalf("Open(%q) is a %T, want *filestore.Store", tt.url, s)
			}
			defer fs.Close()
			if got := fs.Dir(); got != tt.wantDir {
				t.Errorf("Open(%q): folder %q, want %q", tt.url, got, tt.wantDir)
			}
			if _, err := os.Stat(tt.wantDir); err != nil {
				t.Errorf("Open(%q) did not create the folder: %v", tt.url, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		description string
		url         string
		wantInErr   string
	}{
		{"no scheme", "./lake", "want file://DIR or s3://BUCKET"},
		{"unknown scheme", "gs://bucket/x", `unsupported scheme "gs"`},
		{"http", "http://example.com/lake", `unsupported scheme "http"`},
		{"no folder", "file://", "no folder"},
		{"no bucket", "s3://", "no bucket"},
		{"no bucket, only prefix", "s3:///prefix", "no bucket"},
		{"port in bucket", "s3://host:9000/bucket", "not a bucket name"},
		{"hostile prefix", "s3://bucket/a/../b", "invalid key"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			_, err := storeurl.Open(t.Context(), tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Open(%q): err=%v, want one containing %q", tt.url, err, tt.wantInErr)
			}
		})
	}
}

// TestOpenS3 opens s3://BUCKET/PREFIX on versitygw through the environment
// that a user would set, and checks that the prefix is where objects land.
func TestOpenS3(t *testing.T) {
	cfg := testenv.S3(t)
	t.Setenv(storeurl.EnvS3Endpoint, cfg.Endpoint)
	t.Setenv("AWS_REGION", cfg.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s, err := storeurl.Open(t.Context(), "s3://"+cfg.Bucket+"/lake/root/")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*s3store.Store); !ok {
		t.Fatalf("Open is a %T, want *s3store.Store", s)
	}
	if _, err := s.Put(t.Context(), "bronze/x", strings.NewReader("x"), nil); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := s.Stat(t.Context(), "bronze/x"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	bucketKey := "lake/root/bronze/x"
	if _, err := cfg.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: &bucketKey}); err != nil {
		t.Errorf("object not at %q in the bucket: %v", bucketKey, err)
	}
	for info, err := range s.List(t.Context(), "") {
		if err != nil || info.Key != "bronze/x" {
			t.Errorf("List: %q, %v; want bronze/x with the prefix stripped", info.Key, err)
		}
	}
	var missing error
	_, missing = s.Stat(t.Context(), "bronze/none")
	if !errors.Is(missing, store.ErrNotFound) {
		t.Errorf("Stat of a missing key: err=%v, want ErrNotFound", missing)
	}
}

func TestOpenS3PathStyleSetting(t *testing.T) {
	t.Setenv(storeurl.EnvS3PathStyle, "sometimes")
	_, err := storeurl.Open(t.Context(), "s3://bucket")
	if err == nil || !strings.Contains(err.Error(), storeurl.EnvS3PathStyle) {
		t.Errorf("Open with %s=sometimes: err=%v, want one naming the variable", storeurl.EnvS3PathStyle, err)
	}
}
