package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/medallionlake/lake/internal/store"
)

// WatermarkKey is the key of a table's current watermark record.
func WatermarkKey(table string) string { return "_meta/watermarks/" + table + ".json" }

// HistoryPrefix is the prefix of a table's watermark history: one record
// per advance, keyed by the new watermark so that keys sort in time order.
func HistoryPrefix(table string) string { return "_meta/watermarks/history/" + table + "/" }

func historyKey(table string, wm Instant) string {
	return HistoryPrefix(table) + wm.keyPart() + ".json"
}

// SchemaKey is the key of the column schema a table was last extracted with.
func SchemaKey(table string) string { return "_meta/tables/" + table + "/schema.json" }

// ReadWatermark returns the table's current watermark record and its ETag,
// or (nil, "", nil) when the table has never been ingested.
func ReadWatermark(ctx context.Context, st store.Store, table string) (*WatermarkRecord, string, error) {
	key := WatermarkKey(table)
	rc, info, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("ingest %s: read watermark: %w", table, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("ingest %s: read watermark %s: %w", table, key, err)
	}
	var rec WatermarkRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, "", fmt.Errorf("ingest %s: watermark %s is not a watermark record: %w", table, key, err)
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
	b, err := json.Marshal(rec)
	b = append(b, '\n') // one record per line, as Athena's JSON SerDe reads
	if err != nil {
		return fmt.Errorf("ingest %s: encode watermark: %w", rec.Table, err)
	}
	opts := &store.PutOptions{IfMatch: etag, IfNoneMatch: etag == "", ContentType: "application/json"}
	key := WatermarkKey(rec.Table)
	if _, err := st.Put(ctx, key, bytes.NewReader(b), opts); err != nil {
		if errors.Is(err, store.ErrPreconditionFailed) {
			return &WatermarkConflictError{Table: rec.Table, Key: key, Err: err}
		}
		return fmt.Errorf("ingest %s: advance watermark: %w", rec.Table, err)
	}
	// Only the run that advanced the watermark writes the history record,
	// at a key of its own: the history has no record of losers. A crash
	// right here leaves the watermark advanced and this one record missing.
	if _, err := st.Put(ctx, historyKey(rec.Table, rec.Watermark), bytes.NewReader(b), &store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("ingest %s: watermark advanced to %s, but its history record was not written: %w", rec.Table, rec.Watermark, err)
	}
	return nil
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
