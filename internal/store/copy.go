package store

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Copy streams the object at srcKey in src to dstKey in dst, byte for byte,
// with an unconditional Put, and returns the new object's info. Memory use
// is bounded by the destination backend's Put, whatever the object's size.
// It fails, leaving dst unchanged, if the source changes size mid-copy or
// a read fails; an error from either side wraps the backend's error
// (ErrNotFound for a missing source, *StoreUnavailableError, ...). A
// source that ends short of its size is a *StoreUnavailableError (a cut
// connection, or an object replaced mid-copy: trying again reads a whole
// one); one that runs past it is a plain error.
func Copy(ctx context.Context, dst Store, dstKey string, src Store, srcKey string) (ObjectInfo, error) {
	rc, srcInfo, err := src.Get(ctx, srcKey)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	defer rc.Close()
	// sizeCheck makes a short or long read fail before Put commits, so a
	// truncated copy is never published.
	info, err := dst.Put(ctx, dstKey, &sizeCheck{r: rc, left: srcInfo.Size, key: srcKey}, nil)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("store: copy %q to %q: %w", srcKey, dstKey, err)
	}
	return info, nil
}

// sizeCheck passes r through and turns a stream that ends before, or runs
// past, the expected size into an error instead of a clean EOF.
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
		return n, fmt.Errorf("store: %q grew while being copied", c.key)
	case errors.Is(err, io.EOF) && c.left > 0:
		return n, &StoreUnavailableError{Op: "get", Key: c.key, Err: fmt.Errorf("ended %d bytes short while being copied: %w", c.left, io.ErrUnexpectedEOF)}
	}
	return n, err
}
