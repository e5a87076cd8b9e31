package asl

import (
	"context"
	"fmt"
	"sync"
)

// parallel runs one attempt of a Parallel state: every branch on the
// effective input, concurrently; the result lists the branches' outputs in
// order. The first branch to fail stops the others and fails the state.
func (x *execution) parallel(ctx context.Context, st *state, raw any, sc *stateCtx, prev *int64) (any, *failure) {
	eff, f := x.effectiveInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	x.emit(prev, "ParallelStateStarted", nil)
	started := *prev
	results, f := x.fanOut(ctx, len(st.branches), 0, func(ctx context.Context, i int) (any, *failure) {
		p := started
		return x.runMachine(ctx, st.branches[i], st.branches[i].startAt, eff, &p)
	}, nil)
	*prev = x.lastID()
	if f != nil {
		x.emit(prev, "ParallelStateFailed", &EventDetails{Error: f.name, Cause: f.cause})
		return nil, f
	}
	x.emit(prev, "ParallelStateSucceeded", nil)
	return x.output(st, raw, results, sc)
}

// mapState runs one attempt of an inline Map state: the ItemProcessor on
// each item of ItemsPath, at most MaxConcurrency at a time (0: all), the
// results in item order.
func (x *execution) mapState(ctx context.Context, st *state, raw any, sc *stateCtx, prev *int64) (any, *failure) {
	eff, f := x.selectInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	itemsV := eff
	if st.itemsPath != nil {
		var ok bool
		if itemsV, ok = x.env(eff, sc).eval(st.itemsPath); !ok {
			return nil, x.runtime(sc, fmt.Sprintf("Invalid path '%s' : No results for path: %s", st.itemsPath.text, st.itemsPath.canonical()))
		}
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, x.runtime(sc, fmt.Sprintf("Item processing failed: the Map state's ItemsPath selected %s, not an array: %s", jsonKind(itemsV), mustJSON(itemsV)))
	}
	n := len(items)
	x.emit(prev, "MapStateStarted", &EventDetails{Length: &n})
	started := *prev

	tolerate := st.toleratedCnt != nil || st.toleratedPct != nil
	exceeded := func(failed int) bool {
		if !tolerate {
			return failed > 0
		}
		if st.toleratedCnt != nil && int64(failed) > *st.toleratedCnt {
			return true
		}
		return st.toleratedPct != nil && float64(failed)*100 > *st.toleratedPct*float64(n)
	}
	results, f := x.fanOut(ctx, n, st.maxConcurrent, func(ctx context.Context, i int) (any, *failure) {
		isc := *sc
		isc.inMap, isc.mapIndex, isc.mapValue = true, i, items[i]
		input := items[i]
		if st.itemSelector != nil {
			v, err := x.m.apply(st.itemSelector, x.env(eff, &isc))
			if err != nil {
				return nil, x.asFailure(sc, err)
			}
			input = v
		}
		idx := i
		p := started
		x.emit(&p, "MapIterationStarted", &EventDetails{Name: st.name, Index: &idx})
		out, f := x.runMachine(ctx, st.processor, st.processor.startAt, input, &p)
		switch {
		case f == nil:
			x.emit(&p, "MapIterationSucceeded", &EventDetails{Name: st.name, Index: &idx})
		case f.aborted:
			x.emit(&p, "MapIterationAborted", &EventDetails{Name: st.name, Index: &idx})
		default:
			x.emit(&p, "MapIterationFailed", &EventDetails{Name: st.name, Index: &idx})
		}
		return out, f
	}, exceeded)
	*prev = x.lastID()
	if f != nil {
		if tolerate && !f.aborted && f.name != ErrRuntime {
			f = &failure{name: ErrExceedToleratedFailures, cause: fmt.Sprintf("The Map state '%s' failed because the number of failed items exceeded its tolerated failure threshold. Last failure: %s: %s", st.name, f.name, f.cause)}
		}
		x.emit(prev, "MapStateFailed", nil)
		return nil, f
	}
	x.emit(prev, "MapStateSucceeded", nil)
	return x.output(st, raw, results, sc)
}

// fanOut runs work(0..n-1) with at most limit running at once (0: no
// limit), starting them in index order, and returns their results in index
// order. A failure stops the rest and is returned, unless tolerated says
// the failures so far are within bounds: then the failed item's slot holds
// {"Error","Cause"}. tolerated nil means no failure is tolerated.
func (x *execution) fanOut(ctx context.Context, n, limit int, work func(context.Context, int) (any, *failure), exceeded func(failed int) bool) ([]any, *failure) {
	if limit <= 0 || limit > n {
		limit = n
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, n)
	var (
		mu     sync.Mutex
		next   int
		failed int
		first  *failure
		wg     sync.WaitGroup
	)
	for range limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || first != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				out, f := work(ctx, i)
				mu.Lock()
				switch {
				case f == nil:
					results[i] = out
				case f.aborted:
					if first == nil {
						first = f
					}
				default:
					failed++
					results[i] = objectOf("Error", f.name, "Cause", f.cause)
					if (exceeded == nil || exceeded(failed) || !f.handleable()) && (first == nil || first.aborted) {
						first = f
						cancel()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return results, nil
}
