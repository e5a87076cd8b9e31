// Package s3store is the store backend for a lake in Amazon S3 or an
// S3-compatible server (s3://BUCKET[/PREFIX]), built on aws-sdk-go-v2.
//
// How it keeps the store.Store contract:
//
//   - Atomic writes: S3 publishes an object only when its PutObject or
//     CompleteMultipartUpload succeeds. Put streams with bounded memory:
//     up to one part (8 MiB by default) goes up in one PutObject; anything
//     longer is a multipart upload of parts of that size, at most 2 in
//     flight, aborted on any error.
//   - Conditional writes use S3's If-None-Match: * and If-Match: ETag on
//     PutObject and CompleteMultipartUpload. 412 PreconditionFailed and 409
//     ConditionalRequestConflict become store.ErrPreconditionFailed.
//   - 404 becomes store.ErrNotFound. Throttling, 5xx, timeouts and network
//     errors, once the SDK's own retries are used up, become
//     *store.StoreUnavailableError, which the state machine retries.
//   - The body of Get and GetRange is read after the SDK has returned, so
//     its own retries do not cover it: every failure to read it (a reset,
//     a timeout, a body shorter than its Content-Length) is a
//     *store.StoreUnavailableError from Read or Close, never a plain error
//     that a reader would take for bad content. Only the caller's own
//     cancellation is not.
//   - A connection that delivers nothing for Options.ReadTimeout fails
//     (a timeout, hence retried): a half-open connection does not hang a
//     step until its Lambda times out.
//   - The prefix is put before every key and stripped from listed keys.
//     Keys that a Store cannot address (folder markers ending in "/",
//     objects written by other tools with hostile names) are not listed.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/medallionlake/lake/internal/store"
)

// Scheme is the URL scheme of this backend.
const Scheme = "s3"

var _ store.Store = (*Store)(nil)

const (
	// DefaultPartSize is the multipart part size when Options.PartSize is 0.
	DefaultPartSize = 8 << 20
	// minPartSize is S3's smallest part size (but for the last part).
	minPartSize = 5 << 20
	// smallObject is how much Put reads before it takes a part buffer.
	smallObject = 64 << 10
	// uploadConcurrency is the number of parts uploaded at once; Put holds
	// at most uploadConcurrency+1 part buffers.
	uploadConcurrency = 2
	// DefaultReadTimeout is Options.ReadTimeout when it is 0: the SDK's
	// own default for the services it sets one for. It also bounds how
	// long a part upload may take before its answer (the connection is
	// silent meanwhile): 8 MiB at 28 KB/s.
	DefaultReadTimeout = 5 * time.Minute
)

// Options configure a Store.
type Options struct {
	Bucket string
	// Prefix, when set, is the lake root inside the bucket: a key k is
	// stored as Prefix/k. Leading and trailing slashes are ignored.
	Prefix string
	// Region defaults to the SDK's (AWS_REGION, the shared config), and to
	// us-east-1 when neither is set.
	Region string
	// Endpoint overrides the S3 endpoint, e.g. http://127.0.0.1:7070 for
	// an S3-compatible server.
	Endpoint string
	// PathStyle addresses buckets as ENDPOINT/BUCKET instead of
	// BUCKET.ENDPOINT; most S3-compatible servers need it.
	PathStyle bool
	// AccessKey and SecretKey, when both set, are static credentials;
	// otherwise the SDK's default credential chain is used.
	AccessKey, SecretKey string
	// PartSize is the multipart part size (at least 5 MiB); 0 means
	// DefaultPartSize.
	PartSize int64
	// ReadTimeout is how long a connection may deliver nothing, while the
	// client waits for an answer or reads a body, before the request fails
	// as a timeout; 0 means DefaultReadTimeout.
	ReadTimeout time.Duration
}

// Store is a lake in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize int64
	parts    sync.Pool // of *[]byte, partSize long
}

// New returns a Store for opts. It does not contact the server.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("s3store: no bucket")
	}
	prefix := strings.Trim(opts.Prefix, "/")
	if prefix != "" {
		if err := store.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("s3store: prefix: %w", err)
		}
		prefix += "/"
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize {
		return nil, fmt.Errorf("s3store: part size %d is below S3's minimum of %d", partSize, minPartSize)
	}
	readTimeout := opts.ReadTimeout
	if readTimeout == 0 {
		readTimeout = DefaultReadTimeout
	}
	loadOpts := []func(*config.LoadOptions) error{
		// The state machine retries *store.StoreUnavailableError itself; a
		// client-side retry quota would only turn an outage into a less
		// clear error.
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
		}),
		// The SDK sets no read timeout for S3: a silent connection would
		// block a read for ever.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithReadTimeout(readTimeout)),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.AccessKey != "" && opts.SecretKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		// range reads and S3-compatible servers often send no checksum;
		// the SDK would log that on every GetObject
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	s := &Store{client: client, bucket: opts.Bucket, prefix: prefix, partSize: partSize}
	s.parts.New = func() any { b := make([]byte, partSize); return &b }
	return s, nil
}

// URL is the lake's URL, s3://BUCKET[/PREFIX], as storeurl opens it.
func (s *Store) URL() string {
	return "s3://" + path.Join(s.bucket, strings.TrimSuffix(s.prefix, "/"))
}

// Client is the underlying S3 client, for what the Store interface does
// not cover (creating buckets in tests, presigning).
func (s *Store) Client() *s3.Client { return s.client }

// objectKey validates key and returns the S3 key for it.
func (s *Store) objectKey(key string) (string, error) {
	if err := store.ValidateKey(key); err != nil {
		return "", err
	}
	full := s.prefix + key
	if len(full) > 1024 {
		return "", fmt.Errorf("store: key %q: longer than 1024 bytes with the prefix %q: %w", key, s.prefix, store.ErrInvalidKey)
	}
	return full, nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	full, err := s.objectKey(key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if opts == nil {
		opts = &store.PutOptions{}
	}
	// Most objects the lake writes are small (state, reports): read a
	// little first, and take a part buffer only for more.
	small := make([]byte, smallObject)
	n, end, err := fill(r, small)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: read: %w", key, err)
	}
	if end {
		return s.putSingle(ctx, key, full, small[:n], opts)
	}
	bufp := s.parts.Get().(*[]byte)
	copy(*bufp, small)
	m, end, err := fill(r, (*bufp)[n:])
	switch {
	case err != nil:
		s.parts.Put(bufp)
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: read: %w", key, err)
	case end:
		defer s.parts.Put(bufp)
		return s.putSingle(ctx, key, full, (*bufp)[:n+m], opts)
	}
	return s.putMultipart(ctx, key, full, bufp, r, opts)
}

// fill reads from r until p is full or r ends, and reports whether it
// ended. Unlike io.ReadFull it never turns a read error into a short
// read: a source failing with io.ErrUnexpectedEOF (a body cut short) is
// an error, not the end of the object.
func fill(r io.Reader, p []byte) (n int, end bool, err error) {
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

func (s *Store) putSingle(ctx context.Context, key, full string, body []byte, opts *store.PutOptions) (store.ObjectInfo, error) {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &full,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		in.IfMatch = &opts.IfMatch
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return store.ObjectInfo{}, s.mapPutErr(ctx, key, opts, err)
	}
	return store.ObjectInfo{Key: key, Size: int64(len(body)), ETag: aws.ToString(out.ETag), ModTime: responseTime(out.ResultMetadata)}, nil
}

// putMultipart uploads first (a full part) and the rest of r as a
// multipart upload, and completes it with opts' conditions.
func (s *Store) putMultipart(ctx context.Context, key, full string, first *[]byte, r io.Reader, opts *store.PutOptions) (info store.ObjectInfo, err error) {
	create := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &full}
	if opts.ContentType != "" {
		create.ContentType = &opts.ContentType
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		s.parts.Put(first)
		return store.ObjectInfo{}, s.mapErr(ctx, "put", key, err)
	}
	defer func() {
		if err != nil {
			// a detached context: the upload must go even if ctx is done
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &full, UploadId: up.UploadId})
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		size  int64
	)
	next, nextLen := first, len(*first)
	for number := int32(1); ; number++ {
		bufp, n := next, nextLen
		size += int64(n)
		g.Go(func() error {
			defer s.parts.Put(bufp)
			out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           &full,
				UploadId:      up.UploadId,
				PartNumber:    aws.Int32(number),
				Body:          bytes.NewReader((*bufp)[:n]),
				ContentLength: aws.Int64(int64(n)),
			})
			if err != nil {
				return err
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{
				PartNumber: aws.Int32(number),
				ETag:       out.ETag,
			})
			mu.Unlock()
			return nil
		})
		if n < len(*bufp) || gctx.Err() != nil {
			break // that was the last part, or an upload failed
		}
		next = s.parts.Get().(*[]byte)
		var (
			end  bool
			rerr error
		)
		nextLen, end, rerr = fill(r, *next)
		if rerr != nil {
			s.parts.Put(next)
			g.Wait()
			return store.ObjectInfo{}, fmt.Errorf("store: put %q: read: %w", key, rerr)
		}
		if end && nextLen == 0 {
			s.parts.Put(next)
			break
		}
	}
	if err := g.Wait(); err != nil {
		return store.ObjectInfo{}, s.mapErr(ctx, "put", key, err)
	}
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &full,
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if opts.IfNoneMatch {
		complete.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		complete.IfMatch = &opts.IfMatch
	}
	out, err := s.client.CompleteMultipartUpload(ctx, complete)
	if err != nil {
		return store.ObjectInfo{}, s.mapPutErr(ctx, key, opts, err)
	}
	return store.ObjectInfo{Key: key, Size: size, ETag: aws.ToString(out.ETag), ModTime: responseTime(out.ResultMetadata)}, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	full, err := s.objectKey(key)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &full})
	if err != nil {
		return nil, store.ObjectInfo{}, s.mapErr(ctx, "get", key, err)
	}
	return &body{rc: out.Body, ctx: ctx, key: key}, store.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    aws.ToString(out.ETag),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// GetRange implements store.Store.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	full, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("store: get %q: negative offset %d", key, offset)
	}
	if length == 0 { // no HTTP range is empty: check that the object exists
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	rng := fmt.Sprintf("bytes=%d-", offset)
	if length > 0 {
		rng += fmt.Sprint(offset + length - 1)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &full, Range: &rng})
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// the object exists (a missing one is a 404) and ends before offset
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, s.mapErr(ctx, "get", key, err)
	}
	return &body{rc: out.Body, ctx: ctx, key: key}, nil
}

// body is a GetObject response body. A failure to read or close it is a
// *store.StoreUnavailableError unless ctx, the caller's, is done: the
// HTTP client reports a reset, a timeout (Options.ReadTimeout) and a body
// that ends before its Content-Length as read errors, and none of them
// says anything about the object. The first error sticks.
type body struct {
	rc  io.ReadCloser
	ctx context.Context
	key string
	err error
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = b.fail(err)
		return n, b.err
	}
	return n, err
}

// Close implements io.Closer.
func (b *body) Close() error {
	if err := b.rc.Close(); err != nil {
		return b.fail(err)
	}
	return nil
}

func (b *body) fail(err error) error {
	if b.ctx.Err() != nil {
		return fmt.Errorf("store: get %q: read: %w", b.key, err)
	}
	return &store.StoreUnavailableError{Op: "get", Key: b.key, Err: fmt.Errorf("read body: %w", err)}
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	full, err := s.objectKey(key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &full})
	if err != nil {
		return store.ObjectInfo{}, s.mapErr(ctx, "stat", key, err)
	}
	return store.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    aws.ToString(out.ETag),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	full, err := s.objectKey(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &full}); err != nil {
		if err := s.mapErr(ctx, "delete", key, err); !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// List implements store.Store, one ListObjectsV2 page (up to 1000 keys) at
// a time.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	return func(yield func(store.ObjectInfo, error) bool) {
		if err := store.ValidatePrefix(prefix); err != nil {
			yield(store.ObjectInfo{}, err)
			return
		}
		pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
			Bucket: &s.bucket,
			Prefix: aws.String(s.prefix + prefix),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(store.ObjectInfo{}, s.mapErr(ctx, "list", prefix, err))
				return
			}
			for _, obj := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(obj.Key), s.prefix)
				if store.ValidateKey(key) != nil {
					continue
				}
				if !yield(store.ObjectInfo{
					Key:     key,
					Size:    aws.ToInt64(obj.Size),
					ETag:    aws.ToString(obj.ETag),
					ModTime: aws.ToTime(obj.LastModified),
				}, nil) {
					return
				}
			}
		}
	}
}

// mapErr turns an SDK error into the store's errors: ErrNotFound,
// ErrPreconditionFailed, *store.StoreUnavailableError, or a wrapped error.
func (s *Store) mapErr(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := httpStatus(err)
	switch {
	case code == "NoSuchKey" || (status == http.StatusNotFound && code != "NoSuchBucket"):
		return fmt.Errorf("store: %s %q: %w: %w", op, key, store.ErrNotFound, err)
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed" || code == "ConditionalRequestConflict":
		return fmt.Errorf("store: %s %q: %w: %w", op, key, store.ErrPreconditionFailed, err)
	case retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary,
		status >= 500, code == "SlowDown", code == "ServiceUnavailable", code == "InternalError",
		errors.Is(err, io.ErrUnexpectedEOF): // a response cut short (the SDK does not retry it)
		return &store.StoreUnavailableError{Op: op, Key: key, Err: err}
	}
	return fmt.Errorf("store: %s %q: %w", op, key, err)
}

// mapPutErr is mapErr for the request that publishes an object: with
// IfMatch, S3 answers 404 NoSuchKey when the object is missing, which the
// Store contract reports as a failed precondition.
func (s *Store) mapPutErr(ctx context.Context, key string, opts *store.PutOptions, err error) error {
	err = s.mapErr(ctx, "put", key, err)
	if opts.IfMatch != "" && errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("store: put %q if-match %q: object missing: %w", key, opts.IfMatch, store.ErrPreconditionFailed)
	}
	return err
}

// httpStatus is the HTTP status of a failed request, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// responseTime is the server's Date header, or the local time.
func responseTime(md middleware.Metadata) time.Time {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

var _ store.Locator = (*Store)(nil)
