package route

import (
	"context"
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
)

// Route is the route step for the object in.Key at in.ETag. In order:
//
//  1. If the route record of this version exists, the work is done: it
//     deletes the bronze object if it is still there and returns the
//     record (AlreadyRouted). If the object was replaced since the event,
//     it returns DONE and touches nothing.
//  2. It copies the object, byte for byte, to archive/<table>/<stem>/<file>
//     in d.Archive. Nothing else is written before this succeeds.
//  3. An unusable object (see validate.Open) is copied to
//     discarded/<table>/quarantine/<stem>/ with a report.json.
//  4. Otherwise it evaluates the ruleset again (one pass over the rules'
//     columns and the partition column) and routes by that verdict in a
//     second streaming pass over all columns: PASS sends every row to
//     silver, SPLIT the passing rows to silver and the failing rows to
//     discarded/<table>/rows/, REJECT every row to discarded. It checks
//     that rows in = silver rows + discarded rows (*ConservationError).
//  5. It writes the result to _meta/dq/, the route record to
//     _meta/routes/, and then deletes the bronze object (unless it was
//     replaced meanwhile).
//
// Errors are those of validate.Open, *ConservationError, and
// *store.StoreUnavailableError (retryable; a retry overwrites the outputs
// already written, at the same keys).
func Route(ctx context.Context, d Deps, in Input) (Output, error) {
	if d.Archive == nil {
		d.Archive = d.Lake
	}
	o, err := validate.Open(ctx, d.Deps, validate.Input{Key: in.Key, ETag: in.ETag, Size: in.Size})
	if err != nil {
		return Output{}, err
	}
	out := Output{Key: o.Key, ETag: o.Info.ETag, Table: o.Table.Name, Stem: o.Keys.Stem}
	rec, err := ReadRecord(ctx, d.Lake, o.Keys.RouteRecord())
	if err != nil {
		return Output{}, err
	}
	switch {
	case rec != nil:
		if o.Done == "" {
			// routed, but the bronze delete did not happen: finish it
			if err := deleteBronze(ctx, d.Lake, o); err != nil {
				return Output{}, err
			}
		}
		rec.Output.AlreadyRouted = true
		return rec.Output, nil
	case o.Done != "":
		out.Verdict, out.Reason = validate.Done, o.Done
		return out, nil
	}

	ainfo, err := store.Copy(ctx, d.Archive, o.Keys.Archive(), d.Lake, o.Key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Output{}, &validate.ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
		}
		return Output{}, validate.StoreError(err, "route: archive %q", o.Key)
	}
	if ainfo.Size != o.Info.Size {
		return Output{}, fmt.Errorf("route: archive %q: copied %d bytes, the object has %d", o.Key, ainfo.Size, o.Info.Size)
	}
	out.ArchiveKey = o.Keys.Archive()

	r := Record{RulesNow: o.RulesNow()}
	if o.Problem == nil {
		if err := route(ctx, d, o, &r); err != nil {
			return Output{}, err
		}
		if in.Verdict != "" && in.Verdict != r.Verdict && o.Problem == nil {
			r.Reason = validate.Clip(fmt.Sprintf("routed by this step's evaluation, %s, not the input's %s (the ruleset changed in between): %s", r.Verdict, in.Verdict, r.Reason))
		}
	}
	if o.Problem != nil {
		if err := quarantine(ctx, d, o, &out); err != nil {
			return Output{}, err
		}
		r.Verdict, r.Problem = validate.Reject, o.Problem
		r.Reason = "unusable object: " + o.Problem.String()
		if err := o.WriteResult(ctx, d.Lake, "route", d.Clock(), validate.Reject, nil); err != nil {
			return Output{}, err
		}
	}
	r.Key, r.ETag, r.Table, r.Stem = out.Key, out.ETag, out.Table, out.Stem
	r.ArchiveKey, r.QuarantineKey = out.ArchiveKey, out.QuarantineKey
	r.ResultKey, r.RecordKey = o.Keys.DQResult(), o.Keys.RouteRecord()
	r.RoutedAt = d.Clock()
	if err := validate.PutJSON(ctx, d.Lake, r.RecordKey, r); err != nil {
		return Output{}, err
	}
	if err := deleteBronze(ctx, d.Lake, o); err != nil {
		return Output{}, err
	}
	return r.Output, nil
}

// ReadRecord reads the route record at key, or returns nil if there is
// none (the object version is not routed yet).
func ReadRecord(ctx context.Context, st store.Store, key string) (*Record, error) {
	var r Record
	if ok, err := validate.GetJSON(ctx, st, key, &r); !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// deleteBronze deletes the bronze object if it is still the version
// routed; a newer version is left for its own event.
func deleteBronze(ctx context.Context, st store.Store, o *validate.Object) error {
	info, err := st.Stat(ctx, o.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return validate.StoreError(err, "route: stat %q", o.Key)
	case validate.NormalizeETag(info.ETag) != o.Info.ETag:
		return nil
	}
	if err := st.Delete(ctx, o.Key); err != nil {
		return validate.StoreError(err, "route: delete %q", o.Key)
	}
	return nil
}

// quarantine copies the unusable object next to a report naming it and the
// problem.
func quarantine(ctx context.Context, d Deps, o *validate.Object, out *Output) error {
	key := o.Keys.Quarantine()
	if _, err := store.Copy(ctx, d.Lake, key, d.Lake, o.Key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &validate.ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
		}
		return validate.StoreError(err, "route: quarantine %q", o.Key)
	}
	rep := QuarantineReport{
		Object: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name,
		Problem: *o.Problem, QuarantinedAt: d.Clock(), Quarantine: key, Archive: o.Keys.Archive(),
	}
	if err := validate.PutJSON(ctx, d.Lake, o.Keys.QuarantineReport(), rep); err != nil {
		return err
	}
	out.QuarantineKey = key
	return nil
}
