package icetable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icecatalog"
)

// Lookup is what a table's history says of one object's commit.
type Lookup struct {
	// Exists is false for a table not created yet.
	Exists bool `json:"exists"`
	// SnapshotID is the snapshot that committed the object (0: none in
	// the history).
	SnapshotID int64 `json:"snapshot_id,omitempty"`
	// Since is the time of the oldest snapshot of the current history:
	// an object committed before it may have been in a snapshot that
	// maintenance expired since, so its absence proves nothing.
	Since time.Time `json:"since,omitzero"`
}

// Lookup looks for the commit of f's object in its table's history.
func (l *Lake) Lookup(ctx context.Context, f Files) (Lookup, error) {
	ns, name, ok := strings.Cut(f.Table, ".")
	if !ok {
		return Lookup{}, fmt.Errorf("icetable: lookup: %q is not namespace.table", f.Table)
	}
	tbl, err := l.load(ctx, table.Identifier{ns, name})
	if errors.Is(err, icecatalog.ErrNoSuchTable) {
		return Lookup{}, nil
	}
	if err != nil {
		return Lookup{}, err
	}
	out := Lookup{Exists: true}
	if snap := findObject(tbl, f.Object); snap != nil {
		out.SnapshotID = snap.SnapshotID
	}
	for s := tbl.CurrentSnapshot(); s != nil; {
		out.Since = time.UnixMilli(s.TimestampMs).UTC()
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	return out, nil
}
