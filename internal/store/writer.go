package store

import (
	"context"
	"errors"
	"io"
)

// Writer streams one object to a store as it is written: the bytes are
// stored at its key, atomically, when Close succeeds; after Abort, or a
// failed Write or Close, nothing is stored. Memory is bounded by the
// backend's Put, whatever the object's size. A Writer is used from one
// goroutine.
type Writer struct {
	pw   *io.PipeWriter
	put  chan putResult
	done bool
}

type putResult struct {
	info ObjectInfo
	err  error
}

// NewWriter starts streaming an object to key in st with opts.
func NewWriter(ctx context.Context, st Store, key string, opts *PutOptions) *Writer {
	pr, pw := io.Pipe()
	w := &Writer{pw: pw, put: make(chan putResult, 1)}
	go func() {
		info, err := st.Put(ctx, key, pr, opts)
		// Unblock the writer if Put stopped reading early.
		pr.CloseWithError(errors.Join(err, io.ErrClosedPipe))
		w.put <- putResult{info, err}
	}()
	return w
}

// Write implements io.Writer. It fails once the store's Put has failed.
func (w *Writer) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the object and waits for the store: it returns the stored
// object's info, or the store's error (and nothing is stored).
func (w *Writer) Close() (ObjectInfo, error) {
	if w.done {
		return ObjectInfo{}, errors.New("store: Writer closed twice")
	}
	w.done = true
	w.pw.Close()
	r := <-w.put
	return r.info, r.err
}

// Abort makes the store's Put fail with cause, so nothing is stored, and
// waits for it. Abort after Close does nothing.
func (w *Writer) Abort(cause error) {
	if w.done {
		return
	}
	w.done = true
	w.pw.CloseWithError(cause)
	<-w.put
}
