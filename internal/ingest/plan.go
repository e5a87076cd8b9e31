package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// MaxParts caps PlanRequest.Parts.
const MaxParts = 1000

// sampleRows is about how many keys the planner reads to place range
// boundaries; larger tables are sampled (TABLESAMPLE SYSTEM).
const sampleRows = 1_000_000

// plan reads the watermark, connects, fixes hi, opens the run's snapshot
// and splits the key space into at most parts ranges. The returned session
// holds the snapshot open; the caller closes it.
func (in *Ingester) plan(ctx context.Context, t *contract.Table, parts int) (*session, *Plan, error) {
	// The watermark is read before hi is fixed, so that lo <= hi unless hi
	// was held back (see below).
	wm, etag, err := ReadWatermark(ctx, in.Store, t.Name)
	if err != nil {
		return nil, nil, err
	}
	s, err := in.connect(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	var lo *Instant
	if wm != nil {
		lo = &wm.Watermark
	}
	hi, reason, err := s.bound(ctx, lo)
	if err != nil {
		return nil, nil, err
	}
	p := &Plan{Table: t.Name, Cursor: t.Cursor, Hi: hi, HiReason: reason, WatermarkETag: etag, Lo: lo}
	if wm != nil {
		if wm.Cursor != t.Cursor {
			return nil, nil, fmt.Errorf("ingest %s: the watermark %s is for cursor %q but the contract's cursor is %q; "+
				"delete the watermark to re-extract the table by the new cursor", t.Name, layout.Watermark(t.Name), wm.Cursor, t.Cursor)
		}
		if p.Hi < *lo {
			// A transaction in flight started before the last run's bound
			// was fixed (within the margin): never move backwards.
			p.Hi = *lo
			p.HiReason += fmt.Sprintf("; held at the watermark %s", lo)
		}
	}
	resumed, err := in.resume(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if err := s.begin(ctx, ""); err != nil {
		return nil, nil, err
	}
	if err := in.writeSchema(ctx, s); err != nil {
		return nil, nil, err
	}
	if err := s.checkNullCursor(ctx); err != nil {
		return nil, nil, err
	}
	ranges, err := s.ranges(ctx, p, parts)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range ranges {
		p.Items = append(p.Items, WorkItem{Table: t.Name, Lo: p.Lo, Hi: p.Hi, Range: r})
	}
	if !resumed {
		if err := in.recordPending(ctx, p); err != nil {
			return nil, nil, err
		}
	}
	ok = true
	return s, p, nil
}

// pendingBounds are the bounds of an extract that started from the
// watermark with ETag WatermarkETag ("": none) and has not advanced it:
// written by the plan before anything is extracted.
type pendingBounds struct {
	Table         string   `json:"table"`
	Cursor        string   `json:"cursor"`
	Lo            *Instant `json:"lo,omitempty"`
	Hi            Instant  `json:"hi"`
	HiReason      string   `json:"hi_reason"`
	WatermarkETag string   `json:"watermark_etag,omitempty"`
}

// resume makes a run redo the interval of a run that died (or failed)
// between writing bronze objects and advancing the watermark, instead of
// extracting the same rows again into objects of a longer interval: when
// the bounds recorded at layout.IngestPending (recordPending) start from
// the watermark p starts from (same ETag), p takes their Hi, so the rerun
// writes the same keys and the rows that changed since wait for the next
// run. A successful Commit changes the watermark's ETag, which makes the
// record stale. It reports whether p took the recorded bounds.
func (in *Ingester) resume(ctx context.Context, p *Plan) (bool, error) {
	var prev pendingBounds
	_, found, err := store.GetJSON(ctx, in.Store, layout.IngestPending(p.Table), &prev)
	if err != nil {
		return false, store.Wrap(err, "ingest %s: read the pending extract", p.Table)
	}
	if !found || prev.Table != p.Table || prev.Cursor != p.Cursor || prev.WatermarkETag != p.WatermarkETag ||
		!sameInstant(prev.Lo, p.Lo) || prev.Hi > p.Hi || (p.Lo != nil && prev.Hi <= *p.Lo) {
		return false, nil
	}
	p.Hi, p.HiReason = prev.Hi, "the bound of an extract that did not commit ("+prev.HiReason+")"
	return true, nil
}

// recordPending records p's bounds for resume, before anything is
// extracted; an empty interval (held at the watermark) writes nothing and
// needs no record.
func (in *Ingester) recordPending(ctx context.Context, p *Plan) error {
	if p.Lo != nil && p.Hi <= *p.Lo {
		return nil
	}
	rec := pendingBounds{Table: p.Table, Cursor: p.Cursor, Lo: p.Lo, Hi: p.Hi, HiReason: p.HiReason, WatermarkETag: p.WatermarkETag}
	if _, err := store.PutJSON(ctx, in.Store, layout.IngestPending(p.Table), rec, nil); err != nil {
		return store.Wrap(err, "ingest %s: record the pending extract", p.Table)
	}
	return nil
}

// checkNullCursor refuses a table with NULL cursors when the contract says
// null_cursor: fail.
func (s *session) checkNullCursor(ctx context.Context) error {
	c, _ := s.desc.Column(s.t.Cursor)
	if s.t.NullCursor != contract.NullCursorFail || c.NotNull {
		return nil
	}
	var n int64
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", s.desc.Ident(), ident(s.t.Cursor))
	if err := s.tx.QueryRow(ctx, q).Scan(&n); err != nil {
		return s.fail("count NULL cursors", err)
	}
	if n > 0 {
		return &NullCursorError{Table: s.t.Name, Source: s.t.Source.Schema + "." + s.t.Source.Table, Column: s.t.Cursor, Rows: n}
	}
	return nil
}

// ranges splits the key space into at most parts half-open ranges that
// neither overlap nor leave gaps: the first has no lower bound, the last no
// upper bound, and the boundaries in between are quantiles of the keys of
// the rows this run extracts (sampled on large tables), so clustered keys
// still give ranges of similar row counts. A table whose primary key is not
// a single integer column, an empty interval or parts <= 1 give one item
// with a nil range (everything).
func (s *session) ranges(ctx context.Context, p *Plan, parts int) ([]*KeyRange, error) {
	parts = min(parts, MaxParts)
	if parts <= 1 || len(s.t.PrimaryKey) != 1 {
		return []*KeyRange{nil}, nil
	}
	key := s.t.PrimaryKey[0]
	c, _ := s.desc.Column(key)
	switch c.OID {
	case 20, 21, 23: // bigint, smallint, integer
	default:
		return []*KeyRange{nil}, nil
	}
	var reltuples float64
	if err := s.tx.QueryRow(ctx, "SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1::regclass", s.desc.Ident()).Scan(&reltuples); err != nil {
		return nil, s.fail("plan ranges", err)
	}
	from := s.desc.Ident()
	if reltuples > sampleRows {
		from += fmt.Sprintf(" TABLESAMPLE SYSTEM (%g)", 100*sampleRows/reltuples)
	}
	fractions := make([]float64, parts-1)
	for i := range fractions {
		fractions[i] = float64(i+1) / float64(parts)
	}
	where, args := s.cursorFilter(p.Lo, p.Hi, 1)
	q := fmt.Sprintf("SELECT min(%[2]s)::bigint, percentile_disc($%[1]d::float8[]) WITHIN GROUP (ORDER BY %[2]s)::bigint[] FROM %[3]s WHERE %[4]s",
		len(args)+1, ident(key), from, where)
	var least *int64
	var bounds []*int64
	if err := s.tx.QueryRow(ctx, q, append(args, fractions)...).Scan(&least, &bounds); err != nil {
		return nil, s.fail("plan ranges", err)
	}
	var cuts []int64
	for _, b := range bounds {
		// A cut at the least key would only make the first range empty.
		if b != nil && *b > *least {
			cuts = append(cuts, *b)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	return splitAt(key, cuts), nil
}

// splitAt returns the ranges (-inf, cuts[0]), [cuts[0], cuts[1]), ...,
// [cuts[n-1], +inf) for sorted, distinct cuts.
func splitAt(column string, cuts []int64) []*KeyRange {
	if len(cuts) == 0 {
		return []*KeyRange{nil}
	}
	out := make([]*KeyRange, 0, len(cuts)+1)
	var from *int64
	for i := range cuts {
		to := &cuts[i]
		out = append(out, &KeyRange{Column: column, From: from, To: to})
		from = to
	}
	return append(out, &KeyRange{Column: column, From: from})
}

// cursorFilter is the WHERE condition selecting the cursor interval
// [lo, hi) (lo nil: no lower bound), plus the NULL cursors when the
// contract says include, with its arguments numbered from $n. Bounds are
// passed as microseconds since the epoch and turned into the cursor's own
// type in SQL, so the session's time zone plays no part: for timestamptz
// they are instants; for timestamp (without time zone) they are UTC wall
// clock times.
func (s *session) cursorFilter(lo *Instant, hi Instant, n int) (string, []any) {
	c, _ := s.desc.Column(s.t.Cursor)
	epoch := "'epoch'::timestamptz"
	if c.OID == oidTimestamp {
		epoch = "'epoch'::timestamp"
	}
	col := ident(s.t.Cursor)
	at := func(i int) string { return fmt.Sprintf("(%s + $%d::bigint * interval '1 microsecond')", epoch, i) }
	var conds []string
	var args []any
	if lo != nil {
		conds = append(conds, fmt.Sprintf("%s >= %s", col, at(n)))
		args = append(args, int64(*lo))
		n++
	}
	conds = append(conds, fmt.Sprintf("%s < %s", col, at(n)))
	args = append(args, int64(hi))
	where := strings.Join(conds, " AND ")
	if s.t.NullCursor == contract.NullCursorInclude {
		where = fmt.Sprintf("((%s) OR %s IS NULL)", where, col)
	}
	return where, args
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func (in *Ingester) writeSchema(ctx context.Context, s *session) error {
	ts := layout.TableSchema{
		Table: s.t.Name, Source: s.t.Source.Schema + "." + s.t.Source.Table,
		PrimaryKey: s.t.PrimaryKey, Cursor: s.t.Cursor,
	}
	for i, c := range s.desc.Columns {
		f := s.desc.Arrow.Field(i)
		ts.Columns = append(ts.Columns, layout.ColumnSchema{Name: c.Name, Type: c.Type, Arrow: f.Type.String(), Nullable: f.Nullable})
	}
	if _, err := store.PutJSON(ctx, in.Store, layout.SchemaKey(s.t.Name), ts, nil); err != nil {
		return store.Wrap(err, "ingest %s: write schema", s.t.Name)
	}
	return nil
}
