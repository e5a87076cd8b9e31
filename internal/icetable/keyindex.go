package icetable

// Key indexes of silver.<table>_current.
//
// Maintain writes _current's data files sorted by primary key (sorted.go)
// and, beside each, a key index: the file's keys in order, in blocks of
// keyIndexBlock keys, so that a merge finds the rows of its keys without
// reading the data file. Sorted, a key's position in the file is its
// rank, so the index holds no positions; the keys themselves compress to
// a few bits each (an integer key: the bit-packed gaps between
// consecutive keys; other keys: prefix-compressed). A block also records
// the greatest cursor of its rows, so that a merge whose version of a key
// is newer than that knows its decision without reading the cursor.
//
// An index is a cache: derived from its data file, written once, never
// changed. A merge that finds none, or one that does not match the data
// file (rows, size, name, checksum), reads the data file's key column
// instead. Maintain removes the indexes whose data file is gone.
//
// Layout (little-endian):
//
//	magic "LAKEKIX1"
//	rows u64, data file size u64, blocks u32, name length u16, name
//	directory: per block 24 bytes: payload offset u32, codec u8,
//	  bits u8, cursor valid u8, 0 u8, first key u64 (codec int),
//	  greatest cursor i64
//	payload: per block
//	  codec int:   the smallest gap between consecutive keys (uvarint),
//	               then each gap less that, bits bits each, packed from
//	               the least significant bit
//	  codec bytes: first key (uvarint length, bytes), then per key the
//	               length shared with the previous (uvarint), the rest's
//	               length (uvarint) and the rest
//	CRC-32C of all the above, u32

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icebergio"
)

const (
	keyIndexMagic = "LAKEKIX1"
	keyIndexBlock = 256
	keyIndexDir   = "keys"
	dirEntryLen   = 24
	codecInt      = 1
	codecBytes    = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// keyIndexPath is where the key index of the data file dataPath of the
// table at location lives: <location>/keys/<data file name>.keys, outside
// data/ (whose unreferenced files maintenance removes as orphans).
func keyIndexPath(location, dataPath string) string {
	return location + "/" + keyIndexDir + "/" + strings.TrimSuffix(path.Base(dataPath), ".parquet") + ".keys"
}

// keyIndexBuilder builds the key index of one sorted data file, key by
// key in the file's order.
type keyIndexBuilder struct {
	rows    int64
	dir     []byte
	payload []byte
	last    []byte // the previous key

	block  [][]byte // keys of the block being built
	arena  []byte
	maxCur cursor
	curSet bool
}

// add appends the key of the next row and the row's cursor. Keys must come
// in order (equal keys are allowed).
func (b *keyIndexBuilder) add(key []byte, cur cursor) error {
	if b.rows > 0 && bytes.Compare(key, b.last) < 0 {
		return fmt.Errorf("key index: row %d: key out of order", b.rows)
	}
	b.last = append(b.last[:0], key...)
	start := len(b.arena)
	b.arena = append(b.arena, key...)
	b.block = append(b.block, b.arena[start:len(b.arena):len(b.arena)])
	if !b.curSet || cmpCursor(cur, b.maxCur) > 0 {
		b.maxCur, b.curSet = cur, true
	}
	b.rows++
	if len(b.block) == keyIndexBlock {
		b.flush()
	}
	return nil
}

// flush encodes the block being built.
func (b *keyIndexBuilder) flush() {
	if len(b.block) == 0 {
		return
	}
	entry := make([]byte, dirEntryLen)
	binary.LittleEndian.PutUint32(entry[0:], uint32(len(b.payload)))
	if b.maxCur.valid {
		entry[6] = 1
	}
	binary.LittleEndian.PutUint64(entry[16:], uint64(b.maxCur.v))
	ints := true
	for _, k := range b.block {
		if _, ok := intKey(k); !ok {
			ints = false
			break
		}
	}
	if ints {
		first, _ := intKey(b.block[0])
		minGap, maxGap := uint64(math.MaxUint64), uint64(0)
		prev := first
		for _, k := range b.block[1:] {
			v, _ := intKey(k)
			minGap, maxGap = min(minGap, v-prev), max(maxGap, v-prev)
			prev = v
		}
		if len(b.block) == 1 {
			minGap = 0
		}
		width := uint8(bits.Len64(maxGap - minGap))
		entry[4], entry[5] = codecInt, width
		binary.LittleEndian.PutUint64(entry[8:], first)
		w := bitWriter{out: binary.AppendUvarint(b.payload, minGap)}
		prev = first
		for _, k := range b.block[1:] {
			v, _ := intKey(k)
			w.write(v-prev-minGap, width)
			prev = v
		}
		b.payload = w.out
	} else {
		entry[4] = codecBytes
		b.payload = binary.AppendUvarint(b.payload, uint64(len(b.block[0])))
		b.payload = append(b.payload, b.block[0]...)
		for i, k := range b.block[1:] {
			prev := b.block[i]
			shared := 0
			for shared < len(k) && shared < len(prev) && k[shared] == prev[shared] {
				shared++
			}
			b.payload = binary.AppendUvarint(b.payload, uint64(shared))
			b.payload = binary.AppendUvarint(b.payload, uint64(len(k)-shared))
			b.payload = append(b.payload, k[shared:]...)
		}
	}
	b.dir = append(b.dir, entry...)
	b.block, b.arena, b.curSet = b.block[:0], b.arena[:0], false
}

// bitWriter appends values to out, width bits each, packed from the
// least significant bit.
type bitWriter struct {
	out []byte
	n   uint // bits used in out's last byte (0: none, start a new byte)
}

func (w *bitWriter) write(v uint64, width uint8) {
	for width > 0 {
		if w.n == 0 {
			w.out = append(w.out, 0)
		}
		take := min(uint(width), 8-w.n)
		w.out[len(w.out)-1] |= byte(v&(1<<take-1)) << w.n
		v >>= take
		width -= uint8(take)
		w.n = (w.n + take) % 8
	}
}

// finish returns the index of the data file named name (its base name)
// of size bytes.
func (b *keyIndexBuilder) finish(name string, size int64) []byte {
	b.flush()
	out := make([]byte, 0, len(keyIndexMagic)+22+len(name)+len(b.dir)+len(b.payload)+4)
	out = append(out, keyIndexMagic...)
	out = binary.LittleEndian.AppendUint64(out, uint64(b.rows))
	out = binary.LittleEndian.AppendUint64(out, uint64(size))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.dir)/dirEntryLen))
	out = binary.LittleEndian.AppendUint16(out, uint16(len(name)))
	out = append(out, name...)
	out = append(out, b.dir...)
	out = append(out, b.payload...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// errKeyIndexMismatch is a key index that is not the index of the data
// file it is read for.
var errKeyIndexMismatch = errors.New("key index does not match its data file")

// keyIndex is a parsed key index.
type keyIndex struct {
	rows    int64
	blocks  int
	dir     []byte
	payload []byte
}

// parseKeyIndex parses b, the key index of the data file named name
// (base name) holding rows rows in size bytes.
func parseKeyIndex(b []byte, name string, rows, size int64) (*keyIndex, error) {
	head := len(keyIndexMagic) + 22
	if len(b) < head+4 || string(b[:len(keyIndexMagic)]) != keyIndexMagic {
		return nil, fmt.Errorf("%w: not a key index", errKeyIndexMismatch)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errKeyIndexMismatch)
	}
	p := body[len(keyIndexMagic):]
	x := &keyIndex{rows: int64(binary.LittleEndian.Uint64(p))}
	gotSize := int64(binary.LittleEndian.Uint64(p[8:]))
	x.blocks = int(binary.LittleEndian.Uint32(p[16:]))
	nameLen := int(binary.LittleEndian.Uint16(p[20:]))
	p = p[22:]
	if len(p) < nameLen+x.blocks*dirEntryLen {
		return nil, fmt.Errorf("%w: truncated", errKeyIndexMismatch)
	}
	if string(p[:nameLen]) != name || x.rows != rows || gotSize != size {
		return nil, fmt.Errorf("%w: indexes %s (%d rows, %d bytes), want %s (%d rows, %d bytes)",
			errKeyIndexMismatch, p[:nameLen], x.rows, gotSize, name, rows, size)
	}
	if want := (rows + keyIndexBlock - 1) / keyIndexBlock; int64(x.blocks) != want {
		return nil, fmt.Errorf("%w: %d blocks for %d rows", errKeyIndexMismatch, x.blocks, rows)
	}
	p = p[nameLen:]
	x.dir, x.payload = p[:x.blocks*dirEntryLen], p[x.blocks*dirEntryLen:]
	return x, nil
}

// readKeyIndex reads the key index at path of the data file named name.
func readKeyIndex(ctx context.Context, fs *icebergio.FS, path, name string, rows, size int64) (*keyIndex, error) {
	b, err := fs.WithContext(ctx).ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKeyIndex(b, name, rows, size)
}

// blockLen is the number of keys of block i.
func (x *keyIndex) blockLen(i int) int {
	return int(min(keyIndexBlock, x.rows-int64(i)*keyIndexBlock))
}

// entry is block i's directory entry.
func (x *keyIndex) entry(i int) []byte { return x.dir[i*dirEntryLen : (i+1)*dirEntryLen] }

// maxCursor is the greatest cursor of block i's rows.
func (x *keyIndex) maxCursor(i int) cursor {
	e := x.entry(i)
	return cursor{v: int64(binary.LittleEndian.Uint64(e[16:])), valid: e[6] == 1}
}

// firstKey appends the encoding of block i's first key to buf.
func (x *keyIndex) firstKey(buf []byte, i int) ([]byte, error) {
	e := x.entry(i)
	if e[4] == codecInt {
		return appendIntKey(buf, binary.LittleEndian.Uint64(e[8:])), nil
	}
	p, err := x.blockPayload(i)
	if err != nil {
		return nil, err
	}
	n, w := binary.Uvarint(p)
	if w <= 0 || uint64(len(p)-w) < n {
		return nil, fmt.Errorf("%w: block %d: bad first key", errKeyIndexMismatch, i)
	}
	return append(buf, p[w:w+int(n)]...), nil
}

// blockPayload is block i's payload.
func (x *keyIndex) blockPayload(i int) ([]byte, error) {
	start := int(binary.LittleEndian.Uint32(x.entry(i)))
	end := len(x.payload)
	if i+1 < x.blocks {
		end = int(binary.LittleEndian.Uint32(x.entry(i + 1)))
	}
	if start > end || end > len(x.payload) {
		return nil, fmt.Errorf("%w: block %d: bad offsets", errKeyIndexMismatch, i)
	}
	return x.payload[start:end], nil
}

// decodeBlock decodes block i's keys into out.
func (x *keyIndex) decodeBlock(i int, out *decodedBlock) error {
	e := x.entry(i)
	n := x.blockLen(i)
	p, err := x.blockPayload(i)
	if err != nil {
		return err
	}
	out.ints, out.keys, out.arena = out.ints[:0], out.keys[:0], out.arena[:0]
	out.isInt = e[4] == codecInt
	switch e[4] {
	case codecInt:
		width := e[5]
		v := binary.LittleEndian.Uint64(e[8:])
		minGap, w := binary.Uvarint(p)
		if w <= 0 || width > 64 || len(p[w:])*8 < (n-1)*int(width) {
			return fmt.Errorf("%w: block %d: truncated", errKeyIndexMismatch, i)
		}
		p = p[w:]
		out.ints = append(out.ints, v)
		var bit uint
		for range n - 1 {
			v += minGap + readBits(p, bit, width)
			bit += uint(width)
			out.ints = append(out.ints, v)
		}
	case codecBytes:
		var prev []byte
		ends := make([]int, 0, n)
		for j := range n {
			shared := uint64(0)
			if j > 0 {
				s, w := binary.Uvarint(p)
				if w <= 0 || s > uint64(len(prev)) {
					return fmt.Errorf("%w: block %d: bad key %d", errKeyIndexMismatch, i, j)
				}
				shared, p = s, p[w:]
			}
			rest, w := binary.Uvarint(p)
			if w <= 0 || uint64(len(p)-w) < rest {
				return fmt.Errorf("%w: block %d: bad key %d", errKeyIndexMismatch, i, j)
			}
			start := len(out.arena)
			out.arena = append(out.arena, prev[:shared]...)
			out.arena = append(out.arena, p[w:w+int(rest)]...)
			p = p[w+int(rest):]
			prev = out.arena[start:]
			ends = append(ends, len(out.arena))
		}
		start := 0
		for _, end := range ends {
			out.keys = append(out.keys, out.arena[start:end])
			start = end
		}
	default:
		return fmt.Errorf("%w: block %d: unknown codec %d", errKeyIndexMismatch, i, e[4])
	}
	return nil
}

// readBits reads width bits at bit offset off of p (packed from the
// least significant bit).
func readBits(p []byte, off uint, width uint8) uint64 {
	var v uint64
	var got uint8
	for got < width {
		b := uint64(p[off/8]) >> (off % 8)
		take := min(width-got, uint8(8-off%8))
		v |= (b & (1<<take - 1)) << got
		got += take
		off += uint(take)
	}
	return v
}

// decodedBlock is a block's keys: integers (codec int) or encodings.
type decodedBlock struct {
	isInt bool
	ints  []uint64
	keys  [][]byte
	arena []byte
}

func (d *decodedBlock) len() int {
	if d.isInt {
		return len(d.ints)
	}
	return len(d.keys)
}

// cmp compares key j with the encoded key k.
func (d *decodedBlock) cmp(j int, k []byte) int {
	if !d.isInt {
		return bytes.Compare(d.keys[j], k)
	}
	if v, ok := intKey(k); ok {
		return cmp.Compare(d.ints[j], v)
	}
	var buf [intKeyLen]byte
	return bytes.Compare(appendIntKey(buf[:0], d.ints[j]), k)
}

// lookup calls fn for every row of the data file whose key is one of keys
// (encoded, sorted, distinct), with the key's index in keys, the row's
// position and the greatest cursor of the row's block.
func (x *keyIndex) lookup(keys [][]byte, fn func(k int, pos int64, blockMax cursor)) error {
	if x.blocks == 0 {
		return nil
	}
	firsts := make([][]byte, x.blocks)
	var arena []byte
	ends := make([]int, x.blocks)
	for i := range x.blocks {
		var err error
		if arena, err = x.firstKey(arena, i); err != nil {
			return err
		}
		ends[i] = len(arena)
	}
	start := 0
	for i := range x.blocks {
		firsts[i] = arena[start:ends[i]]
		start = ends[i]
	}
	var blk decodedBlock
	decoded := -1
	for k, key := range keys {
		// the first row with this key is in the last block whose first
		// key is below it, or at the start of the next
		b := sort.Search(x.blocks, func(i int) bool { return bytes.Compare(firsts[i], key) >= 0 })
		if b > 0 {
			b--
		}
		for ; b < x.blocks; b++ {
			if bytes.Compare(firsts[b], key) > 0 {
				break
			}
			if decoded != b {
				if err := x.decodeBlock(b, &blk); err != nil {
					return err
				}
				decoded = b
			}
			n := blk.len()
			j := sort.Search(n, func(j int) bool { return blk.cmp(j, key) >= 0 })
			for ; j < n && blk.cmp(j, key) == 0; j++ {
				fn(k, int64(b)*keyIndexBlock+int64(j), x.maxCursor(b))
			}
			if j < n {
				break // the key's rows end in this block
			}
		}
	}
	return nil
}

// syncKeyIndexes deletes the key indexes of tbl (a _current table with
// primary key keyCols and cursor cursorCol) whose data file is no longer
// in the lake (removed by snapshot expiry or as an orphan), counting them
// as orphans, and writes the missing ones of its live sorted data files
// (tasks, its current snapshot planned: currentFiles) that another tool
// removed. An index is written after its data file, so
// listing the indexes first sees no index of a data file yet to come.
func syncKeyIndexes(ctx context.Context, fsys *icebergio.FS, tbl *table.Table, tasks []table.FileScanTask, keyCols []string, cursorCol string, m *Maintenance) error {
	root, err := fsys.Key(tbl.Location())
	if err != nil {
		return err
	}
	st := fsys.Store()
	indexes := map[string]bool{}
	for info, err := range st.List(ctx, root+"/"+keyIndexDir+"/") {
		if err != nil {
			return err
		}
		indexes[info.Key] = true
	}
	data := map[string]bool{}
	for info, err := range st.List(ctx, root+"/data/") {
		if err != nil {
			return err
		}
		data[path.Base(info.Key)] = true
	}
	for k := range indexes {
		if data[strings.TrimSuffix(path.Base(k), ".keys")+".parquet"] {
			continue
		}
		if err := st.Delete(ctx, k); err != nil {
			return err
		}
		m.RemovedOrphans++
	}
	order := keyOrderID(tbl, keyCols)
	if order == table.UnsortedSortOrderID {
		return nil
	}
	done := map[string]bool{}
	for _, task := range tasks {
		df := task.File
		p := keyIndexPath(tbl.Location(), df.FilePath())
		key, err := fsys.Key(p)
		if err != nil {
			return err
		}
		if id := df.SortOrderID(); id == nil || *id != order || indexes[key] || done[key] {
			continue
		}
		done[key] = true
		b, err := buildKeyIndex(ctx, fsys, df, keyCols, cursorCol)
		if err != nil {
			return fmt.Errorf("data file %s: %w", df.FilePath(), err)
		}
		if err := fsys.WithContext(ctx).WriteFile(p, b); err != nil {
			return err
		}
	}
	return nil
}

// buildKeyIndex builds the key index of the sorted data file df, reading
// its key and cursor columns.
func buildKeyIndex(ctx context.Context, fsys *icebergio.FS, df iceberg.DataFile, keyCols []string, cursorCol string) ([]byte, error) {
	r, err := openColumns(ctx, fsys, df.FilePath())
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var b keyIndexBuilder
	var key []byte
	names := append(slices.Clone(keyCols), cursorCol)
	for rg := range r.numRowGroups() {
		err := r.read(ctx, rg, names, 0, func(cols []arrow.Array, _ int64) error {
			for i := range cols[0].Len() {
				var err error
				if key, err = appendKey(key[:0], cols[:len(keyCols)], i); err != nil {
					return err
				}
				cur, err := cursorValue(cols[len(keyCols)], i)
				if err != nil {
					return fmt.Errorf("cursor column %q: %w", cursorCol, err)
				}
				if err := b.add(key, cur); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if b.rows != df.Count() {
		return nil, fmt.Errorf("%d rows read, %d in the manifest", b.rows, df.Count())
	}
	return b.finish(path.Base(df.FilePath()), df.FileSizeBytes()), nil
}
