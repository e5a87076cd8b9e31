// Package storeurl opens a lake's object store from its URL (the lake
// command's --lake flag, LAKE_URL, a Lambda's configuration):
//
//	file://DIR                 a local folder, relative or absolute, created if missing
//	s3://BUCKET[/PREFIX]       an S3 bucket, optionally under a key prefix
//
// For s3:// the SDK's default configuration applies (AWS_REGION,
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE,
// the Lambda role). LAKE_S3_ENDPOINT points it at an S3-compatible server
// instead of AWS and turns on path-style addressing, which
// LAKE_S3_PATH_STYLE=false turns off again.
package storeurl

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
)

// Environment variables read by Open for s3:// URLs.
const (
	EnvS3Endpoint  = "LAKE_S3_ENDPOINT"
	EnvS3PathStyle = "LAKE_S3_PATH_STYLE"
)

// Open returns the store that rawURL names. It does not contact S3.
func Open(ctx context.Context, rawURL string) (store.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("storeurl: lake URL %q: want file://DIR or s3://BUCKET[/PREFIX]", rawURL)
	}
	switch scheme {
	case filestore.Scheme:
		if rest == "" {
			return nil, fmt.Errorf("storeurl: lake URL %q: no folder", rawURL)
		}
		s, err := filestore.New(rest)
		if err != nil {
			return nil, fmt.Errorf("storeurl: lake URL %q: %w", rawURL, err)
		}
		return s, nil
	case s3store.Scheme:
		opts, err := s3Options(rest)
		if err != nil {
			return nil, fmt.Errorf("storeurl: lake URL %q: %w", rawURL, err)
		}
		s, err := s3store.New(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("storeurl: lake URL %q: %w", rawURL, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("storeurl: lake URL %q: unsupported scheme %q: want file://DIR or s3://BUCKET[/PREFIX]", rawURL, scheme)
}

// s3Options parses BUCKET[/PREFIX] and the environment.
func s3Options(rest string) (s3store.Options, error) {
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return s3store.Options{}, fmt.Errorf("no bucket")
	}
	if strings.ContainsAny(bucket, "?#@:") {
		return s3store.Options{}, fmt.Errorf("bucket %q: not a bucket name (query strings, ports and credentials do not belong in the URL)", bucket)
	}
	opts := s3store.Options{Bucket: bucket, Prefix: prefix, Endpoint: os.Getenv(EnvS3Endpoint)}
	opts.PathStyle = opts.Endpoint != ""
	if v := os.Getenv(EnvS3PathStyle); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s3store.Options{}, fmt.Errorf("%s=%q: want true or false", EnvS3PathStyle, v)
		}
		opts.PathStyle = b
	}
	return opts, nil
}
