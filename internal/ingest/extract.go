package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pgarrow"
)

// ObjectKey is the deterministic key of part n of a work item's extract:
//
//	bronze/landing/<table>/<lo>_<hi>/<range>/part-<n>.parquet
//
// with lo and hi as UTC instants (20060102T150405.000000Z, lo "start" for a
// first load) and range "all" or "<from|min>_<to|max>". Extracting the same
// item again writes the same keys.
func ObjectKey(table string, lo *Instant, hi Instant, r *KeyRange, part int) string {
	from := "start"
	if lo != nil {
		from = lo.keyPart()
	}
	return layout.BronzeObject(table, from, hi.keyPart(), r.keyPart(), part)
}

// extract streams the item's rows from the session's transaction into
// bronze objects. Decoding (here) and Parquet encoding (in the writer's
// goroutine) overlap.
func (s *session) extract(ctx context.Context, item WorkItem) (*Result, error) {
	start := time.Now()
	if item.Table != s.t.Name {
		return nil, fmt.Errorf("ingest %s: work item is for table %q", s.t.Name, item.Table)
	}
	if item.Lo != nil && item.Hi < *item.Lo {
		return nil, fmt.Errorf("ingest %s: work item's hi %s is below its lo %s", s.t.Name, item.Hi, *item.Lo)
	}
	if r := item.Range; r != nil && (len(s.t.PrimaryKey) != 1 || r.Column != s.t.PrimaryKey[0]) {
		return nil, fmt.Errorf("ingest %s: work item's key range is on %q, the primary key is %v", s.t.Name, r.Column, s.t.PrimaryKey)
	}
	res := &Result{Table: s.t.Name, Lo: item.Lo, Hi: item.Hi, Range: item.Range, Objects: []Object{}}
	if item.Lo != nil && item.Hi == *item.Lo && s.t.NullCursor != contract.NullCursorInclude {
		res.DurationMs = time.Since(start).Milliseconds()
		return res, nil // an empty interval: nothing to read
	}

	where, args := s.cursorFilter(item.Lo, item.Hi, 1)
	conds := []string{where}
	if r := item.Range; r != nil {
		if r.From != nil {
			args = append(args, *r.From)
			conds = append(conds, fmt.Sprintf("%s >= $%d", ident(r.Column), len(args)))
		}
		if r.To != nil {
			args = append(args, *r.To)
			conds = append(conds, fmt.Sprintf("%s < $%d", ident(r.Column), len(args)))
		}
	}
	// No ORDER BY: the interval is half-open and read in one snapshot, so
	// which rows an extract holds does not depend on their order, and a
	// sort of the whole extract would cost more than the rest of the run.
	query := fmt.Sprintf("SELECT %s FROM %s WHERE %s", s.desc.ColumnList(), s.desc.Ident(), strings.Join(conds, " AND "))

	keyFor := func(part int) string { return ObjectKey(s.t.Name, item.Lo, item.Hi, item.Range, part) }
	w := lakeparquet.NewWriter(ctx, s.in.Store, s.desc.Arrow, keyFor, lakeparquet.Options{TargetObjectBytes: s.in.ObjectSize})
	var rows int64
	var writeErr error
	lastReport := time.Now()
	err := pgarrow.Stream(ctx, s.tx, s.desc, query, args, s.in.BatchRows, func(rec arrow.RecordBatch) error {
		defer rec.Release()
		rows += rec.NumRows()
		if time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			s.in.progress("ingest %s %s: %d rows read", s.t.Name, item.Range.keyPart(), rows)
		}
		writeErr = w.Write(rec)
		return writeErr
	})
	if err != nil {
		w.Abort(err)
		if writeErr != nil {
			return nil, fmt.Errorf("ingest %s: write bronze: %w", s.t.Name, writeErr)
		}
		var unrep *pgarrow.UnrepresentableValueError
		if errors.As(err, &unrep) {
			return nil, err
		}
		return nil, s.fail("extract", err)
	}
	objs, err := w.Close()
	if err != nil {
		return nil, fmt.Errorf("ingest %s: write bronze: %w", s.t.Name, err)
	}
	for _, o := range objs {
		res.Objects = append(res.Objects, Object(o))
		res.Rows += o.Rows
		res.Bytes += o.Bytes
	}
	res.DurationMs = time.Since(start).Milliseconds()
	return res, nil
}
