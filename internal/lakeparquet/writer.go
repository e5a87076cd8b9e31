// Package lakeparquet reads and writes the lake's Parquet objects.
//
// Writer writes Arrow record batches as Parquet objects (zstd,
// statistics, dictionary encoding), split into objects of about a target
// size and streamed to the store without ever holding a whole object in
// memory: ingest writes bronze with it, route writes silver and discarded.
// Reader streams an object's record batches with a column projection and
// row groups decoded ahead: the validate and route steps read bronze with
// it, and `lake validate` any file.
package lakeparquet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/store"
)

// Defaults for Options' zero fields.
const (
	// DefaultTargetObjectBytes keeps objects large enough for efficient
	// scans and small enough that a DQ run or a route step handles one in
	// a single Lambda invocation.
	DefaultTargetObjectBytes = 128 << 20
	// DefaultRowGroupRows bounds the memory of the row group being built
	// (its encoded pages stay in memory until it is complete).
	DefaultRowGroupRows = 256 * 1024
	// DefaultCompressionLevel is zstd's level 1: most of the size benefit
	// of zstd at a fraction of the CPU of higher levels.
	DefaultCompressionLevel = 1
)

// Options tune a Writer. The zero value means the defaults.
type Options struct {
	// TargetObjectBytes starts a new object once the current one reaches
	// about this size. Objects end at row-group boundaries, so they may
	// exceed it by up to one row group.
	TargetObjectBytes int64
	// RowGroupRows is the maximum number of rows of a row group.
	RowGroupRows int64
	// CompressionLevel is the zstd level.
	CompressionLevel int
	// ContentType is passed to the store with every object.
	ContentType string
}

func (o Options) withDefaults() Options {
	if o.TargetObjectBytes <= 0 {
		o.TargetObjectBytes = DefaultTargetObjectBytes
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = DefaultCompressionLevel
	}
	if o.ContentType == "" {
		o.ContentType = "application/vnd.apache.parquet"
	}
	return o
}

// Object is a Parquet object the Writer stored.
type Object struct {
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Writer writes record batches of one schema as a sequence of Parquet
// objects at keyFor(0), keyFor(1), ... Encoding runs in its own goroutine,
// so the caller can decode the next batch meanwhile. The same batches give
// the same objects, byte for byte.
//
// An object becomes visible only when it is complete: on an error, or on
// Abort, the object being written is never stored (objects completed
// before it stay). A Writer is used from one goroutine, and must end with
// Close or Abort, which stop its goroutines.
type Writer struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	st     store.Store
	schema *arrow.Schema
	keyFor func(part int) string
	opts   Options
	props  *parquet.WriterProperties
	aprops pqarrow.ArrowWriterProperties

	batches chan arrow.RecordBatch
	failed  chan struct{} // closed when the encoder fails
	done    chan struct{} // closed when the encoder has stopped
	closed  bool          // batches is closed

	// Owned by the encoder goroutine until done.
	err     error
	objects []Object
	cur     *object
}

// NewWriter returns a Writer of objects with the given schema. keyFor
// names part n (0, 1, ...); every key must pass store.ValidateKey.
// Canceling ctx aborts the writer.
func NewWriter(ctx context.Context, st store.Store, schema *arrow.Schema, keyFor func(part int) string, opts Options) *Writer {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancelCause(ctx)
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	w := &Writer{
		ctx: ctx, cancel: cancel, st: st, schema: schema, keyFor: keyFor, opts: opts,
		props:   writerProperties(schema, opts, aprops),
		aprops:  aprops,
		batches: make(chan arrow.RecordBatch, 1),
		failed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.encode()
	return w
}

// writerProperties are the Parquet settings: zstd, statistics, row
// groups of opts.RowGroupRows, decimals of up to 18 digits as integers,
// and dictionary encoding for byte-array columns (strings, JSON, binary,
// wide decimals), where repeated values are common and dictionaries pay.
// Numeric and temporal columns are written plain: they are mostly
// distinct (keys, timestamps, amounts), so a dictionary would be built
// only to be abandoned, and zstd compresses them well on its own.
func writerProperties(schema *arrow.Schema, opts Options, aprops pqarrow.ArrowWriterProperties) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(opts.CompressionLevel),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(opts.RowGroupRows),
		parquet.WithStoreDecimalAsInteger(true),
		parquet.WithDictionaryDefault(true),
	}
	if ps, err := pqarrow.ToParquet(schema, parquet.NewWriterProperties(props...), aprops); err == nil {
		for i := range ps.NumColumns() {
			switch c := ps.Column(i); c.PhysicalType() {
			case parquet.Types.ByteArray, parquet.Types.FixedLenByteArray:
			default:
				props = append(props, parquet.WithDictionaryPath(c.ColumnPath(), false))
			}
		}
	}
	// An unconvertible schema fails in pqarrow.NewFileWriter, with its error.
	return parquet.NewWriterProperties(props...)
}

// Write queues rec for writing. It does not take ownership of rec (it
// retains it while queued). It returns the writer's error once it has
// failed.
func (w *Writer) Write(rec arrow.RecordBatch) error {
	if w.closed {
		return errors.New("lakeparquet: write after Close or Abort")
	}
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("lakeparquet: batch schema %s differs from writer schema %s", rec.Schema(), w.schema)
	}
	// w.err is set before failed is closed and never changes after.
	select {
	case <-w.failed:
		return w.err
	default:
	}
	rec.Retain()
	select {
	case w.batches <- rec:
		return nil
	case <-w.failed:
		rec.Release()
		return w.err
	}
}

// Close finishes the last object and returns every object written, in
// part order. After a failure it returns the error and no objects.
func (w *Writer) Close() ([]Object, error) {
	w.stop()
	w.cancel(nil)
	if w.err != nil {
		return nil, w.err
	}
	return w.objects, nil
}

// Abort stops the writer: the object being written is discarded, never
// stored. Objects already completed stay. Abort after Close does nothing.
func (w *Writer) Abort(cause error) {
	if cause == nil {
		cause = errors.New("lakeparquet: aborted")
	}
	w.cancel(cause)
	w.stop()
}

// stop ends the input and waits for the encoder.
func (w *Writer) stop() {
	if !w.closed {
		w.closed = true
		close(w.batches)
	}
	<-w.done
}

// encode is the encoder goroutine.
func (w *Writer) encode() {
	defer close(w.done)
	for rec := range w.batches {
		if w.err == nil {
			if err := w.write(rec); err != nil {
				w.fail(err)
			}
		}
		rec.Release()
	}
	if w.err == nil {
		if err := context.Cause(w.ctx); err != nil {
			w.fail(err)
		}
	}
	if w.err == nil && w.cur != nil {
		if err := w.finish(); err != nil {
			w.fail(err)
		}
	}
}

func (w *Writer) fail(err error) {
	w.err = err
	if w.cur != nil {
		w.cur.abort(err)
		w.cur = nil
	}
	close(w.failed)
}

func (w *Writer) write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if err := context.Cause(w.ctx); err != nil {
		return err
	}
	if w.cur == nil {
		o, err := w.open(len(w.objects))
		if err != nil {
			return err
		}
		w.cur = o
	}
	if err := w.cur.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("lakeparquet: write %q: %w", w.cur.key, err)
	}
	w.cur.rows += rec.NumRows()
	if w.cur.size() >= w.opts.TargetObjectBytes {
		return w.finish()
	}
	return nil
}

// finish completes the current object and waits for the store to commit it.
func (w *Writer) finish() error {
	o := w.cur
	w.cur = nil
	obj, err := o.close()
	if err != nil {
		return err
	}
	w.objects = append(w.objects, obj)
	return nil
}

// object is one Parquet object being streamed to the store.
type object struct {
	key  string
	rows int64
	sw   *store.Writer
	buf  *bufio.Writer
	cw   *countingWriter
	fw   *pqarrow.FileWriter
}

func (w *Writer) open(part int) (*object, error) {
	key := w.keyFor(part)
	if err := store.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("lakeparquet: %w", err)
	}
	o := &object{key: key, sw: store.NewWriter(w.ctx, w.st, key, &store.PutOptions{ContentType: w.opts.ContentType})}
	o.buf = bufio.NewWriterSize(o.sw, 1<<20)
	o.cw = &countingWriter{w: o.buf}
	fw, err := pqarrow.NewFileWriter(w.schema, o.cw, w.props, w.aprops)
	if err != nil {
		err = fmt.Errorf("lakeparquet: new file writer for %q: %w", key, err)
		o.abort(err)
		return nil, err
	}
	o.fw = fw
	return o, nil
}

// size is the object's size so far: bytes written plus the encoded size
// of the row group still in memory.
func (o *object) size() int64 {
	return o.cw.n + o.fw.RowGroupTotalCompressedBytes()
}

// close writes the footer, ends the stream and waits for the store.
func (o *object) close() (Object, error) {
	if err := o.fw.Close(); err != nil {
		err = fmt.Errorf("lakeparquet: close %q: %w", o.key, err)
		o.abort(err)
		return Object{}, err
	}
	if err := o.buf.Flush(); err != nil {
		err = fmt.Errorf("lakeparquet: write %q: %w", o.key, err)
		o.abort(err)
		return Object{}, err
	}
	if _, err := o.sw.Close(); err != nil {
		return Object{}, fmt.Errorf("lakeparquet: %w", err)
	}
	return Object{Key: o.key, Rows: o.rows, Bytes: o.cw.n}, nil
}

// abort makes the store's Put fail, so the object is never committed.
func (o *object) abort(err error) { o.sw.Abort(err) }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
