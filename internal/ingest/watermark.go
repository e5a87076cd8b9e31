package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// ReadWatermark returns the table's current watermark record and its ETag,
// or (nil, "", nil) when the table has never been ingested.
func ReadWatermark(ctx context.Context, st store.Store, table string) (*WatermarkRecord, string, error) {
	key := layout.Watermark(table)
	var rec WatermarkRecord
	info, found, err := store.GetJSON(ctx, st, key, &rec)
	if err != nil {
		return nil, "", store.Wrap(err, "ingest %s: read watermark", table)
	}
	if !found {
		return nil, "", nil
	}
	if rec.Table != table {
		return nil, "", fmt.Errorf("ingest %s: watermark %s names table %q", table, key, rec.Table)
	}
	return &rec, info.ETag, nil
}

// advance writes rec as the table's watermark if the current one still has
// ETag etag (or, for etag "", if there is none yet), then appends rec to
// the history. A lost race returns *WatermarkConflictError.
func advance(ctx context.Context, st store.Store, etag string, rec *WatermarkRecord) error {
	key := layout.Watermark(rec.Table)
	if _, err := store.PutJSON(ctx, st, key, rec, &store.PutOptions{IfMatch: etag, IfNoneMatch: etag == ""}); err != nil {
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return store.Wrap(err, "ingest %s: advance watermark", rec.Table)
		}
		// The condition fails too when this very write was applied but its
		// answer was lost, and the store's client sent it again: the
		// watermark is then rec.
		cur, _, rerr := ReadWatermark(ctx, st, rec.Table)
		if rerr != nil {
			return rerr
		}
		if cur == nil || !cur.sameAdvance(rec) {
			return &WatermarkConflictError{Table: rec.Table, Key: key, Err: err}
		}
	}
	// Only the run that advanced the watermark writes the history record,
	// at a key of its own: the history has no record of losers. A crash
	// right here leaves the watermark advanced and this one record missing.
	if _, err := store.PutJSON(ctx, st, layout.WatermarkHistoryRecord(rec.Table, rec.Watermark.keyPart()), rec, nil); err != nil {
		return store.Wrap(err, "ingest %s: watermark advanced to %s, but its history record was not written: %w", rec.Table, rec.Watermark, err)
	}
	return nil
}

// sameAdvance reports whether r and o record the same advance (from the
// same watermark to the same one, at the same instant).
func (r *WatermarkRecord) sameAdvance(o *WatermarkRecord) bool {
	return r.Table == o.Table && r.Cursor == o.Cursor && r.Watermark == o.Watermark &&
		sameInstant(r.Previous, o.Previous) && r.AdvancedAt == o.AdvancedAt
}

// Commit advances the plan's watermark from Lo to Hi once every work item
// of the plan has been extracted (their results are in req.Results), if no
// other run advanced it since the plan read it; otherwise it returns
// *WatermarkConflictError and the watermark is unchanged.
func (in *Ingester) Commit(ctx context.Context, req CommitRequest) (*Result, error) {
	start := time.Now()
	p := req.Plan
	t, err := in.contract(p.Table)
	if err != nil {
		return nil, err
	}
	if p.Cursor != t.Cursor {
		return nil, fmt.Errorf("ingest %s: plan is for cursor %q, the contract's cursor is %q", p.Table, p.Cursor, t.Cursor)
	}
	res := &Result{Table: p.Table, Lo: p.Lo, Hi: p.Hi, HiReason: p.HiReason, Objects: []Object{}}
	for _, r := range req.Results {
		if r.Table != p.Table || r.Hi != p.Hi || !sameInstant(r.Lo, p.Lo) {
			return nil, fmt.Errorf("ingest %s: a result for %s [%v, %s) does not belong to the plan [%v, %s)", p.Table, r.Table, r.Lo, r.Hi, p.Lo, p.Hi)
		}
		res.Objects = append(res.Objects, r.Objects...)
		res.Rows += r.Rows
		res.Bytes += r.Bytes
	}
	if len(req.Results) != len(p.Items) {
		return nil, fmt.Errorf("ingest %s: %d results for a plan of %d items", p.Table, len(req.Results), len(p.Items))
	}
	if p.Lo != nil && p.Hi <= *p.Lo {
		// Nothing new could be read (hi was held at lo): leave the
		// watermark and its history as they are.
		res.Watermark = p.Lo
		res.DurationMs = time.Since(start).Milliseconds()
		return res, nil
	}
	rec := &WatermarkRecord{
		Table: p.Table, Cursor: p.Cursor, Watermark: p.Hi, Previous: p.Lo,
		AdvancedAt: InstantOf(time.Now()), Objects: len(res.Objects), Rows: res.Rows, Bytes: res.Bytes,
	}
	if err := advance(ctx, in.Store, p.WatermarkETag, rec); err != nil {
		return nil, err
	}
	res.Watermark = &p.Hi
	res.DurationMs = time.Since(start).Milliseconds()
	return res, nil
}

func sameInstant(a, b *Instant) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
