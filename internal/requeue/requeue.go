// Package requeue puts a copy of a routed object back into bronze, so
// that the pipeline routes it again: `lake requeue KEY`.
//
// Route keeps the original bytes of every bronze object version: in the
// archive (archive/<table>/<stem>/<file>) always, and in quarantine
// (discarded/<table>/quarantine/<stem>/<file>, with a report.json) when
// the object could not be used. Once the cause is fixed (a contract that
// now takes the object's columns, a ruleset that was wrong), requeue
// copies it into landing under a new key,
//
//	bronze/landing/<table>/requeued-<UTC time>/<stem>/<file>
//
// so that it is a new object version with its own outputs: the next `lake
// run`, `lake serve` or, in AWS, the S3 event routes it. The copies it was
// made from stay.
//
// Requeueing an object whose rows were routed to the tables would add
// them to silver.<table> and discarded.<table> a second time, and one that
// is not routed yet is still in bronze and will be routed anyway: both are
// refused unless forced.
package requeue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
)

// Deps are the stores requeue works on.
type Deps struct {
	Lake store.Store
	// Archive holds archive/ (nil: the lake).
	Archive store.Store
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Options say what to requeue.
type Options struct {
	// Force requeues an object whose rows were routed, or that was not
	// routed at all.
	Force bool
}

// Result is what requeue did.
type Result struct {
	Table string `json:"table"`
	// From is the copy requeued (in the archive for archive/ keys, in
	// the lake for quarantined ones).
	From string `json:"from"`
	// Original is the bronze key the object had ("" when unknown).
	Original string `json:"original,omitempty"`
	// Key and ETag are the new bronze object's.
	Key  string `json:"key"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// RefusedError is a requeue refused because it would route rows twice;
// Force overrides it.
type RefusedError struct {
	Key    string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("requeue %s: %s; force it to requeue anyway", e.Key, e.Reason)
}

// Requeue copies the archived or quarantined object at key (or the object
// of a quarantine report.json) to a new key in landing.
func Requeue(ctx context.Context, d Deps, key string, opts Options) (Result, error) {
	if d.Archive == nil {
		d.Archive = d.Lake
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	k, quarantined, err := layout.KeysOfCopy(key)
	if err != nil {
		return Result{}, fmt.Errorf("requeue: %w", err)
	}
	rec, err := route.ReadRecord(ctx, d.Lake, k.RouteRecord())
	if err != nil {
		return Result{}, fmt.Errorf("requeue %s: %w", key, err)
	}
	switch {
	case opts.Force:
	case rec == nil:
		return Result{}, &RefusedError{Key: key, Reason: "the object is not routed (no " + k.RouteRecord() + "): it is still in bronze and the next run routes it"}
	case rec.QuarantineKey == "" && rec.RowsIn > 0:
		return Result{}, &RefusedError{Key: key, Reason: fmt.Sprintf("its %d rows were routed (%d to silver.%s, %d to discarded.%s); requeueing adds them again",
			rec.RowsIn, rec.SilverRows, rec.Table, rec.DiscardedRows, rec.Table)}
	}

	src, from := d.Archive, key
	if quarantined {
		src = d.Lake
	}
	if k.File == "" { // a quarantine report: the copy next to it
		if rec == nil || rec.QuarantineKey == "" {
			return Result{}, fmt.Errorf("requeue %s: no route record names the quarantined copy: give its key", key)
		}
		from = rec.QuarantineKey
		if k, _, err = layout.KeysOfCopy(from); err != nil {
			return Result{}, fmt.Errorf("requeue: %w", err)
		}
	}
	res := Result{Table: k.Table, From: from}
	if rec != nil {
		res.Original = rec.Key
	}
	res.Key = layout.Landing(k.Table) + "requeued-" + d.Now().UTC().Format("20060102T150405.000000Z") + "/" + k.Stem + "/" + k.File
	info, err := store.Copy(ctx, d.Lake, res.Key, src, from, "")
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("requeue: no object at %s: %w", from, err)
	}
	if err != nil {
		return Result{}, store.Wrap(err, "requeue: copy %s to %s", from, res.Key)
	}
	res.ETag, res.Size = info.ETag, info.Size
	return res, nil
}
