package icetable

import (
	"context"
	"errors"
	"strconv"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icecatalog"
)

// Stats are a table's totals at its current snapshot, from the
// snapshot's summary: no manifest or data file is read.
type Stats struct {
	Table string `json:"table"`
	// Exists is false for a table not created yet (every count is 0).
	Exists bool `json:"exists"`
	// Rows are the live rows: the data files' rows less the rows their
	// position delete files delete.
	Rows        int64 `json:"rows"`
	DataFiles   int64 `json:"data_files"`
	DeleteFiles int64 `json:"delete_files"`
	Bytes       int64 `json:"bytes"`
	Snapshots   int   `json:"snapshots"`
}

// Stats returns the totals of the kind of table of t.
func (l *Lake) Stats(ctx context.Context, kind Kind, t *contract.Table) (Stats, error) {
	ident, err := Ident(kind, t.Name)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Table: ident[0] + "." + ident[1]}
	tbl, err := l.load(ctx, ident)
	if errors.Is(err, icecatalog.ErrNoSuchTable) {
		return s, nil
	}
	if err != nil {
		return Stats{}, err
	}
	s.Exists, s.Snapshots = true, len(tbl.Metadata().Snapshots())
	snap := tbl.CurrentSnapshot()
	if snap == nil || snap.Summary == nil {
		return s, nil
	}
	n := func(key string) int64 {
		v, _ := strconv.ParseInt(snap.Summary.Properties[key], 10, 64)
		return v
	}
	s.Rows = n("total-records") - n("total-position-deletes")
	s.DataFiles, s.DeleteFiles, s.Bytes = n("total-data-files"), n("total-delete-files"), n("total-files-size")
	return s, nil
}
