package localrun

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// Layer is what one layer of the lake holds: for bronze and the archive,
// objects, bytes and rows (from the Parquet objects' footers); for an
// Iceberg table, its data files, their bytes and its live rows at the
// current snapshot.
type Layer struct {
	Name    string `json:"name"`
	Prefix  string `json:"prefix"`
	Objects int64  `json:"objects"`
	Bytes   int64  `json:"bytes"`
	Rows    int64  `json:"rows"`
}

// Counts lists what every layer holds: bronze and the archive by listing
// them and reading their Parquet objects' footers (never whole objects; an
// object that is not Parquet counts with no rows), and, when tables is
// not nil, each contract table's Iceberg tables
// (silver.<t>, silver.<t>_current, discarded.<t>) from their current
// snapshots' summaries, without reading a data file.
func Counts(ctx context.Context, lake store.Store, tables *icetable.Lake, contracts []*contract.Table) ([]Layer, error) {
	var out []Layer
	for _, a := range layout.Areas {
		l := Layer{Name: a.Name, Prefix: a.Prefix}
		for obj, err := range lake.List(ctx, l.Prefix) {
			if err != nil {
				return nil, fmt.Errorf("localrun: counting %s: %w", l.Prefix, err)
			}
			l.Objects++
			l.Bytes += obj.Size
			l.Rows += parquetRows(ctx, lake, obj)
		}
		out = append(out, l)
	}
	if tables == nil {
		return out, nil
	}
	for _, t := range contracts {
		for _, kind := range icetable.Kinds {
			s, err := tables.Stats(ctx, kind, t)
			if err != nil {
				return nil, fmt.Errorf("localrun: counting %s of %s: %w", kind, t.Name, err)
			}
			ident, _ := icetable.Ident(kind, t.Name)
			out = append(out, Layer{Name: s.Table, Prefix: layout.IcebergLocation(ident[0], ident[1]), Objects: s.DataFiles, Bytes: s.Bytes, Rows: s.Rows})
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
