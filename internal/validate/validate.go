package validate

import (
	"context"
)

// Validate is the validate step. It opens the bronze object in.Key (see
// Open), evaluates the table's ruleset over it in one streaming pass that
// reads only the rules' columns, stores the full result at
// _meta/dq/<table>/<stem>.json, and returns the verdict with counts:
//
//   - PASS, SPLIT or REJECT from the evaluation;
//   - REJECT with Problem set for an unusable object (empty, not Parquet,
//     truncated, corrupt, columns that do not fit the table): a handled
//     outcome, not an error;
//   - DONE when the object is gone but was routed at in.ETag (a duplicate
//     event), or was replaced since the event.
//
// Errors are *ObjectKeyError, *UnknownTableError, *ObjectNotFoundError,
// *ContractError (none retryable), *store.StoreUnavailableError
// (retryable), or wrapped errors for anything else.
func Validate(ctx context.Context, d Deps, in Input) (Output, error) {
	o, err := Open(ctx, d, in)
	if err != nil {
		return Output{}, err
	}
	out := Output{
		Key: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name, Stem: o.Keys.Stem,
	}
	if o.Done != "" {
		out.Verdict, out.Reason = Done, o.Done
		return out, nil
	}
	if o.Problem == nil {
		ev, res, err := o.Evaluate(ctx, d.Lake, nil, nil)
		if err != nil {
			return Output{}, err
		}
		if ev != nil {
			out.Verdict, out.Reason = Verdict(res.Verdict), Clip(res.VerdictReason)
			am := res.AggregatedMetrics
			out.Rows, out.RowsPassed, out.RowsFailed = am.TotalRowsProcessed, am.TotalRowsPassed, am.TotalRowsFailed
			out.RulesProcessed, out.RulesPassed, out.RulesFailed = am.TotalRulesProcessed, am.TotalRulesPassed, am.TotalRulesFailed
			out.Score = res.Score
			if err := o.WriteResult(ctx, d.Lake, "validate", d.Clock(), out.Verdict, res); err != nil {
				return Output{}, err
			}
			out.ResultKey = o.Keys.DQResult()
			return out, nil
		}
	}
	out.Verdict, out.Problem = Reject, &Problem{Kind: o.Problem.Kind, Detail: Clip(o.Problem.Detail)}
	out.Reason = "unusable object: " + out.Problem.String()
	if err := o.WriteResult(ctx, d.Lake, "validate", d.Clock(), Reject, nil); err != nil {
		return Output{}, err
	}
	out.ResultKey = o.Keys.DQResult()
	return out, nil
}
