package localrun

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// Layer is what one layer of the lake holds: objects, bytes and, for
// Parquet objects, rows (from their footers).
type Layer struct {
	Name    string `json:"name"`
	Prefix  string `json:"prefix"`
	Objects int64  `json:"objects"`
	Bytes   int64  `json:"bytes"`
	Rows    int64  `json:"rows"`
}

// Counts reads the objects, bytes and Parquet rows of every layer. Only
// footers are read, never whole objects; an object that is not readable
// Parquet (a quarantined file, a report) counts as an object with no rows.
func Counts(ctx context.Context, lake store.Store) ([]Layer, error) {
	out := make([]Layer, len(layout.Areas))
	for i, a := range layout.Areas {
		out[i] = Layer{Name: a.Name, Prefix: a.Prefix}
	}
	for i := range out {
		l := &out[i]
		for obj, err := range lake.List(ctx, l.Prefix) {
			if err != nil {
				return nil, fmt.Errorf("localrun: counting %s: %w", l.Prefix, err)
			}
			l.Objects++
			l.Bytes += obj.Size
			if strings.HasSuffix(obj.Key, ".parquet") && !strings.Contains(obj.Key, "/quarantine/") {
				l.Rows += parquetRows(ctx, lake, obj)
			}
		}
	}
	return out, nil
}

// parquetRows is the row count in obj's footer, 0 if it has none.
func parquetRows(ctx context.Context, lake store.Store, obj store.ObjectInfo) int64 {
	r, err := file.NewParquetReader(io.NewSectionReader(store.NewReaderAt(ctx, lake, obj.Key, obj.Size), 0, obj.Size))
	if err != nil {
		return 0
	}
	defer r.Close()
	return r.NumRows()
}
