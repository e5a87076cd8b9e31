package validate

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/store"
)

// Validate is the validate step. It finds the bronze object in.Key at
// in.ETag (bronze.Find), evaluates the table's ruleset over it in one
// streaming pass that reads only the rules' columns, stores the result
// (_meta/dq/<table>/<stem>.json) and the row log
// (_meta/dqrows/<table>/<stem>.rowlog), and returns the verdict with
// counts:
//
//   - PASS, SPLIT or REJECT from the evaluation;
//   - REJECT with Problem set for an unusable object (empty, not Parquet,
//     truncated, corrupt, columns that do not fit the table): a handled
//     outcome, not an error;
//   - the stored verdict with Routed set, evaluating nothing, when the
//     version is still in bronze but was routed already (its commit did
//     not finish);
//   - DONE when the object is gone but was routed at in.ETag (a duplicate
//     event), or was replaced since the event.
//
// Errors are *bronze.ObjectKeyError, *bronze.UnknownTableError,
// *bronze.ObjectNotFoundError, *bronze.ContractError (none retryable),
// *store.StoreUnavailableError (retryable), or wrapped errors for
// anything else.
func Validate(ctx context.Context, d Deps, in Input) (Output, error) {
	o, err := bronze.Find(ctx, bronze.Deps{Lake: d.Lake, Tables: d.Tables}, in.Key, in.ETag)
	if err != nil {
		return Output{}, err
	}
	out := Output{Key: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name, Stem: o.Keys.Stem}
	routed, err := store.Exists(ctx, d.Lake, o.Keys.RouteRecord())
	if err != nil {
		return Output{}, err
	}
	switch {
	case o.Superseded:
		out.Verdict, out.Reason = Done, fmt.Sprintf("superseded: the object was replaced since the event (ETag %s); the new version has its own event", o.Info.ETag)
		return out, nil
	case o.Gone && routed:
		out.Verdict, out.Reason = Done, "already routed and committed: duplicate event or retried execution ("+o.Keys.RouteRecord()+")"
		return out, nil
	case o.Gone:
		return Output{}, &bronze.ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
	case routed:
		var rec ResultRecord
		if _, found, err := store.GetJSON(ctx, d.Lake, o.Keys.DQResult(), &rec); err != nil || found {
			if err != nil {
				return Output{}, store.Wrap(err, "validate: %s", o.Key)
			}
			out.Routed = true
			out.fill(&rec, o.Keys.DQResult())
			return out, nil
		}
		// routed, but its result is gone: evaluate again below
	}

	rules, err := loadRules(o)
	if err != nil {
		return Output{}, err
	}
	rec := ResultRecord{
		Key: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name,
		Ruleset: o.Table.RulesPath(), RulesNow: o.RulesNow(), EvaluatedAt: d.Clock(),
	}
	src, problem, err := o.Open(ctx, d.Lake, lakeparquet.ReadOptions{Dictionaries: true})
	if err != nil {
		return Output{}, err
	}
	if problem == nil {
		if rec.Result, problem, err = evaluate(ctx, d, o, src, rules); err != nil {
			return Output{}, err
		}
	}
	if problem != nil {
		rec.Verdict, rec.Problem = Reject, problem
	} else {
		rec.Verdict, rec.RowLog = Verdict(rec.Result.Verdict), o.Keys.RowLog()
	}
	if _, err := store.PutJSON(ctx, d.Lake, o.Keys.DQResult(), rec, nil); err != nil {
		return Output{}, err
	}
	out.fill(&rec, o.Keys.DQResult())
	return out, nil
}

// loadRules reads and parses the table's ruleset from wherever its
// contract was loaded from (the binary's embedded schemas in a Lambda).
func loadRules(o *bronze.Object) (*dqdl.Ruleset, error) {
	b, err := o.Table.ReadRules()
	if err == nil {
		var rs *dqdl.Ruleset
		if rs, err = dqdl.Parse(string(b)); err == nil {
			return rs, nil
		}
	}
	return nil, &bronze.ContractError{Table: o.Table.Name, Msg: "load ruleset " + o.Table.RulesPath(), Err: err}
}

// fill sets the verdict, counts and keys of rec.
func (out *Output) fill(rec *ResultRecord, key string) {
	out.Verdict, out.ResultKey, out.RowLogKey = rec.Verdict, key, rec.RowLog
	if rec.Problem != nil {
		out.Problem = &bronze.Problem{Kind: rec.Problem.Kind, Detail: Clip(rec.Problem.Detail)}
		out.Reason = "unusable object: " + out.Problem.String()
		return
	}
	res := rec.Result
	out.Reason = Clip(res.VerdictReason)
	am := res.AggregatedMetrics
	out.Rows, out.RowsPassed, out.RowsFailed = am.TotalRowsProcessed, am.TotalRowsPassed, am.TotalRowsFailed
	out.RulesProcessed, out.RulesPassed, out.RulesFailed = am.TotalRulesProcessed, am.TotalRulesPassed, am.TotalRulesFailed
	out.Score = res.Score
}

// evaluate runs the rules over src in one pass, streaming the row log to
// the lake. An object found unreadable midway is not an error: it comes
// back as the Problem, and no row log is stored.
func evaluate(ctx context.Context, d Deps, o *bronze.Object, src *lakeparquet.Reader, rules *dqdl.Ruleset) (*dq.Result, *bronze.Problem, error) {
	sw := store.NewWriter(ctx, d.Lake, o.Keys.RowLog(), &store.PutOptions{ContentType: "application/octet-stream"})
	bw := bufio.NewWriterSize(sw, 256<<10)
	log := dq.NewRowLogWriter(bw, map[string]string{"key": o.Key, "etag": o.Info.ETag, "table": o.Table.Name})
	res, problem, err := func() (*dq.Result, *bronze.Problem, error) {
		ev, err := dq.NewEvaluator(rules, src.Schema(), dq.Options{Now: o.RulesNow(), ExpectedRows: src.NumRows(), RowLog: log, MemoryBudget: d.DQMemory})
		if err != nil {
			return nil, nil, fmt.Errorf("validate: %s: %w", o.Key, err)
		}
		if err := src.Batches(ctx, ev.Columns(), ev.Observe); err != nil {
			p, err := o.Unreadable(ctx, d.Lake, err)
			return nil, p, err
		}
		res, err := ev.Finish()
		if err != nil {
			return nil, nil, fmt.Errorf("validate: %s: %w", o.Key, err)
		}
		if err := log.Close(); err != nil {
			return nil, nil, fmt.Errorf("validate: %s: %w", o.Key, err)
		}
		if err := bw.Flush(); err != nil {
			return nil, nil, store.Wrap(err, "validate: write %q", o.Keys.RowLog())
		}
		return res, nil, nil
	}()
	if err != nil || problem != nil {
		sw.Abort(errors.Join(err, errors.New("validate: evaluation did not finish")))
		return nil, problem, err
	}
	if _, err := sw.Close(); err != nil {
		return nil, nil, store.Wrap(err, "validate: write %q", o.Keys.RowLog())
	}
	return res, nil, nil
}
