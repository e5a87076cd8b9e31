package icetable

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/store"
)

// CommitConflictError is a commit that lost the race to other commits of
// the same table on every one of its attempts. Nothing of it was
// committed; its data files stay, unreferenced, until maintenance removes
// them as orphans, and the object should stay in bronze to be committed
// again. The state machine catches errors of this type (ErrorEquals:
// "CommitConflictError").
type CommitConflictError struct {
	Table    string
	Object   Object
	Attempts int
	Err      error // the last conflict
}

func (e *CommitConflictError) Error() string {
	return fmt.Sprintf("icetable: commit %s of %s (ETag %s): still conflicting after %d attempts: %v",
		e.Table, e.Object.Key, e.Object.ETag, e.Attempts, e.Err)
}

func (e *CommitConflictError) Unwrap() error { return e.Err }

// MissingDataFileError is Files naming a data file that is not in the lake
// (or not of the recorded size): typically written so long before its
// commit that maintenance removed it as an orphan. The object must be
// written again. The state machine catches errors of this type
// (ErrorEquals: "MissingDataFileError").
type MissingDataFileError struct {
	Table string
	Path  string
	Err   error
}

func (e *MissingDataFileError) Error() string {
	return fmt.Sprintf("icetable: commit %s: data file %s: %v; write the object again", e.Table, e.Path, e.Err)
}

func (e *MissingDataFileError) Unwrap() error { return e.Err }

// Committed is the outcome of a commit: JSON for a state's output.
type Committed struct {
	Table  string `json:"table"`
	Object Object `json:"object"`
	// SnapshotID is the snapshot that holds the object's rows (0 when it
	// had none: nothing was committed).
	SnapshotID int64 `json:"snapshot_id,omitempty"`
	// Already: the object was found in the table's history, committed by
	// an earlier attempt; nothing was changed.
	Already bool `json:"already_committed,omitempty"`
	// Attempts is how many commit attempts it took (1 without conflicts).
	Attempts int `json:"attempts"`
	// Rows is the rows the object's files hold.
	Rows int64 `json:"rows"`
	// Merge outcome (silver.<table>_current only): Replaced rows of the
	// table gave way to newer versions; Stale rows of the object were not
	// applied because the table (or the object itself) holds a version of
	// their key with a greater or equal cursor.
	Replaced int64 `json:"replaced,omitempty"`
	Stale    int64 `json:"stale,omitempty"`
}

// Commit commits the files that a Writer wrote for one object, in one
// snapshot of their table, recording the object's key and ETag in the
// snapshot summary. For silver.<table> and discarded.<table> that is an
// append; for silver.<table>_current a merge (see merge.go).
//
// A commit the table's history already holds (a retry, a duplicated
// execution) returns Already and changes nothing. A commit that loses the
// race to a concurrent one reloads the table and tries again, up to
// Options.MaxAttempts times, then returns a *CommitConflictError. Files
// with no rows commit nothing. A data file missing from the lake gives a
// *MissingDataFileError.
func (l *Lake) Commit(ctx context.Context, t *contract.Table, f Files) (Committed, error) {
	ident, err := Ident(f.Kind, t.Name)
	if err != nil {
		return Committed{}, err
	}
	name := strings.Join(ident, ".")
	if f.Table != name {
		return Committed{}, fmt.Errorf("icetable: files of %s given to the commit of %s", f.Table, name)
	}
	out := Committed{Table: name, Object: f.Object, Rows: f.Rows}
	if len(f.Files) == 0 {
		return out, nil
	}
	if err := l.checkFiles(ctx, f); err != nil {
		return Committed{}, err
	}
	var m *merger
	if f.Kind == Current {
		if m, err = l.newMerger(ctx, t, f); err != nil {
			return Committed{}, err
		}
	}
	var last error
	for out.Attempts = 1; out.Attempts <= l.opts.MaxAttempts; out.Attempts++ {
		tbl, err := l.load(ctx, ident)
		if err != nil {
			return Committed{}, err
		}
		if snap := findObject(tbl, f.Object); snap != nil {
			out.SnapshotID, out.Already = snap.SnapshotID, true
			return out, nil
		}
		if f.Kind == Current {
			err = l.merge(ctx, m, tbl, f, &out)
		} else {
			err = l.appendFiles(ctx, tbl, f, &out)
		}
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, table.ErrCommitFailed) {
			return Committed{}, err
		}
		last = err
		if err := l.wait(ctx, out.Attempts); err != nil {
			return Committed{}, err
		}
	}
	return Committed{}, &CommitConflictError{Table: name, Object: f.Object, Attempts: l.opts.MaxAttempts, Err: last}
}

// checkFiles checks that every data file of f is in the lake, whole.
func (l *Lake) checkFiles(ctx context.Context, f Files) error {
	fs := l.cat.FS()
	for _, d := range f.Files {
		key, err := fs.Key(d.Path)
		if err != nil {
			return &MissingDataFileError{Table: f.Table, Path: d.Path, Err: err}
		}
		info, err := fs.Store().Stat(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return &MissingDataFileError{Table: f.Table, Path: d.Path, Err: err}
		}
		if err != nil {
			return fmt.Errorf("icetable: commit %s: %w", f.Table, err)
		}
		if info.Size != d.Bytes {
			return &MissingDataFileError{Table: f.Table, Path: d.Path,
				Err: fmt.Errorf("%d bytes in the lake, %d written", info.Size, d.Bytes)}
		}
	}
	return nil
}

// summary is the snapshot summary of the commit of obj.
func summary(obj Object) iceberg.Properties {
	return iceberg.Properties{SummaryObjectKey: obj.Key, SummaryObjectETag: obj.ETag}
}

// findObject returns the snapshot in the history of tbl's current
// snapshot that committed obj, or nil.
func findObject(tbl *table.Table, obj Object) *table.Snapshot {
	for s := tbl.CurrentSnapshot(); s != nil; {
		if s.Summary != nil && s.Summary.Properties[SummaryObjectKey] == obj.Key && s.Summary.Properties[SummaryObjectETag] == obj.ETag {
			return s
		}
		if s.ParentSnapshotID == nil {
			return nil
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	return nil
}

// appendFiles appends f's files to tbl in one snapshot, provided tbl is
// still the table's current state.
func (l *Lake) appendFiles(ctx context.Context, tbl *table.Table, f Files, out *Committed) error {
	dfs, err := dataFiles(tbl, f)
	if err != nil {
		return err
	}
	txn := tbl.NewTransaction()
	if err := txn.AssertRefSnapshotID(table.MainBranch); err != nil {
		return fmt.Errorf("icetable: commit %s: %w", f.Table, err)
	}
	// Paths are fresh UUIDs and the history check above makes the commit
	// idempotent, so the (whole-table) duplicate path check is not needed.
	if err := txn.AddDataFiles(ctx, dfs, summary(f.Object), table.WithoutDuplicateCheck(), table.WithoutAutoNameMapping()); err != nil {
		return fmt.Errorf("icetable: commit %s: %w", f.Table, err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return fmt.Errorf("icetable: commit %s: %w", f.Table, err)
	}
	out.SnapshotID = next.CurrentSnapshot().SnapshotID
	return nil
}
