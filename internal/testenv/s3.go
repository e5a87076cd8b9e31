package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

// S3Config addresses one bucket on the test S3 server (versitygw).
type S3Config struct {
	Endpoint  string // e.g. http://127.0.0.1:7070; path-style addressing
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
}

// Client returns an S3 client for the server, with path-style addressing.
func (c S3Config) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       c.Region,
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
	})
}

// Options returns s3store options for the bucket, under prefix (may be
// empty): s3store.New(ctx, cfg.Options("lake")) opens it as a lake.
func (c S3Config) Options(prefix string) s3store.Options {
	return s3store.Options{
		Bucket:    c.Bucket,
		Prefix:    prefix,
		Region:    c.Region,
		Endpoint:  c.Endpoint,
		PathStyle: true,
		AccessKey: c.AccessKey,
		SecretKey: c.SecretKey,
	}
}

var (
	s3Once   sync.Once
	s3Server S3Config // all but Bucket
	s3Err    error
)

// S3Server returns the test S3 server's address and credentials (Bucket
// empty): from LAKE_TEST_S3_ENDPOINT, LAKE_TEST_S3_ACCESS_KEY,
// LAKE_TEST_S3_SECRET_KEY and LAKE_TEST_S3_REGION (default us-east-1) when
// the endpoint is set, else a versitygw started once per test process with
// scripts/versitygw.sh (and stopped by Main).
func S3Server() (S3Config, error) {
	s3Once.Do(func() {
		if e := os.Getenv("LAKE_TEST_S3_ENDPOINT"); e != "" {
			s3Server = S3Config{
				Endpoint:  e,
				Region:    os.Getenv("LAKE_TEST_S3_REGION"),
				AccessKey: os.Getenv("LAKE_TEST_S3_ACCESS_KEY"),
				SecretKey: os.Getenv("LAKE_TEST_S3_SECRET_KEY"),
			}
			if s3Server.Region == "" {
				s3Server.Region = "us-east-1"
			}
			return
		}
		s3Server, s3Err = startS3()
	})
	return s3Server, s3Err
}

func startS3() (S3Config, error) {
	vars, err := startService("versitygw.sh", "LAKE_TEST_S3_DIR",
		"LAKE_TEST_S3_ENDPOINT", "LAKE_TEST_S3_REGION", "LAKE_TEST_S3_ACCESS_KEY", "LAKE_TEST_S3_SECRET_KEY")
	if err != nil {
		return S3Config{}, err
	}
	return S3Config{
		Endpoint:  vars["LAKE_TEST_S3_ENDPOINT"],
		Region:    vars["LAKE_TEST_S3_REGION"],
		AccessKey: vars["LAKE_TEST_S3_ACCESS_KEY"],
		SecretKey: vars["LAKE_TEST_S3_SECRET_KEY"],
	}, nil
}

// S3 returns a fresh, empty bucket on the test S3 server, emptied and
// removed when t ends. When the server cannot be started or reached it
// calls Unavailable.
func S3(t testing.TB) S3Config {
	t.Helper()
	cfg, err := S3Server()
	if err != nil {
		Unavailable(t, "S3 (versitygw)", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	cfg.Bucket = "test-" + hex.EncodeToString(b[:])
	client := cfg.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket}); err != nil {
		Unavailable(t, "S3 (versitygw)", fmt.Errorf("create bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeBucket(ctx, client, cfg.Bucket); err != nil {
			t.Errorf("testenv: remove bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

// removeBucket aborts the bucket's multipart uploads, deletes its objects
// and then the bucket.
func removeBucket(ctx context.Context, client *s3.Client, bucket string) error {
	uploads, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	for _, u := range uploads.Uploads {
		if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
			return err
		}
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, obj := range page.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: obj.Key}); err != nil {
				return err
			}
		}
	}
	_, err = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	return err
}

// ThroughProxy starts a fault-injecting proxy in front of c's server,
// stopped when t ends, and returns c addressed through it together with
// the proxy: faults injected into the proxy hit every client made from
// the returned config.
func (c S3Config) ThroughProxy(t testing.TB) (S3Config, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.Start(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c.Endpoint = p.URL()
	return c, p
}
