package pipeline

import (
	"context"

	"github.com/medallionlake/lake/internal/maintain"
)

// MaintainInput is the maintain task's input, from the maintain state
// machine (statemachine/maintain.asl.json): exactly one of Plan (the
// execution's input: which tables to maintain, with which options),
// Table (one item of the plan, from the Map state) and Finish (every
// item's result, gathered by the Map state).
type MaintainInput struct {
	Plan   *maintain.Start  `json:"plan,omitempty"`
	Table  *maintain.Item   `json:"table,omitempty"`
	Finish *MaintainResults `json:"finish,omitempty"`
}

// MaintainResults are the results of a maintenance's items: each either a
// result of the maintain task or, for an item whose task failed after its
// retries, the item's table and kind with the Error and Cause the Catch
// reported.
type MaintainResults struct {
	Results []maintain.Result `json:"results"`
}

// MaintainOutput is the maintain task's output: Items for a plan, Result
// for a table, Report for a finish.
type MaintainOutput struct {
	Items  []maintain.Item  `json:"items,omitempty"`
	Result *maintain.Result `json:"result,omitempty"`
	Report *maintain.Report `json:"report,omitempty"`
}

// Maintain plans a maintenance of the lake's Iceberg tables, maintains one
// table of the plan, or gathers the results into the report, which fails
// with a *maintain.FailedError naming the tables that failed.
func (p *Pipeline) Maintain(ctx context.Context, in MaintainInput) (*MaintainOutput, error) {
	switch {
	case !exactlyOne(in.Plan != nil, in.Table != nil, in.Finish != nil):
		return nil, &BadInputError{Task: "maintain", Reason: `want exactly one of "plan", "table" and "finish"`}
	case in.Plan != nil:
		items, err := maintain.Plan(p.cfg.Tables, *in.Plan)
		if err != nil {
			return nil, &BadInputError{Task: "maintain", Reason: err.Error()}
		}
		return &MaintainOutput{Items: items}, nil
	case in.Table != nil:
		if p.cfg.Iceberg == nil {
			return nil, &BadInputError{Task: "maintain", Reason: "no Iceberg catalog configured"}
		}
		res, err := maintain.Table(ctx, p.cfg.Iceberg, p.cfg.Tables, *in.Table)
		if err != nil {
			return nil, WorkflowError("maintain", err)
		}
		return &MaintainOutput{Result: &res}, nil
	}
	r := maintain.NewReport(in.Finish.Results)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return &MaintainOutput{Report: &r}, nil
}

// exactlyOne reports whether exactly one of set is true: a task input
// with modes (ingest's, maintain's) sets one.
func exactlyOne(set ...bool) bool {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n == 1
}
