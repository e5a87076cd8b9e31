package lakeparquet

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

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
// partitions. Objects are encoded and stored by background workers (as
// many as GOMAXPROCS) while rows keep coming; rows being stored count
// against the budget until they are. The rows held are counted exactly
// (their Arrow buffers), and objects are never visible before they are
// complete. Write and Close are called from one goroutine, and a
// PartitionWriter must end with Close or Abort.
type PartitionWriter struct {
	ctx    context.Context
	st     store.Store
	schema *arrow.Schema
	keyFor func(partition string, part int) string
	opts   PartitionOptions
	props  *parquet.WriterProperties
	aprops pqarrow.ArrowWriterProperties

	held map[string]*heldRows
	next map[string]int // the next part number of each partition
	jobs chan flush
	wg   sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	total   int64 // bytes held, being stored included
	objects []PartitionObject
	err     error
	closed  bool
}

// heldRows are one partition's rows not yet stored.
type heldRows struct {
	batches []arrow.RecordBatch
	rows    int64
	bytes   int64
}

// flush is one object to encode and store.
type flush struct {
	partition, key string
	rows           *heldRows
}

// NewPartitionWriter returns a PartitionWriter of objects with the given
// schema; every key keyFor gives must pass store.ValidateKey.
func NewPartitionWriter(ctx context.Context, st store.Store, schema *arrow.Schema, keyFor func(partition string, part int) string, opts PartitionOptions) *PartitionWriter {
	opts.Options = opts.Options.withDefaults()
	if opts.Memory <= 0 {
		opts.Memory = DefaultPartitionMemory
	}
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	w := &PartitionWriter{
		ctx: ctx, st: st, schema: schema, keyFor: keyFor, opts: opts,
		props: writerProperties(schema, opts.Options, aprops), aprops: aprops,
		held: map[string]*heldRows{}, next: map[string]int{},
		jobs: make(chan flush),
	}
	w.cond = sync.NewCond(&w.mu)
	for range max(1, runtime.GOMAXPROCS(0)) {
		w.wg.Add(1)
		go w.worker()
	}
	return w
}

// Write adds rec's rows to partition. It retains rec until the rows are
// stored; rec should not share buffers with rows of other partitions (its
// buffers are counted whole). It waits while the rows being stored keep
// the memory over the budget.
func (w *PartitionWriter) Write(partition string, rec arrow.RecordBatch) error {
	if err := w.failed(); err != nil {
		return err
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
	w.mu.Lock()
	w.total += n
	w.mu.Unlock()
	if h.bytes >= min(w.opts.TargetObjectBytes, w.opts.Memory/2) {
		w.store(partition)
	}
	for {
		w.mu.Lock()
		over := w.total > w.opts.Memory && w.err == nil
		w.mu.Unlock()
		if !over {
			break
		}
		if len(w.held) == 0 { // everything over the budget is being stored
			w.mu.Lock()
			for w.total > w.opts.Memory && w.err == nil {
				w.cond.Wait()
			}
			w.mu.Unlock()
			break
		}
		largest := ""
		for _, p := range slices.Sorted(maps.Keys(w.held)) {
			if largest == "" || w.held[p].bytes > w.held[largest].bytes {
				largest = p
			}
		}
		w.store(largest)
	}
	return w.failed()
}

func (w *PartitionWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// store hands partition's rows to the workers, naming its next object.
func (w *PartitionWriter) store(partition string) {
	h := w.held[partition]
	delete(w.held, partition)
	part := w.next[partition]
	w.next[partition] = part + 1
	w.jobs <- flush{partition: partition, key: w.keyFor(partition, part), rows: h}
}

// worker encodes and stores objects until the jobs end.
func (w *PartitionWriter) worker() {
	defer w.wg.Done()
	for f := range w.jobs {
		obj, err := w.encode(f)
		w.mu.Lock()
		w.total -= f.rows.bytes
		if err != nil && w.err == nil {
			w.err = err
		}
		if err == nil {
			w.objects = append(w.objects, obj)
		}
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

// encode encodes one object's rows and stores it (unless the writer has
// failed already).
func (w *PartitionWriter) encode(f flush) (PartitionObject, error) {
	defer func() {
		for _, b := range f.rows.batches {
			b.Release()
		}
	}()
	if err := w.failed(); err != nil {
		return PartitionObject{}, err
	}
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(w.schema, &buf, w.props, w.aprops)
	if err != nil {
		return PartitionObject{}, fmt.Errorf("lakeparquet: new file writer for partition %q: %w", f.partition, err)
	}
	for _, b := range f.rows.batches {
		if err := fw.WriteBuffered(b); err != nil {
			return PartitionObject{}, fmt.Errorf("lakeparquet: write partition %q: %w", f.partition, err)
		}
	}
	if err := fw.Close(); err != nil {
		return PartitionObject{}, fmt.Errorf("lakeparquet: close partition %q: %w", f.partition, err)
	}
	size := int64(buf.Len())
	if _, err := w.st.Put(w.ctx, f.key, &buf, &store.PutOptions{ContentType: w.opts.ContentType}); err != nil {
		return PartitionObject{}, fmt.Errorf("lakeparquet: %w", err)
	}
	return PartitionObject{Object: Object{Key: f.key, Rows: f.rows.rows, Bytes: size}, Partition: f.partition}, nil
}

// Close stores the rows still held, waits for the workers, and returns
// every object stored, sorted by partition and key. After a failure it
// returns the error (objects stored before it stay: Stored lists them).
func (w *PartitionWriter) Close() ([]PartitionObject, error) {
	if w.failed() == nil {
		for _, p := range slices.Sorted(maps.Keys(w.held)) {
			w.store(p)
		}
	}
	w.stop()
	if err := w.failed(); err != nil {
		return nil, err
	}
	slices.SortFunc(w.objects, func(a, b PartitionObject) int {
		return cmp.Or(strings.Compare(a.Partition, b.Partition), strings.Compare(a.Key, b.Key))
	})
	return w.objects, nil
}

// Abort drops the rows held and waits for the objects being stored;
// objects already stored stay, and Stored lists them.
func (w *PartitionWriter) Abort() {
	w.mu.Lock()
	if w.err == nil {
		w.err = fmt.Errorf("lakeparquet: partition writer aborted")
	}
	w.mu.Unlock()
	w.stop()
}

// stop ends the workers and releases the rows still held.
func (w *PartitionWriter) stop() {
	if !w.closed {
		w.closed = true
		close(w.jobs)
		w.wg.Wait()
	}
	for p, h := range w.held {
		for _, b := range h.batches {
			b.Release()
		}
		delete(w.held, p)
	}
}

// Stored are the objects stored so far.
func (w *PartitionWriter) Stored() []PartitionObject {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.objects)
}

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
