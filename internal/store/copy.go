package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotSupported is returned (wrapped) by a Copier that cannot copy from
// the given source store; Copy then streams the bytes instead.
var ErrNotSupported = errors.New("not supported")

// ErrCopyMismatch is returned (wrapped) when a copy's ETag or checksum
// differs from its source's: the copy is not byte for byte.
var ErrCopyMismatch = errors.New("copy differs from its source")

// Copier is implemented by backends that copy an object without moving its
// bytes through the caller (S3's CopyObject and UploadPartCopy).
type Copier interface {
	// CopyObject copies srcKey of src to dstKey of the receiver, only if
	// the source's ETag is ifMatch (any version when empty), and returns
	// the copy's info once it has checked the copy against the source. It
	// returns an error wrapping ErrNotSupported when it cannot copy from
	// src, ErrNotFound for a missing source, ErrPreconditionFailed when the
	// source's ETag is not ifMatch, ErrCopyMismatch when the copy differs.
	CopyObject(ctx context.Context, dstKey string, src Store, srcKey, ifMatch string) (ObjectInfo, error)
}

// NormalizeETag strips the double quotes S3 puts around ETags, so that an
// event's ETag (unquoted) and a HEAD's (quoted) compare equal.
func NormalizeETag(etag string) string { return strings.Trim(etag, `"`) }

// Copy copies the object at srcKey in src to dstKey in dst, byte for
// byte, only if its ETag is ifMatch (any version when empty), and returns
// the copy's info. A dst that is a Copier copies server-side; otherwise
// the bytes are streamed with memory bounded by dst's Put, whatever the
// object's size, and the copy's ETag must equal the source's (both are the
// content's MD5 for the file backend and for single-part S3 objects). It
// fails, leaving dst unchanged, if the source changes mid-copy or a read
// fails. Errors wrap ErrNotFound for a missing source,
// ErrPreconditionFailed for another version, ErrCopyMismatch, or the
// backends' errors (*StoreUnavailableError, ...).
func Copy(ctx context.Context, dst Store, dstKey string, src Store, srcKey, ifMatch string) (ObjectInfo, error) {
	if c, ok := dst.(Copier); ok {
		info, err := c.CopyObject(ctx, dstKey, src, srcKey, ifMatch)
		if !errors.Is(err, ErrNotSupported) {
			return info, err
		}
	}
	rc, srcInfo, err := src.Get(ctx, srcKey)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	defer rc.Close()
	if ifMatch != "" && NormalizeETag(srcInfo.ETag) != NormalizeETag(ifMatch) {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: source ETag is %s, not %s: %w", srcKey, dstKey, srcInfo.ETag, ifMatch, ErrPreconditionFailed)
	}
	// sizeCheck makes a short or long read fail before Put commits, so a
	// truncated copy is never published.
	info, err := dst.Put(ctx, dstKey, &sizeCheck{r: rc, left: srcInfo.Size, key: srcKey}, nil)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	if info.Size != srcInfo.Size || NormalizeETag(info.ETag) != NormalizeETag(srcInfo.ETag) && !strings.Contains(srcInfo.ETag, "-") {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: copy has ETag %s and %d bytes, the source %s and %d: %w",
			srcKey, dstKey, info.ETag, info.Size, srcInfo.ETag, srcInfo.Size, ErrCopyMismatch)
	}
	return info, nil
}

// sizeCheck passes r through and turns a stream that ends before the
// expected size (a short read: retryable) or runs past it (the source
// changed) into an error instead of a clean EOF.
type sizeCheck struct {
	r    io.Reader
	left int64
	key  string
}

func (c *sizeCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	switch {
	case c.left < 0:
		return n, fmt.Errorf("store: %q grew while being copied: %w", c.key, ErrPreconditionFailed)
	case errors.Is(err, io.EOF) && c.left > 0:
		return n, &StoreUnavailableError{Op: "get", Key: c.key, Err: fmt.Errorf("ended %d bytes short while being copied: %w", c.left, io.ErrUnexpectedEOF)}
	}
	return n, err
}
