package iamrec

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
)

// Bucket is where a store's objects are in S3.
type Bucket struct {
	// Name is the bucket's name.
	Name string
	// Prefix is the key prefix of the store's root ("" for the bucket's
	// root), as in s3://BUCKET/PREFIX.
	Prefix string
	// KMSKey is the ARN of the bucket's default SSE-KMS key; empty when
	// it has none.
	KMSKey string
	// PartSize is the size from which a Put is a multipart upload (0:
	// s3store.DefaultPartSize, what the Lambdas use).
	PartSize int64
}

// Store returns inner with every call logged to log as the IAM requests it
// makes of S3 in bucket b of account a.
func Store(inner store.Store, b Bucket, a Account, log *Log) store.Store {
	if b.PartSize == 0 {
		b.PartSize = s3store.DefaultPartSize
	}
	return &recStore{inner: inner, b: b, a: a, log: log}
}

type recStore struct {
	inner store.Store
	b     Bucket
	a     Account
	log   *Log
}

var _ store.Store = (*recStore)(nil)

// names are the resources of a call on key (or on the listing prefix key).
func (s *recStore) names(key string) names {
	full := key // as s3store forms it: PREFIX/key
	if p := strings.Trim(s.b.Prefix, "/"); p != "" {
		full = p + "/" + key
	}
	bucket := "arn:" + s.a.Partition + ":s3:::" + s.b.Name
	return names{object: bucket + "/" + full, bucket: bucket, bucketKey: s.b.KMSKey, region: s.a.Region}
}

// read logs a read of key, and the listing permission that a missing key
// needs.
func (s *recStore) read(call, key string, err error) {
	s.log.record(call, key, s.names(key))
	if errors.Is(err, store.ErrNotFound) {
		s.log.record("store.not found", key, s.names(key))
	}
}

// Put implements store.Store.
func (s *recStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	c := &counter{r: r}
	info, err := s.inner.Put(ctx, key, c, opts)
	call := "store.Put"
	if c.n >= s.b.PartSize {
		call = "store.Put multipart"
	}
	s.log.record(call, key, s.names(key))
	return info, err
}

// Get implements store.Store.
func (s *recStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	rc, info, err := s.inner.Get(ctx, key)
	s.read("store.Get", key, err)
	return rc, info, err
}

// GetRange implements store.Store.
func (s *recStore) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := s.inner.GetRange(ctx, key, offset, length)
	s.read("store.GetRange", key, err)
	return rc, err
}

// Stat implements store.Store.
func (s *recStore) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	info, err := s.inner.Stat(ctx, key)
	s.read("store.Stat", key, err)
	return info, err
}

// Delete implements store.Store.
func (s *recStore) Delete(ctx context.Context, key string) error {
	s.log.record("store.Delete", key, s.names(key))
	return s.inner.Delete(ctx, key)
}

// List implements store.Store: the listing is requested when the sequence
// is iterated.
func (s *recStore) List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	return func(yield func(store.ObjectInfo, error) bool) {
		n := s.names(prefix)
		p := n.object[len(n.bucket)+1:]
		n.prefix = &p
		s.log.record("store.List", prefix, n)
		for info, err := range s.inner.List(ctx, prefix) {
			if !yield(info, err) {
				return
			}
		}
	}
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
