package lakeparquet

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

func TestZstdCodec(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*zstdCodec); !ok {
		t.Fatalf("the registered zstd codec is %T, want *zstdCodec", c)
	}
	r := rand.New(rand.NewPCG(1, 2))
	page := make([]byte, 3<<20) // a page larger than the window: matches beyond it are not needed
	for i := range page {
		page[i] = "abcdefgh"[r.IntN(8)]
	}
	for _, tc := range []struct {
		name  string
		level int
	}{{"default", compress.DefaultCompressionLevel}, {"level 1", 1}, {"level 9", 9}} {
		t.Run(tc.name, func(t *testing.T) {
			enc := c.EncodeLevel(nil, page, tc.level)
			if len(enc) >= len(page) {
				t.Errorf("encoded %d bytes into %d", len(page), len(enc))
			}
			dec, err := compress.Decode(c, nil, enc)
			if err != nil || !bytes.Equal(dec, page) {
				t.Errorf("decode: %d bytes, %v; want the page back", len(dec), err)
			}
		})
	}
}
