package filestore

import (
	"context"
	"fmt"

	"github.com/medallionlake/lake/internal/store"
)

var _ store.Copier = (*Store)(nil)

// CopyObject implements store.Copier: a file copy from a lake folder (this
// one or another) to this one, only if the source's ETag is ifMatch (any
// version when empty). The source file is opened once and read from that
// handle, so a replacement of the source mid-copy is not seen; the copy's
// ETag (its content's MD5, computed while writing) must equal the source's.
func (s *Store) CopyObject(ctx context.Context, dstKey string, src store.Store, srcKey, ifMatch string) (store.ObjectInfo, error) {
	from, ok := src.(*Store)
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("store: copy to %q: source is not a lake folder: %w", dstKey, store.ErrNotSupported)
	}
	if err := checkKey(srcKey); err != nil {
		return store.ObjectInfo{}, err
	}
	f, info, err := from.open(srcKey)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q: %w", srcKey, err)
	}
	defer f.Close()
	if ifMatch != "" && info.ETag != store.NormalizeETag(ifMatch) {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q: source ETag is %s, not %s: %w", srcKey, info.ETag, ifMatch, store.ErrPreconditionFailed)
	}
	out, err := s.Put(ctx, dstKey, f, nil)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	if out.ETag != info.ETag || out.Size != info.Size {
		return store.ObjectInfo{}, fmt.Errorf("store: copy %q to %q: copy has ETag %s and %d bytes, the source %s and %d: %w",
			srcKey, dstKey, out.ETag, out.Size, info.ETag, info.Size, store.ErrCopyMismatch)
	}
	return out, nil
}
