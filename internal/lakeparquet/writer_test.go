package lakeparquet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var statuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED"}

// batch makes rows [from, from+n): a unique id, a low-cardinality status
// (NULL every 7th row) and a mostly unique note.
func batch(from, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	st := b.Field(1).(*array.StringBuilder)
	notes := b.Field(2).(*array.StringBuilder)
	for i := from; i < from+n; i++ {
		ids.Append(i)
		if i%7 == 0 {
			st.AppendNull()
		} else {
			st.Append(statuses[i%4])
		}
		notes.Append(fmt.Sprintf("note %d for order %x", i*7919%100003, i))
	}
	return b.NewRecordBatch()
}

func keyFor(n int) string { return fmt.Sprintf("bronze/landing/t/part-%05d.parquet", n) }

func newStore(t *testing.T) *filestore.Store {
	t.Helper()
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// write writes rows in batches of batchRows and closes the writer.
func write(t *testing.T, st store.Store, opts lakeparquet.Options, rows, batchRows int64) []lakeparquet.Object {
	t.Helper()
	w := lakeparquet.NewWriter(context.Background(), st, schema, keyFor, opts)
	for from := int64(0); from < rows; from += batchRows {
		rec := batch(from, min(batchRows, rows-from))
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	objs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func readAll(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSplitsObjectsBySize(t *testing.T) {
	st := newStore(t)
	const target = 256 << 10
	opts := lakeparquet.Options{TargetObjectBytes: target, RowGroupRows: 10_000}
	objs := write(t, st, opts, 200_000, 7_000)
	if len(objs) < 3 {
		t.Fatalf("got %d objects, want several of about %d bytes: %+v", len(objs), target, objs)
	}
	var next int64
	for i, o := range objs {
		if got, want := o.Key, keyFor(i); got != want {
			t.Errorf("object %d key = %q, want %q", i, got, want)
		}
		data := readAll(t, st, o.Key)
		if got, want := int64(len(data)), o.Bytes; got != want {
			t.Errorf("%s: stored %d bytes, Object.Bytes = %d", o.Key, got, want)
		}
		if i < len(objs)-1 && o.Bytes < target {
			t.Errorf("%s: %d bytes, below the target %d though more objects follow", o.Key, o.Bytes, target)
		}
		// Objects end at the first row-group boundary past the target
		// (a batch may complete a row group and start the next one).
		if rowGroupBytes := o.Bytes * opts.RowGroupRows / o.Rows; o.Bytes > target+2*rowGroupBytes {
			t.Errorf("%s: %d bytes, more than the target %d plus two row groups of about %d", o.Key, o.Bytes, target, rowGroupBytes)
		}
		pf, err := file.NewParquetReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		md := pf.MetaData()
		if got, want := md.NumRows, o.Rows; got != want {
			t.Errorf("%s: %d rows in file, Object.Rows = %d", o.Key, got, want)
		}
		// Rows arrive in order, each exactly once: the first id of each
		// object continues where the previous object ended.
		rg := md.RowGroup(0)
		idStats, err := rg.ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		stats, err := idStats.Statistics()
		if err != nil || stats == nil || !stats.HasMinMax() {
			t.Fatalf("%s: no statistics on id: %v", o.Key, err)
		}
		if got := stats.EncodeMin(); !bytes.Equal(got, int64LE(next)) {
			t.Errorf("%s: first id %x, want %d", o.Key, got, next)
		}
		next += o.Rows
		for r := range md.NumRowGroups() {
			if n := md.RowGroup(r).NumRows(); n > opts.RowGroupRows {
				t.Errorf("%s: row group %d has %d rows, more than %d", o.Key, r, n, opts.RowGroupRows)
			}
		}
		for c := range md.Schema.NumColumns() {
			cc, _ := md.RowGroup(0).ColumnChunk(c)
			if got, want := cc.Compression().String(), "ZSTD"; got != want {
				t.Errorf("%s column %d: compression %s, want %s", o.Key, c, got, want)
			}
		}
		status, _ := md.RowGroup(0).ColumnChunk(1)
		if !hasDictionary(status.Encodings()) {
			t.Errorf("%s: status column not dictionary-encoded: %v", o.Key, status.Encodings())
		}
	}
	if next != 200_000 {
		t.Errorf("objects hold %d rows, want 200000", next)
	}
}

func int64LE(v int64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func hasDictionary(encs []parquet.Encoding) bool {
	for _, e := range encs {
		if e == parquet.Encodings.RLEDict || e == parquet.Encodings.PlainDict {
			return true
		}
	}
	return false
}

func TestDeterministic(t *testing.T) {
	opts := lakeparquet.Options{TargetObjectBytes: 128 << 10, RowGroupRows: 5_000}
	a, b := newStore(t), newStore(t)
	objsA := write(t, a, opts, 50_000, 3_000)
	objsB := write(t, b, opts, 50_000, 3_000)
	if fmt.Sprint(objsA) != fmt.Sprint(objsB) {
		t.Fatalf("objects differ:\n%v\n%v", objsA, objsB)
	}
	for _, o := range objsA {
		if !bytes.Equal(readAll(t, a, o.Key), readAll(t, b, o.Key)) {
			t.Errorf("%s: contents differ between runs", o.Key)
		}
	}
}

func TestNoRowsNoObjects(t *testing.T) {
	st := newStore(t)
	w := lakeparquet.NewWriter(context.Background(), st, schema, keyFor, lakeparquet.Options{})
	rec := batch(0, 0)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	objs, err := w.Close()
	if err != nil || len(objs) != 0 {
		t.Fatalf("Close() = %v, %v; want no objects", objs, err)
	}
}

// listKeys lists every key in st.
func listKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	var keys []string
	for info, err := range st.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func TestAbortLeavesNoPartialObject(t *testing.T) {
	st := newStore(t)
	opts := lakeparquet.Options{TargetObjectBytes: 64 << 10, RowGroupRows: 2_000}
	w := lakeparquet.NewWriter(context.Background(), st, schema, keyFor, opts)
	for from := int64(0); from < 30_000; from += 1_000 {
		rec := batch(from, 1_000)
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	w.Abort(errors.New("source failed"))
	if _, err := w.Close(); err == nil || err.Error() != "source failed" {
		t.Errorf("Close after Abort = %v, want the abort cause", err)
	}
	rec := batch(0, 1)
	defer rec.Release()
	if err := w.Write(rec); err == nil {
		t.Error("Write after Abort succeeded, want an error")
	}
	// Completed objects stay, each whole; the one in progress never appears.
	for _, key := range listKeys(t, st) {
		data := readAll(t, st, key)
		if _, err := file.NewParquetReader(bytes.NewReader(data)); err != nil {
			t.Errorf("%s: left behind unreadable: %v", key, err)
		}
	}
}

// failingStore is a real store whose Put fails after reading some bytes,
// as a network store would mid-upload.
type failingStore struct {
	store.Store
	puts atomic.Int32
}

func (f *failingStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	f.puts.Add(1)
	if _, err := io.CopyN(io.Discard, r, 1000); err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{}, fmt.Errorf("store: put %q: connection reset", key)
}

func TestStoreFailureIsReturned(t *testing.T) {
	st := &failingStore{Store: newStore(t)}
	w := lakeparquet.NewWriter(context.Background(), st, schema, keyFor, lakeparquet.Options{RowGroupRows: 1_000})
	// Keep writing after the failure: every Write must return promptly.
	var werr error
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for from := int64(0); from < 200_000; from += 1_000 {
			rec := batch(from, 1_000)
			if err := w.Write(rec); err != nil && werr == nil {
				werr = err
			}
			rec.Release()
		}
	}()
	select {
	case <-wrote:
	case <-time.After(60 * time.Second):
		t.Fatal("Write blocked after the store failed")
	}
	if werr == nil {
		t.Error("no Write returned the store's error")
	}
	_, err := w.Close()
	if err == nil {
		t.Fatal("Close succeeded, want the store's error")
	}
	if werr != nil && werr.Error() != err.Error() {
		t.Errorf("Write error %v differs from Close error %v", werr, err)
	}
	if got := listKeys(t, st); len(got) != 0 {
		t.Errorf("objects after failure: %v", got)
	}
}

func TestInvalidKey(t *testing.T) {
	st := newStore(t)
	w := lakeparquet.NewWriter(context.Background(), st, schema, func(int) string { return "../escape.parquet" }, lakeparquet.Options{})
	rec := batch(0, 10)
	defer rec.Release()
	_ = w.Write(rec)
	if _, err := w.Close(); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Close() error = %v, want ErrInvalidKey", err)
	}
}

// TestBoundedMemory writes far more data than the bound, sampling the
// heap that the garbage collector found live: memory depends on batch and
// row-group sizes, not on the amount written.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~100 MB of Arrow data")
	}
	st := newStore(t)
	const rows, batchRows = 2_000_000, 32_768
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	runtime.GC()
	objs := write(t, st, lakeparquet.Options{TargetObjectBytes: 8 << 20, RowGroupRows: 128 * 1024}, rows, batchRows)
	close(stop)
	<-sampled
	var total int64
	for _, o := range objs {
		total += o.Rows
	}
	if total != rows {
		t.Fatalf("wrote %d rows, want %d", total, rows)
	}
	const bound = 64 << 20
	t.Logf("peak heap %d MiB for %d rows in %d objects", peak.Load()>>20, rows, len(objs))
	if p := peak.Load(); p > bound {
		t.Errorf("peak heap %d MiB, want at most %d MiB", p>>20, bound>>20)
	}
}
