package route

import (
	"context"
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// Route is the route step for the object in.Key at in.ETag, which the
// validate step judged (in is its output). In order:
//
//  1. If the route record of this version exists, the work is done: it
//     returns the record's output (AlreadyRouted), for the commit step to
//     finish. If the object was replaced since it was validated, it
//     writes nothing and fails with *bronze.ObjectChangedError (the new
//     version stays in bronze for its own event).
//  2. It copies the object, byte for byte and server-side where the store
//     can, to archive/<table>/<stem>/<file> in d.Archive, on the
//     condition that it is still the version validated, and checks the
//     copy's ETag or checksum. Nothing else is written before this
//     succeeds.
//  3. An unusable object (in.Problem) is copied to
//     discarded/<table>/quarantine/<stem>/ with a report.json.
//  4. Otherwise it reads the object once, all columns, and splits its
//     rows by the validate step's row log (it evaluates nothing) into data
//     files of the table's Iceberg tables: PASS sends every row to
//     silver.<table> and silver.<table>_current, SPLIT the passing rows
//     there and the failing rows to discarded.<table> with Glue's
//     row-level columns, REJECT every row to discarded. Nothing is
//     committed: the files are listed in the record. It checks that rows
//     in = silver rows + discarded rows (*ConservationError).
//  5. It checks that the object did not change meanwhile, and writes the
//     route record to _meta/routes/ last. The bronze object stays: the
//     commit step deletes it once the files are committed.
//
// Errors are those of bronze.Find, *bronze.ObjectChangedError,
// *ResultMismatchError, *ConservationError, *icetable.SchemaDriftError,
// and *store.StoreUnavailableError (retryable: a retry writes new data
// files, and those of the failed attempt, never committed, are orphans
// that maintenance removes).
func Route(ctx context.Context, d Deps, in Input) (Output, error) {
	if d.Archive == nil {
		d.Archive = d.Lake
	}
	if in.Key == "" || in.ETag == "" {
		return Output{}, &ResultMismatchError{Key: in.Key, Detail: "the input names no object key and ETag"}
	}
	o, err := bronze.Find(ctx, bronze.Deps{Lake: d.Lake, Tables: d.Tables}, in.Key, in.ETag)
	if err != nil {
		return Output{}, err
	}
	out := Output{Key: o.Key, ETag: o.Info.ETag, Table: o.Table.Name, Stem: o.Keys.Stem}
	rec, err := ReadRecord(ctx, d.Lake, o.Keys.RouteRecord())
	switch {
	case err != nil:
		return Output{}, err
	case rec != nil:
		rec.Output.AlreadyRouted = true
		return rec.Output, nil
	case in.Verdict == validate.Done:
		out.Verdict, out.Reason = validate.Done, in.Reason
		return out, nil
	case o.Superseded:
		return Output{}, &bronze.ObjectChangedError{Key: o.Key, ETag: o.Info.ETag, Now: "another version"}
	case o.Gone:
		return Output{}, &bronze.ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
	case in.Table != o.Table.Name || in.Stem != o.Keys.Stem:
		return Output{}, &ResultMismatchError{Key: o.Key, Detail: fmt.Sprintf("it is for table %q, stem %q", in.Table, in.Stem)}
	}

	if _, err := copyVersion(ctx, d.Archive, o.Keys.Archive(), d.Lake, o); err != nil {
		return Output{}, err
	}
	out.ArchiveKey, out.ResultKey = o.Keys.Archive(), in.ResultKey
	r := Record{Output: out, RulesNow: o.RulesNow()}
	problem := in.Problem
	if problem == nil {
		if problem, err = split(ctx, d, o, in, &r); err != nil {
			return Output{}, err
		}
	}
	if problem != nil {
		if err := quarantine(ctx, d, o, problem, &r); err != nil {
			return Output{}, err
		}
	}
	if err := o.CheckUnchanged(ctx, d.Lake); err != nil {
		return Output{}, err // the data files written are never committed
	}
	r.RecordKey, r.RoutedAt = o.Keys.RouteRecord(), d.Clock()
	if _, err := store.PutJSON(ctx, d.Lake, r.RecordKey, r, nil); err != nil {
		return Output{}, err
	}
	return r.Output, nil
}

// ReadRecord reads the route record at key, or returns nil if there is
// none (the object version is not routed yet).
func ReadRecord(ctx context.Context, st store.Store, key string) (*Record, error) {
	var r Record
	if _, found, err := store.GetJSON(ctx, st, key, &r); !found || err != nil {
		return nil, err
	}
	return &r, nil
}

// copyVersion copies the object o, at the version o was found at, to key
// in dst, and checks the copy (store.Copy).
func copyVersion(ctx context.Context, dst store.Store, key string, src store.Store, o *bronze.Object) (store.ObjectInfo, error) {
	info, err := store.Copy(ctx, dst, key, src, o.Key, o.Info.ETag)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.ObjectInfo{}, &bronze.ObjectChangedError{Key: o.Key, ETag: o.Info.ETag}
	case errors.Is(err, store.ErrPreconditionFailed):
		return store.ObjectInfo{}, &bronze.ObjectChangedError{Key: o.Key, ETag: o.Info.ETag, Now: "another version"}
	case err != nil:
		return store.ObjectInfo{}, store.Wrap(err, "route: copy %q to %q", o.Key, key)
	case info.Size != o.Info.Size:
		return store.ObjectInfo{}, fmt.Errorf("route: copy %q to %q: copied %d bytes, the object has %d: %w", o.Key, key, info.Size, o.Info.Size, store.ErrCopyMismatch)
	}
	return info, nil
}

// quarantine copies the unusable object next to a report naming it and
// the problem, and makes the record a REJECT of it.
func quarantine(ctx context.Context, d Deps, o *bronze.Object, p *bronze.Problem, r *Record) error {
	key := o.Keys.Quarantine()
	if _, err := copyVersion(ctx, d.Lake, key, d.Lake, o); err != nil {
		return err
	}
	rep := QuarantineReport{
		Object: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name,
		Problem: *p, QuarantinedAt: d.Clock(), Quarantine: key, Archive: o.Keys.Archive(),
	}
	if _, err := store.PutJSON(ctx, d.Lake, o.Keys.QuarantineReport(), rep, nil); err != nil {
		return err
	}
	r.QuarantineKey = key
	r.Verdict, r.Problem = validate.Reject, &bronze.Problem{Kind: p.Kind, Detail: validate.Clip(p.Detail)}
	r.Reason = "unusable object: " + r.Problem.String()
	r.Silver, r.Current, r.Discarded = icetable.Files{}, icetable.Files{}, icetable.Files{}
	r.RowsIn, r.SilverRows, r.DiscardedRows, r.SilverFiles, r.DiscardedFiles = 0, 0, 0, 0, 0
	r.Partitions, r.PartitionsTruncated = nil, false
	return nil
}
