package lakeparquet

import (
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow is the window of the zstd encoders that compress Parquet
// pages: a data page is about 1 MiB (the writers' page size), so matches
// farther back do not exist.
const zstdWindow = 1 << 20

// maxIdleEncoders bounds the encoders kept per level between pages.
const maxIdleEncoders = 4

// zstdCodec is arrow-go's zstd codec (decoding, streams) with its own
// block encoders: arrow-go keeps them in a sync.Pool, which every GC
// empties, and each new one, with zstd's default 8 MiB window, allocates
// and clears a 16 MiB history to compress a page of 1 MiB. Under a memory
// limit GCs are frequent, and that was most of the bytes a write
// allocated and most of the runtime's work returning them. These have a
// 1 MiB window and a few stay idle across GCs. The frames are standard
// zstd, as before.
type zstdCodec struct {
	arrowCodec
	mu   sync.Mutex
	idle map[zstd.EncoderLevel][]*zstd.Encoder
}

// arrowCodec is what arrow-go's zstd codec implements.
type arrowCodec interface {
	compress.ErrorCodec
	compress.StreamingCodec
}

func init() {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err)
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdCodec{arrowCodec: c.(arrowCodec), idle: map[zstd.EncoderLevel][]*zstd.Encoder{}})
}

// Encode compresses src at zstd's default level.
func (c *zstdCodec) Encode(dst, src []byte) []byte {
	return c.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel compresses src at level, as arrow-go's codec does.
func (c *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	enc := c.get(l)
	out := enc.EncodeAll(src, dst[:0])
	c.put(l, enc)
	return out
}

func (c *zstdCodec) get(l zstd.EncoderLevel) *zstd.Encoder {
	c.mu.Lock()
	idle := c.idle[l]
	if n := len(idle); n > 0 {
		enc := idle[n-1]
		c.idle[l] = idle[:n-1]
		c.mu.Unlock()
		return enc
	}
	c.mu.Unlock()
	// the options of arrow-go's encoders, and the window
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(zstdWindow))
	if err != nil {
		panic(err) // the options are constant and valid
	}
	return enc
}

func (c *zstdCodec) put(l zstd.EncoderLevel, enc *zstd.Encoder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle[l]) < maxIdleEncoders {
		c.idle[l] = append(c.idle[l], enc)
	}
}
