package dq

import (
	"errors"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/dqdl"
)

// RowResults are the per-row outcomes of one batch. They are valid until
// the next call to Rows.
type RowResults struct {
	e    *Evaluator
	cols []arrow.Array
	n    int
	// failed has a bit per row of the batch that failed any row-level rule
	failed []bool
}

// Rows evaluates the row-level rules on rec, a batch of the object that
// Observe saw, whose first row is row offset of the object (0 for the
// first batch). It must be called after Finish, because duplicates
// (IsUnique, IsPrimaryKey, Uniqueness) are known only once every row has
// been seen.
func (e *Evaluator) Rows(rec arrow.RecordBatch, offset int64) (*RowResults, error) {
	if !e.finished {
		return nil, errors.New("dq: Rows before Finish")
	}
	n := int(rec.NumRows())
	if offset < 0 || offset+int64(n) > e.rows {
		return nil, errors.New("dq: Rows: batch outside the rows observed")
	}
	cols, err := e.bind(rec)
	if err != nil {
		return nil, err
	}
	rr := &RowResults{e: e, cols: cols, n: n, failed: make([]bool, n)}
	e.epoch++
	seen := map[*node]bool{}
	for _, t := range e.tops {
		if t.n.err != nil || t.n.level != RowLevel || seen[t.n] {
			continue
		}
		seen[t.n] = true
		if err := e.eval(t.n, cols, n, offset, false); err != nil {
			return nil, err
		}
		for i, s := range t.n.buf[:n] {
			if s == sFail {
				rr.failed[i] = true
			}
		}
	}
	return rr, nil
}

// Len is the number of rows in the batch.
func (r *RowResults) Len() int { return r.n }

// Passed reports whether row i passed every row-level rule.
func (r *RowResults) Passed(i int) bool { return !r.failed[i] }

// Outcome lists row i's rules as Glue's row-level columns do: rules it
// passed, failed and skipped (dataset-level rules, rules whose where
// clause excluded the row, and rules that could not be evaluated), with
// the offending value of each failed rule.
func (r *RowResults) Outcome(i int) RowOutcome {
	o := RowOutcome{
		DataQualityRulesPass:        []string{},
		DataQualityRulesFail:        []string{},
		DataQualityRulesSkip:        []string{},
		DataQualityFailedValues:     []string{},
		DataQualityEvaluationResult: string(Passed),
	}
	for _, t := range r.e.tops {
		text := t.rule.Text
		if t.n.err != nil || t.n.level != RowLevel {
			o.DataQualityRulesSkip = append(o.DataQualityRulesSkip, text)
			continue
		}
		switch t.n.buf[i] {
		case sPass:
			o.DataQualityRulesPass = append(o.DataQualityRulesPass, text)
		case sSkip:
			o.DataQualityRulesSkip = append(o.DataQualityRulesSkip, text)
		default:
			o.DataQualityRulesFail = append(o.DataQualityRulesFail, text)
			o.DataQualityFailedValues = append(o.DataQualityFailedValues, r.value(t.n, i))
			o.DataQualityEvaluationResult = string(Failed)
		}
	}
	return o
}

// value renders the offending value of a failed rule at row i: the value
// for a one-column rule, "col=value" pairs for several columns.
func (r *RowResults) value(nd *node, i int) string {
	var cols []*column
	seen := map[string]bool{}
	var walk func(*node)
	walk = func(n *node) {
		if n.rule.Logic != dqdl.Leaf {
			for _, c := range n.children {
				if c.buf[i] == sFail {
					walk(c)
				}
			}
			return
		}
		for _, c := range n.cols {
			if !seen[c.name] {
				seen[c.name] = true
				cols = append(cols, c)
			}
		}
	}
	walk(nd)
	if len(cols) == 1 && nd.rule.Logic == dqdl.Leaf {
		return cols[0].format(r.cols[cols[0].slot], i)
	}
	parts := make([]string, len(cols))
	for k, c := range cols {
		parts[k] = c.name + "=" + c.format(r.cols[c.slot], i)
	}
	return strings.Join(parts, "; ")
}
