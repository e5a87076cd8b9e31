package maintain

import (
	"context"
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/store"
)

// Lock takes the lake's maintenance lease (layout.MaintainLease), so that
// two local maintenance runs (`lake maintain`, `lake serve`'s schedule)
// never overlap: a second one gets an error wrapping *lease.HeldError
// naming the first (host, pid, since), after waiting opts.Wait. The lease
// is renewed until release is called, which gives it up. The returned
// context is ctx, cancelled should the lease be lost (renewals failing
// until it expired): the maintenance then stops, which is safe at any
// point. Executions of the maintain state machine in AWS take no lease:
// there the state machine's timeout keeps a scheduled run from
// overlapping the next (docs/iceberg.md).
func Lock(ctx context.Context, st store.Store, opts lease.Options) (context.Context, func(), error) {
	l, err := lease.Acquire(ctx, st, layout.MaintainLease, opts)
	var busy *lease.HeldError
	switch {
	case errors.As(err, &busy):
		return nil, nil, fmt.Errorf("maintain: another maintenance is running: %w", err)
	case err != nil:
		return nil, nil, fmt.Errorf("maintain: taking the lease %s: %w", layout.MaintainLease, err)
	}
	held, release := l.Hold(ctx)
	return held, release, nil
}
