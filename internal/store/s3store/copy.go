package s3store

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/medallionlake/lake/internal/store"
)

var _ store.Copier = (*Store)(nil)

// maxCopyObject is the largest object CopyObject copies in one request
// (S3's limit is 5 GiB); larger ones are copied in parts.
const maxCopyObject = 5 << 30

// copyPartSize is the part size of a multipart copy.
const copyPartSize = 512 << 20

// CopyObject implements store.Copier: a server-side copy from another
// Store of this backend (any bucket the credentials can read), with the
// source's ETag as the copy's condition (x-amz-copy-source-if-match):
// CopyObject up to 5 GiB, UploadPartCopy of 512 MiB parts beyond. The
// copy is checked against the source: the ETags must match when both are
// the content's MD5 (single-part, not SSE-KMS), else their full-object
// CRC64NVME checksums when the server reports them, else their sizes.
func (s *Store) CopyObject(ctx context.Context, dstKey string, src store.Store, srcKey, ifMatch string) (store.ObjectInfo, error) {
	from, ok := src.(*Store)
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("store: copy to %q: source is not an S3 store: %w", dstKey, store.ErrNotSupported)
	}
	dst, err := s.objectKey(dstKey)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	full, err := from.objectKey(srcKey)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	srcInfo, err := from.head(ctx, srcKey, full)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if ifMatch == "" {
		ifMatch = srcInfo.ETag
	}
	if store.NormalizeETag(srcInfo.ETag) != store.NormalizeETag(ifMatch) {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q: source ETag is %s, not %s: %w", srcKey, srcInfo.ETag, ifMatch, store.ErrPreconditionFailed)
	}
	source := from.bucket + "/" + (&url.URL{Path: full}).EscapedPath()
	cond := `"` + store.NormalizeETag(ifMatch) + `"`
	if srcInfo.Size <= maxCopyObject {
		_, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.bucket, Key: &dst, CopySource: &source, CopySourceIfMatch: &cond,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		})
	} else {
		err = s.copyParts(ctx, dst, source, cond, srcInfo.Size)
	}
	if err != nil {
		return store.ObjectInfo{}, s.mapErr(ctx, "copy", dstKey, err)
	}
	info, err := s.head(ctx, dstKey, dst)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if err := sameContent(srcInfo, info); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	return info.ObjectInfo, nil
}

// copyParts copies an object of size bytes in parts with UploadPartCopy.
func (s *Store) copyParts(ctx context.Context, dst, source, cond string, size int64) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &dst, ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme, ChecksumType: types.ChecksumTypeFullObject})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &dst, UploadId: up.UploadId})
		}
	}()
	n := int((size + copyPartSize - 1) / copyPartSize)
	parts := make([]types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			lo := int64(i) * copyPartSize
			rng := fmt.Sprintf("bytes=%d-%d", lo, min(lo+copyPartSize, size)-1)
			out, err := s.client.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: &dst, UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: &source, CopySourceRange: &rng, CopySourceIfMatch: &cond,
			})
			if err != nil {
				return err
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag, ChecksumCRC64NVME: out.CopyPartResult.ChecksumCRC64NVME}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &dst, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// headInfo is an object's info with its full-object checksum, if any.
type headInfo struct {
	store.ObjectInfo
	crc64 string
}

func (s *Store) head(ctx context.Context, key, full string) (headInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &full, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return headInfo{}, s.mapErr(ctx, "stat", key, err)
	}
	return headInfo{
		ObjectInfo: store.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified)},
		crc64:      aws.ToString(out.ChecksumCRC64NVME),
	}, nil
}

// sameContent checks a copy against its source by what both report.
func sameContent(src, cp headInfo) error {
	md5 := func(etag string) bool {
		e := store.NormalizeETag(etag)
		return len(e) == 32 && !strings.Contains(e, "-")
	}
	switch {
	case src.Size != cp.Size:
	case md5(src.ETag) && md5(cp.ETag) && store.NormalizeETag(src.ETag) == store.NormalizeETag(cp.ETag):
		return nil
	case src.crc64 != "" && cp.crc64 != "":
		if src.crc64 == cp.crc64 {
			return nil
		}
	case !md5(src.ETag) || !md5(cp.ETag):
		return nil // SSE-KMS or multipart ETags and no checksums: sizes agree
	}
	return fmt.Errorf("copy has ETag %s, CRC64NVME %q, %d bytes; the source %s, %q, %d: %w",
		cp.ETag, cp.crc64, cp.Size, src.ETag, src.crc64, src.Size, store.ErrCopyMismatch)
}
