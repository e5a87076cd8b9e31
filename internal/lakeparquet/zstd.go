package lakeparquet

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow is the window of the zstd encoders that compress Parquet
// pages in this process. arrow-go's encoders keep zstd's default window
// of 8 MiB, which each pooled encoder allocates for its history, although
// a page (1 MiB by default) never reaches back that far: route writes the
// partitions of three tables at once, and a dozen pooled encoders then
// held 96 MiB of a 256 MB function's memory (heap profile of
// scripts/bench-route.sh at 3,000,000 rows). With a window of one page the
// pages compress the same and each encoder holds about 2 MiB.
const zstdWindow = 1 << 20

// init replaces arrow-go's zstd codec, for every Parquet file this
// process writes (ingest's bronze objects, the Iceberg tables' data files),
// by one whose encoders use zstdWindow; decoding is arrow-go's.
func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(fmt.Sprintf("lakeparquet: arrow-go's zstd codec: %v", err))
	}
	b, ok := base.(zstdBase)
	if !ok {
		panic(fmt.Sprintf("lakeparquet: arrow-go's zstd codec %T lacks block error decoding or streaming", base))
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdCodec{zstdBase: b})
}

// zstdBase is what arrow-go's zstd codec does that zstdCodec keeps.
type zstdBase interface {
	compress.ErrorCodec
	compress.StreamingCodec
}

// zstdCodec is arrow-go's zstd codec with encoders of window zstdWindow,
// pooled per level.
type zstdCodec struct {
	zstdBase
	pools sync.Map // zstd.EncoderLevel -> *sync.Pool of *zstd.Encoder
}

// Encode implements compress.Codec.
func (c *zstdCodec) Encode(dst, src []byte) []byte {
	return c.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel implements compress.Codec, with arrow-go's levels: zstd's
// levels, and its default for compress.DefaultCompressionLevel.
func (c *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	p, _ := c.pools.LoadOrStore(l, &sync.Pool{New: func() any {
		enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l),
			zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(zstdWindow))
		if err != nil {
			panic(fmt.Sprintf("lakeparquet: zstd encoder: %v", err)) // the options are constants
		}
		return enc
	}})
	pool := p.(*sync.Pool)
	enc := pool.Get().(*zstd.Encoder)
	defer pool.Put(enc)
	return enc.EncodeAll(src, dst[:0])
}
