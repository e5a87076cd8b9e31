package lakeparquet

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/store"
)

// DefaultPartitionMemory is PartitionOptions.Memory when it is 0.
const DefaultPartitionMemory = 32 << 20

// PartitionOptions tune a PartitionWriter. The zero value means the
// defaults.
type PartitionOptions struct {
	Options
	// Memory bounds the bytes of the rows the partitions hold before they
	// are stored: when they pass it, the largest is stored early.
	Memory int64
}

// PartitionObject is an object a PartitionWriter stored.
type PartitionObject struct {
	Object
	Partition string `json:"partition"`
}

// PartitionWriter writes rows of one schema to many partitions at once,
// in one pass over the input, with bounded memory. Each partition's rows
// are held as Arrow batches until its object is encoded and stored whole,
// at keyFor(partition, n) for its n-th object: when the rows it holds
// reach the target object size, or early, the largest partition first,
// when the partitions together hold more than the memory budget; so a
// partition gets one object unless the input is large or has many
// partitions. The rows held are counted exactly (their Arrow buffers), and
// objects are never visible before they are complete. A PartitionWriter
// is used from one goroutine and must end with Close or Abort.
type PartitionWriter struct {
	ctx    context.Context
	st     store.Store
	schema *arrow.Schema
	keyFor func(partition string, part int) string
	opts   PartitionOptions
	props  *parquet.WriterProperties
	aprops pqarrow.ArrowWriterProperties

	held    map[string]*heldRows
	total   int64          // bytes held by all partitions
	next    map[string]int // the next part number of each partition
	objects []PartitionObject
	err     error
}

// heldRows are one partition's rows not yet stored.
type heldRows struct {
	batches []arrow.RecordBatch
	rows    int64
	bytes   int64
}

// NewPartitionWriter returns a PartitionWriter of objects with the given
// schema; every key keyFor gives must pass store.ValidateKey.
func NewPartitionWriter(ctx context.Context, st store.Store, schema *arrow.Schema, keyFor func(partition string, part int) string, opts PartitionOptions) *PartitionWriter {
	opts.Options = opts.Options.withDefaults()
	if opts.Memory <= 0 {
		opts.Memory = DefaultPartitionMemory
	}
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	return &PartitionWriter{
		ctx: ctx, st: st, schema: schema, keyFor: keyFor, opts: opts,
		props: writerProperties(schema, opts.Options, aprops), aprops: aprops,
		held: map[string]*heldRows{}, next: map[string]int{},
	}
}

// Write adds rec's rows to partition. It retains rec until the rows are
// stored; rec should not share buffers with rows of other partitions (its
// buffers are counted whole).
func (w *PartitionWriter) Write(partition string, rec arrow.RecordBatch) error {
	if w.err != nil {
		return w.err
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("lakeparquet: batch schema %s differs from writer schema %s", rec.Schema(), w.schema)
	}
	h := w.held[partition]
	if h == nil {
		h = &heldRows{}
		w.held[partition] = h
	}
	rec.Retain()
	n := recordBytes(rec)
	h.batches = append(h.batches, rec)
	h.rows += rec.NumRows()
	h.bytes += n
	w.total += n
	if h.bytes >= min(w.opts.TargetObjectBytes, w.opts.Memory/2) {
		if err := w.store(partition); err != nil {
			return err
		}
	}
	for w.total > w.opts.Memory {
		largest := ""
		for _, p := range slices.Sorted(maps.Keys(w.held)) {
			if largest == "" || w.held[p].bytes > w.held[largest].bytes {
				largest = p
			}
		}
		if err := w.store(largest); err != nil {
			return err
		}
	}
	return nil
}

// store encodes partition's rows as one object and stores it.
func (w *PartitionWriter) store(partition string) error {
	h := w.held[partition]
	delete(w.held, partition)
	w.total -= h.bytes
	defer func() {
		for _, b := range h.batches {
			b.Release()
		}
	}()
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(w.schema, &buf, w.props, w.aprops)
	if err != nil {
		return w.fail(fmt.Errorf("lakeparquet: new file writer for partition %q: %w", partition, err))
	}
	for _, b := range h.batches {
		if err := fw.WriteBuffered(b); err != nil {
			return w.fail(fmt.Errorf("lakeparquet: write partition %q: %w", partition, err))
		}
	}
	if err := fw.Close(); err != nil {
		return w.fail(fmt.Errorf("lakeparquet: close partition %q: %w", partition, err))
	}
	part := w.next[partition]
	w.next[partition] = part + 1
	key := w.keyFor(partition, part)
	size := int64(buf.Len())
	if _, err := w.st.Put(w.ctx, key, &buf, &store.PutOptions{ContentType: w.opts.ContentType}); err != nil {
		return w.fail(fmt.Errorf("lakeparquet: %w", err))
	}
	w.objects = append(w.objects, PartitionObject{Object: Object{Key: key, Rows: h.rows, Bytes: size}, Partition: partition})
	return nil
}

func (w *PartitionWriter) fail(err error) error {
	w.err = err
	return err
}

// Close stores the rows still held and returns every object stored,
// sorted by partition and part. After a failure it returns the error
// (objects stored before it stay: Stored lists them).
func (w *PartitionWriter) Close() ([]PartitionObject, error) {
	if w.err != nil {
		w.release()
		return nil, w.err
	}
	for _, p := range slices.Sorted(maps.Keys(w.held)) {
		if err := w.store(p); err != nil {
			w.release()
			return nil, err
		}
	}
	slices.SortStableFunc(w.objects, func(a, b PartitionObject) int { return strings.Compare(a.Partition, b.Partition) })
	return w.objects, nil
}

// Abort drops the rows held; objects already stored stay, and Stored
// lists them.
func (w *PartitionWriter) Abort() {
	if w.err == nil {
		w.err = fmt.Errorf("lakeparquet: partition writer aborted")
	}
	w.release()
}

func (w *PartitionWriter) release() {
	for p, h := range w.held {
		for _, b := range h.batches {
			b.Release()
		}
		delete(w.held, p)
	}
	w.total = 0
}

// Stored are the objects stored so far.
func (w *PartitionWriter) Stored() []PartitionObject { return w.objects }

// recordBytes is the size of rec's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		n += dataBytes(d.Dictionary())
	}
	return n
}
