package lakeparquet

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// TestZstdCodec checks that Parquet's zstd codec is the lake's and that
// what it compresses, at every level the writers use, is standard zstd.
func TestZstdCodec(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*zstdCodec); !ok {
		t.Fatalf("the registered zstd codec is %T, want *zstdCodec", c)
	}
	page := bytes.Repeat([]byte("ColumnValues \"status\" in $valid_statuses;"), 3<<20/40) // larger than the window
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, tt := range []struct {
		name  string
		level int
	}{{"default", compress.DefaultCompressionLevel}, {"level 1", 1}, {"level 3", 3}, {"level 9", 9}} {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // a fresh encoder, then an idle one
				z := c.EncodeLevel(nil, page, tt.level)
				got, err := dec.DecodeAll(z, nil)
				if err != nil || !bytes.Equal(got, page) {
					t.Fatalf("decoded %d bytes (err %v), want the %d compressed", len(got), err, len(page))
				}
				if got, err := compress.Decode(c, nil, z); err != nil || !bytes.Equal(got, page) {
					t.Fatalf("the codec decoded %d bytes (err %v), want %d", len(got), err, len(page))
				}
			}
		})
	}
}
