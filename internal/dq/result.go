package dq

// Outcome is a rule's outcome, as Glue names it.
type Outcome string

// Outcome values.
const (
	Passed Outcome = "Passed"
	Failed Outcome = "Failed"
	Error  Outcome = "Error"
)

// Verdict is what the workflow branches on.
type Verdict string

// Verdict values.
const (
	// Pass: every rule passed and every row passed.
	Pass Verdict = "PASS"
	// Split: only row-level rules failed, on some rows: the passing rows
	// go to silver, the failing ones to discarded.
	Split Verdict = "SPLIT"
	// Reject: a dataset-level rule (or a row-level rule with a ratio:
	// with threshold, Completeness, Uniqueness) failed, or a rule could not
	// be evaluated: the whole object goes to discarded.
	Reject Verdict = "REJECT"
)

// Level says whether a rule tags rows or gates the whole object.
type Level string

// Level values.
const (
	RowLevel     Level = "Row"
	DatasetLevel Level = "Dataset"
)

// RuleResult is one top-level rule's result, shaped like a row of Glue's
// ruleOutcomes (Rule, Outcome, FailureReason, EvaluatedMetrics). Level,
// RowsFailed and Labels are additions.
type RuleResult struct {
	Rule             string             `json:"Rule"`
	Outcome          Outcome            `json:"Outcome"`
	FailureReason    string             `json:"FailureReason,omitempty"`
	EvaluatedMetrics map[string]float64 `json:"EvaluatedMetrics"`
	Level            Level              `json:"Level"`
	// RowsFailed counts the rows the rule tagged as failed (row-level rules).
	RowsFailed int64             `json:"RowsFailed"`
	Labels     map[string]string `json:"Labels,omitempty"`
	// RejectsObject is set on a rule whose outcome rejects the whole
	// object (verdict REJECT): an Error, a failed dataset-level rule, or
	// a failed ratio (a threshold, Completeness, Uniqueness). On a REJECT,
	// these are the rules every row of the object is discarded for.
	RejectsObject bool `json:"RejectsObject,omitempty"`
}

// AggregatedMetrics are Glue's DataQualityAggregatedMetrics.
type AggregatedMetrics struct {
	TotalRowsProcessed  int64 `json:"TotalRowsProcessed"`
	TotalRowsPassed     int64 `json:"TotalRowsPassed"`
	TotalRowsFailed     int64 `json:"TotalRowsFailed"`
	TotalRulesProcessed int64 `json:"TotalRulesProcessed"`
	TotalRulesPassed    int64 `json:"TotalRulesPassed"`
	TotalRulesFailed    int64 `json:"TotalRulesFailed"`
}

// Result is the evaluation of a ruleset over one object.
type Result struct {
	// Score is the fraction of rules that passed, as Glue computes it.
	Score             float64           `json:"Score"`
	AggregatedMetrics AggregatedMetrics `json:"AggregatedMetrics"`
	RuleResults       []RuleResult      `json:"RuleResults"`
	Verdict           Verdict           `json:"Verdict"`
	// VerdictReason explains a REJECT or SPLIT in one line.
	VerdictReason string `json:"VerdictReason,omitempty"`
}

// RowOutcome is one row's evaluation, as the four columns Glue adds to
// row-level results, plus the offending values.
type RowOutcome struct {
	DataQualityRulesPass []string `json:"DataQualityRulesPass"`
	DataQualityRulesFail []string `json:"DataQualityRulesFail"`
	DataQualityRulesSkip []string `json:"DataQualityRulesSkip"`
	// DataQualityEvaluationResult is "Passed" or "Failed".
	DataQualityEvaluationResult string `json:"DataQualityEvaluationResult"`
	// DataQualityFailedValues[k] is the offending value (as text, "NULL"
	// for null) for DataQualityRulesFail[k]; for a rule over several
	// columns, "col=value" pairs joined by "; ".
	DataQualityFailedValues []string `json:"DataQualityFailedValues"`
}
