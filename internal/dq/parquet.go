package dq

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"

	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/lakeparquet"
)

// Validate evaluates rs over the Parquet object r in one streaming pass,
// reading only the columns the rules need (strings as dictionaries).
func Validate(ctx context.Context, r parquet.ReaderAtSeeker, rs *dqdl.Ruleset, opts Options) (*Result, error) {
	src, err := lakeparquet.Open(r, lakeparquet.ReadOptions{Dictionaries: true})
	if err != nil {
		return nil, err
	}
	if opts.ExpectedRows == 0 {
		opts.ExpectedRows = src.NumRows()
	}
	ev, err := NewEvaluator(rs, src.Schema(), opts)
	if err != nil {
		return nil, err
	}
	if err := src.Batches(ctx, ev.Columns(), ev.Observe); err != nil {
		var ue *lakeparquet.UnreadableError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, fmt.Errorf("dq: validate: %w", err)
	}
	return ev.Finish()
}
