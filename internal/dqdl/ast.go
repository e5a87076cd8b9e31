package dqdl

import (
	"math/big"
	"time"
)

// Ruleset is a parsed DQDL document.
type Ruleset struct {
	// Metadata is the optional `Metadata = { "k": "v" }` section.
	Metadata map[string]string
	// Constants are the `name = value` declarations before Rules, already
	// substituted wherever a rule says $name; kept for reference.
	Constants map[string][]Operand
	// DefaultLabels apply to every rule (a rule's own labels win).
	DefaultLabels []Label
	// Rules are the top-level rules in file order.
	Rules []*Rule
}

// Label is one `"key":"value"` pair of a labels list.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Logic combines the children of a composite rule.
type Logic int

// Logic values.
const (
	Leaf Logic = iota // not composite
	And
	Or
)

// Rule is a top-level rule or a part of a composite rule.
type Rule struct {
	// Text is the rule exactly as written in the file (for a composite
	// rule, the whole combination). Results name rules by this text.
	Text string
	Pos  Pos

	// Logic is And or Or for a composite rule, whose parts are Children;
	// Leaf for a single rule, described by the fields below.
	Logic    Logic
	Children []*Rule

	Type      string     // rule type, e.g. "ColumnValues"
	Columns   []string   // column parameters, in order
	Cond      *Condition // the rule's expression; nil when the type has none
	Threshold *Condition // `with threshold ...`; nil when absent
	Where     *Expr      // `where "..."`; nil when absent
	WhereText string     // the where clause's SQL as written
	Labels    []Label    // the rule's labels merged over DefaultLabels
}

// Op is a comparison in a condition.
type Op int

// Op values. The Not* forms are the negated keywords `not between`,
// `not in`, `not matches`.
const (
	OpEq Op = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpBetween
	OpNotBetween
	OpIn
	OpNotIn
	OpMatches
	OpNotMatches
)

var opNames = [...]string{"=", "!=", "<", "<=", ">", ">=", "between", "not between", "in", "not in", "matches", "not matches"}

func (o Op) String() string { return opNames[o] }

// Condition is a rule's expression: Op over Values (one for comparisons,
// two for between, any number for in).
type Condition struct {
	Op     Op
	Values []Operand
}

// Kind classifies an operand.
type Kind int

// Kind values.
const (
	KNumber Kind = iota
	KString
	KNull            // NULL keyword
	KEmpty           // EMPTY keyword: the empty string
	KWhitespacesOnly // WHITESPACES_ONLY keyword: a non-empty string of only whitespace
	KDate            // "yyyy-mm-dd", now(), (now() +/- duration)
	KDuration        // 3 days, 4 hours, 10 minutes
)

// Operand is one value in a condition.
type Operand struct {
	Kind Kind
	Text string   // as written
	Num  *big.Rat // KNumber: exact value
	Str  string   // KString (and the regex of matches)
	// KDate: Now reports now() (plus Offset); otherwise Date is the
	// literal date at UTC midnight.
	Now    bool
	Date   time.Time
	Offset time.Duration
	// KDuration
	Dur time.Duration
}

// Resolve returns the date operand's instant for the given now.
func (o Operand) Resolve(now time.Time) time.Time {
	if o.Now {
		return now.Add(o.Offset)
	}
	return o.Date
}
