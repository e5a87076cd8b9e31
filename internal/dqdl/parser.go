package dqdl

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Limits that keep hostile rule files harmless.
const (
	MaxFileSize   = 1 << 20 // bytes in a ruleset file
	MaxDepth      = 32      // nesting of composite rules and of where-clause parentheses
	MaxRegexLen   = 4096    // bytes in a matches "..." pattern
	MaxRules      = 1000    // rules, counting each part of a composite rule
	MaxPredicates = 256     // comparisons in one where clause
	maxListLen    = 10000   // values in an in-list or a constant list
	maxStringLen  = 1 << 16
	maxLabelLen   = 255
)

// condKind is the family of expression a rule type takes.
type condKind int

const (
	condNone     condKind = iota // no expression
	condNumber                   // numeric comparison: RowCount > 0
	condValues                   // ColumnValues: numbers, strings, dates, keywords, matches
	condDuration                 // DataFreshness: durations
)

type ruleSpec struct {
	minCols, maxCols int // column parameters; maxCols < 0: unbounded
	cond             condKind
	threshold        bool // accepts `with threshold`
	where            bool // accepts `where`
}

var ruleSpecs = map[string]ruleSpec{
	"RowCount":            {0, 0, condNumber, false, true},
	"ColumnCount":         {0, 0, condNumber, false, false},
	"ColumnExists":        {1, 1, condNone, false, false},
	"IsComplete":          {1, 1, condNone, false, true},
	"Completeness":        {1, 1, condNumber, false, true},
	"IsUnique":            {1, -1, condNone, false, true},
	"Uniqueness":          {1, -1, condNumber, false, true},
	"IsPrimaryKey":        {1, -1, condNone, false, true},
	"ColumnValues":        {1, 1, condValues, true, true},
	"ColumnLength":        {1, 1, condNumber, true, true},
	"DataFreshness":       {1, 1, condDuration, false, true},
	"Mean":                {1, 1, condNumber, false, true},
	"Sum":                 {1, 1, condNumber, false, true},
	"StandardDeviation":   {1, 1, condNumber, false, true},
	"DistinctValuesCount": {1, 1, condNumber, false, true},
}

// RuleTypes lists the supported rule types, sorted.
func RuleTypes() []string {
	names := make([]string, 0, len(ruleSpecs))
	for n := range ruleSpecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseFile reads and parses the ruleset at path; files larger than
// MaxFileSize are refused.
func ParseFile(path string) (*Ruleset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dqdl: %w", err)
	}
	defer f.Close()
	rs, err := ParseReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// ParseReader parses a ruleset read from r, refusing more than MaxFileSize
// bytes.
func ParseReader(r io.Reader) (*Ruleset, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("dqdl: read ruleset: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("dqdl: ruleset larger than %d bytes", MaxFileSize)
	}
	return Parse(string(b))
}

// Parse parses a DQDL document. Anything outside the supported language
// is an *Error naming the line, the column and what was expected.
func Parse(src string) (*Ruleset, error) {
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("dqdl: ruleset larger than %d bytes", MaxFileSize)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, rs: &Ruleset{Constants: map[string][]Operand{}}}
	if err := p.document(); err != nil {
		return nil, err
	}
	return p.rs, nil
}

type parser struct {
	src    string
	toks   []token
	i      int
	depth  int
	leaves int
	rs     *Ruleset
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isPunct(s string) bool { t := p.peek(); return t.kind == tPunct && t.text == s }
func (p *parser) isIdent(s string) bool { t := p.peek(); return t.kind == tIdent && t.text == s }

// isKw matches a keyword that DQDL spells in lower or upper case.
func (p *parser) isKw(lower string) bool {
	t := p.peek()
	return t.kind == tIdent && (t.text == lower || t.text == strings.ToUpper(lower))
}

func (p *parser) errf(t token, format string, args ...any) error {
	return &Error{t.pos, fmt.Sprintf(format, args...) + ", found " + t.String()}
}

func (p *parser) expectPunct(s string, what string) (token, error) {
	if !p.isPunct(s) {
		return token{}, p.errf(p.peek(), "expected %q%s", s, what)
	}
	return p.next(), nil
}

func (p *parser) document() error {
	sawRules := false
	for p.peek().kind != tEOF {
		t := p.peek()
		if t.kind != tIdent {
			return p.errf(t, "expected Rules = [ ... ], Metadata, DefaultLabels or a constant declaration")
		}
		if sawRules {
			return p.errf(t, "expected the end of the file after the Rules section")
		}
		switch t.text {
		case "Rules":
			p.next()
			if _, err := p.expectPunct("=", " after Rules"); err != nil {
				return err
			}
			if err := p.rules(); err != nil {
				return err
			}
			sawRules = true
		case "Metadata":
			if len(p.rs.Rules) > 0 || p.rs.Metadata != nil {
				return p.errf(t, "expected Metadata at most once, before the rules")
			}
			p.next()
			if _, err := p.expectPunct("=", " after Metadata"); err != nil {
				return err
			}
			m, err := p.dictionary()
			if err != nil {
				return err
			}
			p.rs.Metadata = m
		case "DataSources", "Analyzers":
			return &Error{t.pos, fmt.Sprintf("the %s section is not supported (it needs other datasets or produces no rule outcome); remove it", t.text)}
		case "DefaultLabels":
			p.next()
			if _, err := p.expectPunct("=", " after DefaultLabels"); err != nil {
				return err
			}
			ls, err := p.labels()
			if err != nil {
				return err
			}
			p.rs.DefaultLabels = ls
		default:
			if err := p.constant(); err != nil {
				return err
			}
		}
	}
	if !sawRules {
		return &Error{p.peek().pos, "expected a Rules = [ ... ] section"}
	}
	return nil
}

func (p *parser) dictionary() (map[string]string, error) {
	if _, err := p.expectPunct("{", " to open the dictionary"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for {
		k := p.next()
		if k.kind != tString {
			return nil, p.errf(k, "expected a quoted key")
		}
		if _, err := p.expectPunct(":", " after the key"); err != nil {
			return nil, err
		}
		v := p.next()
		if v.kind != tString {
			return nil, p.errf(v, "expected a quoted value")
		}
		m[k.text] = v.text
		if p.isPunct("}") {
			p.next()
			return m, nil
		}
		if _, err := p.expectPunct(",", " or '}'"); err != nil {
			return nil, err
		}
	}
}

// labels parses ["key":"value", ...].
func (p *parser) labels() ([]Label, error) {
	if _, err := p.expectPunct("[", " to open the labels list"); err != nil {
		return nil, err
	}
	var ls []Label
	seen := map[string]bool{}
	for {
		k := p.next()
		if k.kind != tString {
			return nil, p.errf(k, "expected a quoted label key")
		}
		if seen[k.text] {
			return nil, &Error{k.pos, fmt.Sprintf("label key %q given twice", k.text)}
		}
		seen[k.text] = true
		if _, err := p.expectPunct(":", " between the label key and value"); err != nil {
			return nil, err
		}
		v := p.next()
		if v.kind != tString {
			return nil, p.errf(v, "expected a quoted label value")
		}
		for _, t := range []token{k, v} {
			if n := len(t.text); n == 0 || n > maxLabelLen {
				return nil, &Error{t.pos, fmt.Sprintf("label keys and values are 1 to %d characters, as in Glue", maxLabelLen)}
			}
		}
		ls = append(ls, Label{k.text, v.text})
		if p.isPunct("]") {
			p.next()
			return ls, nil
		}
		if _, err := p.expectPunct(",", " or ']' in the labels list"); err != nil {
			return nil, err
		}
	}
}

func (p *parser) constant() error {
	name := p.next()
	for _, kw := range []string{"Rules", "Metadata", "DefaultLabels"} {
		if strings.EqualFold(name.text, kw) {
			return &Error{name.pos, fmt.Sprintf("expected %s (DQDL is case sensitive), found %q", kw, name.text)}
		}
	}
	if _, ok := ruleSpecs[name.text]; ok || !isVarName(name.text) {
		return p.errf(name, "expected Rules = [ ... ], Metadata, DefaultLabels or a constant declaration (name = value)")
	}
	if _, dup := p.rs.Constants[name.text]; dup {
		return &Error{name.pos, fmt.Sprintf("constant %q declared twice", name.text)}
	}
	if _, err := p.expectPunct("=", " after the constant's name"); err != nil {
		return err
	}
	var vals []Operand
	if p.isPunct("[") {
		list, err := p.list(condValues)
		if err != nil {
			return err
		}
		vals = list
	} else {
		v, err := p.operand(condValues)
		if err != nil {
			return err
		}
		vals = []Operand{v}
	}
	p.rs.Constants[name.text] = vals
	return nil
}

func isVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') || strings.Contains(s, ".") {
		return false
	}
	return true
}

func (p *parser) rules() error {
	if _, err := p.expectPunct("[", " to open the rules list"); err != nil {
		return err
	}
	if p.isPunct("]") {
		p.next()
		return nil
	}
	for {
		r, err := p.orRule()
		if err != nil {
			return err
		}
		if r.Logic != Leaf { // a composite gets the default labels too
			r.Labels = mergeLabels(p.rs.DefaultLabels, nil)
		}
		p.rs.Rules = append(p.rs.Rules, r)
		if p.isPunct("]") {
			p.next()
			return nil
		}
		if _, err := p.expectPunct(",", " or ']' after a rule"); err != nil {
			return err
		}
	}
}

func (p *parser) text(from, to token) string { return p.src[from.off:to.end] }

// orRule := andRule (or andRule)*; the parts of and/or must each be in
// parentheses, as in Glue.
func (p *parser) orRule() (*Rule, error) {
	start := p.peek()
	l, lp, err := p.andRule()
	if err != nil {
		return nil, err
	}
	if !p.isKw("or") {
		return l, nil
	}
	r := &Rule{Logic: Or, Pos: start.pos, Children: []*Rule{l}}
	for p.isKw("or") {
		op := p.next()
		if !lp {
			return nil, &Error{op.pos, "rules combined with or must each be in parentheses: (rule) or (rule)"}
		}
		c, cp, err := p.andRule()
		if err != nil {
			return nil, err
		}
		lp = cp
		r.Children = append(r.Children, c)
	}
	if !lp {
		return nil, &Error{r.Children[len(r.Children)-1].Pos, "rules combined with or must each be in parentheses: (rule) or (rule)"}
	}
	r.Text = p.text(start, p.toks[p.i-1])
	return r, nil
}

// andRule returns the rule and whether it was a single parenthesized unit.
func (p *parser) andRule() (*Rule, bool, error) {
	start := p.peek()
	l, lp, err := p.unit()
	if err != nil {
		return nil, false, err
	}
	if !p.isKw("and") {
		return l, lp, nil
	}
	r := &Rule{Logic: And, Pos: start.pos, Children: []*Rule{l}}
	for p.isKw("and") {
		op := p.next()
		if !lp {
			return nil, false, &Error{op.pos, "rules combined with and must each be in parentheses: (rule) and (rule)"}
		}
		c, cp, err := p.unit()
		if err != nil {
			return nil, false, err
		}
		if !cp {
			return nil, false, &Error{c.Pos, "rules combined with and must each be in parentheses: (rule) and (rule)"}
		}
		r.Children = append(r.Children, c)
	}
	r.Text = p.text(start, p.toks[p.i-1])
	return r, true, nil
}

func (p *parser) unit() (*Rule, bool, error) {
	if p.isPunct("(") {
		open := p.next()
		p.depth++
		if p.depth > MaxDepth {
			return nil, false, &Error{open.pos, fmt.Sprintf("rules nested deeper than %d levels", MaxDepth)}
		}
		r, err := p.orRule()
		if err != nil {
			return nil, false, err
		}
		p.depth--
		if _, err := p.expectPunct(")", " to close the parenthesized rule"); err != nil {
			return nil, false, err
		}
		return r, true, nil
	}
	r, err := p.leaf()
	return r, false, err
}

func (p *parser) leaf() (*Rule, error) {
	start := p.next()
	if start.kind != tIdent {
		return nil, p.errf(start, "expected a rule type such as ColumnValues or '('")
	}
	if p.leaves++; p.leaves > MaxRules {
		return nil, &Error{start.pos, fmt.Sprintf("more than %d rules (counting each part of a composite rule)", MaxRules)}
	}
	spec, ok := ruleSpecs[start.text]
	if !ok {
		return nil, &Error{start.pos, fmt.Sprintf("unsupported rule type %q: expected one of %s", start.text, strings.Join(RuleTypes(), ", "))}
	}
	r := &Rule{Type: start.text, Pos: start.pos}
	for p.peek().kind == tString {
		c := p.next()
		if spec.maxCols >= 0 && len(r.Columns) >= spec.maxCols {
			return nil, &Error{c.pos, fmt.Sprintf("%s takes %d column parameter(s), found another: %q", r.Type, spec.maxCols, c.text)}
		}
		if c.text == "" {
			return nil, &Error{c.pos, "expected a column name, found an empty string"}
		}
		r.Columns = append(r.Columns, c.text)
	}
	if len(r.Columns) < spec.minCols {
		return nil, p.errf(p.peek(), "expected a column name in double quotes after %s", r.Type)
	}
	if spec.cond != condNone {
		c, err := p.condition(spec.cond, r.Type)
		if err != nil {
			return nil, err
		}
		r.Cond = c
	}
	for {
		switch {
		case p.isIdent("where"):
			w := p.next()
			if !spec.where {
				return nil, &Error{w.pos, fmt.Sprintf("%s does not take a where clause", r.Type)}
			}
			if r.Where != nil {
				return nil, &Error{w.pos, "expected at most one where clause"}
			}
			q := p.next()
			if q.kind != tString {
				return nil, p.errf(q, "expected the where clause's SQL predicate in double quotes")
			}
			e, err := parseWhere(q.text)
			if err != nil {
				var we *whereErr
				if errors.As(err, &we) {
					return nil, &Error{Pos{q.pos.Line, q.pos.Col + 1 + we.off}, "where clause: " + we.msg}
				}
				return nil, err
			}
			r.Where, r.WhereText = e, q.text
		case p.isIdent("with"):
			w := p.next()
			if t := p.next(); t.kind != tIdent || t.text != "threshold" {
				return nil, p.errf(t, "expected threshold after with")
			}
			if !spec.threshold {
				return nil, &Error{w.pos, fmt.Sprintf("%s does not take with threshold (only ColumnValues and ColumnLength do)", r.Type)}
			}
			if r.Threshold != nil {
				return nil, &Error{w.pos, "expected at most one with threshold"}
			}
			c, err := p.condition(condNumber, "threshold")
			if err != nil {
				return nil, err
			}
			for _, v := range c.Values {
				if v.Num.Sign() < 0 || v.Num.Cmp(big.NewRat(1, 1)) > 0 {
					return nil, &Error{w.pos, fmt.Sprintf("threshold %s is not a fraction between 0 and 1", v.Text)}
				}
			}
			r.Threshold = c
		case p.isIdent("labels"):
			p.next()
			if _, err := p.expectPunct("=", " after labels"); err != nil {
				return nil, err
			}
			ls, err := p.labels()
			if err != nil {
				return nil, err
			}
			r.Labels = ls
			r.Text = p.text(start, p.toks[p.i-1])
			r.Labels = mergeLabels(p.rs.DefaultLabels, r.Labels)
			return r, nil
		default:
			r.Text = p.text(start, p.toks[p.i-1])
			r.Labels = mergeLabels(p.rs.DefaultLabels, nil)
			if t := p.peek(); !(t.kind == tPunct && (t.text == "," || t.text == "]" || t.text == ")")) && !p.isKw("and") && !p.isKw("or") {
				return nil, p.errf(t, "expected ',', ']', and, or, where, with threshold or labels after the rule")
			}
			return r, nil
		}
	}
}

func mergeLabels(defaults, own []Label) []Label {
	if len(defaults) == 0 {
		return own
	}
	out := append([]Label(nil), own...)
	for _, d := range defaults {
		found := false
		for _, o := range own {
			if o.Key == d.Key {
				found = true
			}
		}
		if !found {
			out = append(out, d)
		}
	}
	return out
}

var cmpOps = map[string]Op{"=": OpEq, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}

func (p *parser) condition(kind condKind, what string) (*Condition, error) {
	neg := false
	if p.isIdent("not") {
		p.next()
		neg = true
	}
	t := p.peek()
	op, isCmp := cmpOps[t.text]
	switch {
	case !neg && t.kind == tPunct && isCmp:
		p.next()
		if kind == condValues && (op == OpEq || op == OpNe) && p.isPunct("$") {
			vals, err := p.variable(true)
			if err != nil {
				return nil, err
			}
			return &Condition{Op: op, Values: vals}, nil
		}
		v, err := p.operand(kind)
		if err != nil {
			return nil, err
		}
		if (op != OpEq && op != OpNe) && (v.Kind == KString || v.Kind == KNull || v.Kind == KEmpty || v.Kind == KWhitespacesOnly) {
			return nil, &Error{t.pos, fmt.Sprintf("%s compares with %s only by = or !=", what, v.Text)}
		}
		return &Condition{Op: op, Values: []Operand{v}}, nil
	case p.isIdent("between"):
		p.next()
		lo, err := p.operand(kind)
		if err != nil {
			return nil, err
		}
		if !p.isKw("and") {
			return nil, p.errf(p.peek(), "expected and in between")
		}
		p.next()
		hi, err := p.operand(kind)
		if err != nil {
			return nil, err
		}
		if lo.Kind != hi.Kind || (lo.Kind != KNumber && lo.Kind != KDate && lo.Kind != KDuration) {
			return nil, &Error{t.pos, "expected between two numbers, two dates or two durations"}
		}
		op := OpBetween
		if neg {
			op = OpNotBetween
		}
		return &Condition{Op: op, Values: []Operand{lo, hi}}, nil
	case p.isIdent("in"):
		p.next()
		var vals []Operand
		var err error
		if p.isPunct("$") {
			vals, err = p.variable(false)
		} else {
			vals, err = p.list(kind)
		}
		if err != nil {
			return nil, err
		}
		op := OpIn
		if neg {
			op = OpNotIn
		}
		return &Condition{Op: op, Values: vals}, nil
	case p.isIdent("matches"):
		m := p.next()
		if kind != condValues {
			return nil, &Error{m.pos, fmt.Sprintf("%s does not take matches", what)}
		}
		q := p.next()
		if q.kind != tString {
			return nil, p.errf(q, "expected the regular expression in double quotes after matches")
		}
		if len(q.text) > MaxRegexLen {
			return nil, &Error{q.pos, fmt.Sprintf("regular expression longer than %d bytes", MaxRegexLen)}
		}
		if _, err := regexp.Compile(q.text); err != nil {
			return nil, &Error{q.pos, fmt.Sprintf("invalid regular expression: %v", err)}
		}
		op := OpMatches
		if neg {
			op = OpNotMatches
		}
		return &Condition{Op: op, Values: []Operand{{Kind: KString, Text: q.text, Str: q.text}}}, nil
	}
	if neg {
		return nil, p.errf(p.peek(), "expected between, in or matches after not")
	}
	switch kind {
	case condValues:
		return nil, p.errf(t, "expected =, !=, <, <=, >, >=, [not] between, [not] in or [not] matches")
	default:
		return nil, p.errf(t, "expected =, !=, <, <=, >, >=, [not] between or [not] in")
	}
}

// variable resolves $name; single requires a one-value constant.
func (p *parser) variable(single bool) ([]Operand, error) {
	d := p.next()
	n := p.next()
	if n.kind != tIdent {
		return nil, p.errf(n, "expected a constant's name after $")
	}
	vals, ok := p.rs.Constants[n.text]
	if !ok {
		return nil, &Error{d.pos, fmt.Sprintf("undefined constant $%s: declare it before Rules (%s = ...)", n.text, n.text)}
	}
	if single && len(vals) != 1 {
		return nil, &Error{d.pos, fmt.Sprintf("constant $%s is a list: expected a single value here (use in $%s)", n.text, n.text)}
	}
	return vals, nil
}

func (p *parser) list(kind condKind) ([]Operand, error) {
	if _, err := p.expectPunct("[", " to open the list"); err != nil {
		return nil, err
	}
	var vals []Operand
	for {
		if p.isPunct("$") {
			vs, err := p.variable(false)
			if err != nil {
				return nil, err
			}
			vals = append(vals, vs...)
		} else {
			v, err := p.operand(kind)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		if len(vals) > maxListLen {
			return nil, &Error{p.peek().pos, fmt.Sprintf("list longer than %d values", maxListLen)}
		}
		if p.isPunct("]") {
			p.next()
			return vals, nil
		}
		if _, err := p.expectPunct(",", " or ']' in the list"); err != nil {
			return nil, err
		}
	}
}

var durationUnits = map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour, "minutes": time.Minute}

// operand reads one value allowed by kind.
func (p *parser) operand(kind condKind) (Operand, error) {
	t := p.peek()
	switch kind {
	case condNumber:
		return p.number()
	case condDuration:
		n, err := p.number()
		if err != nil {
			return Operand{}, err
		}
		return p.duration(n)
	}
	// condValues
	switch {
	case t.kind == tNumber || t.kind == tPunct && t.text == "-":
		return p.number()
	case t.kind == tString:
		p.next()
		if isDateLiteral(t.text) {
			d, err := time.Parse("2006-01-02", t.text)
			if err != nil {
				return Operand{}, &Error{t.pos, fmt.Sprintf("invalid date %q", t.text)}
			}
			return Operand{Kind: KDate, Text: p.text(t, t), Date: d, Str: t.text}, nil
		}
		return Operand{Kind: KString, Text: p.text(t, t), Str: t.text}, nil
	case t.kind == tIdent:
		switch t.text {
		case "NULL", "null":
			p.next()
			return Operand{Kind: KNull, Text: t.text}, nil
		case "EMPTY", "empty":
			p.next()
			return Operand{Kind: KEmpty, Text: t.text}, nil
		case "WHITESPACES_ONLY", "whitespaces_only":
			p.next()
			return Operand{Kind: KWhitespacesOnly, Text: t.text}, nil
		case "now":
			return p.dateNow(false)
		}
	case t.kind == tPunct && t.text == "(":
		if n := p.peekAt(1); n.kind == tIdent && n.text == "now" {
			return p.dateNow(true)
		}
	}
	return Operand{}, p.errf(t, "expected a number, a quoted string, a date (\"yyyy-mm-dd\", now(), (now() - 3 days)), NULL, EMPTY or WHITESPACES_ONLY")
}

func isDateLiteral(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range s {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// dateNow parses now(), now() +/- duration, optionally in parentheses.
func (p *parser) dateNow(paren bool) (Operand, error) {
	start := p.peek()
	if paren {
		p.next()
	}
	p.next() // now
	if _, err := p.expectPunct("(", " after now"); err != nil {
		return Operand{}, err
	}
	if _, err := p.expectPunct(")", " after now("); err != nil {
		return Operand{}, err
	}
	o := Operand{Kind: KDate, Now: true}
	if p.isPunct("-") || p.isPunct("+") {
		sign := p.next()
		n, err := p.number()
		if err != nil {
			return Operand{}, err
		}
		d, err := p.duration(n)
		if err != nil {
			return Operand{}, err
		}
		o.Offset = d.Dur
		if sign.text == "-" {
			o.Offset = -d.Dur
		}
	}
	if paren {
		if _, err := p.expectPunct(")", " to close the date expression"); err != nil {
			return Operand{}, err
		}
	}
	o.Text = p.text(start, p.toks[p.i-1])
	return o, nil
}

func (p *parser) duration(n Operand) (Operand, error) {
	u := p.next()
	unit, ok := durationUnits[u.text]
	if u.kind != tIdent || !ok {
		return Operand{}, p.errf(u, "expected a duration unit (days, hours or minutes)")
	}
	if !n.Num.IsInt() || n.Num.Sign() < 0 || n.Num.Cmp(big.NewRat(1_000_000, 1)) > 0 {
		return Operand{}, &Error{u.pos, fmt.Sprintf("expected a whole number of %s between 0 and 1000000, found %s", u.text, n.Text)}
	}
	return Operand{Kind: KDuration, Text: n.Text + " " + u.text, Dur: time.Duration(n.Num.Num().Int64()) * unit}, nil
}

func (p *parser) number() (Operand, error) {
	start := p.peek()
	neg := false
	if p.isPunct("-") {
		p.next()
		neg = true
	}
	t := p.next()
	if t.kind != tNumber {
		return Operand{}, p.errf(t, "expected a number")
	}
	r, _ := new(big.Rat).SetString(t.text)
	if neg {
		r.Neg(r)
	}
	return Operand{Kind: KNumber, Text: p.text(start, t), Num: r}, nil
}
