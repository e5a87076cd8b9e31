package asl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// filterExpr is a JSONPath filter expression, the ... of [?(...)]: it
// tests one candidate value (@), with $ the document's root.
//
// Supported, as Jayway JsonPath writes them: paths from @ or $; string
// ('...' or "..."), number, true, false and null literals; the comparisons
// ==, !=, <, <=, >, >=, =~ (a /regex/ with an optional i flag), in and
// nin (against a [list]); &&, || and ! with parentheses; and a lone path,
// true when it exists. A comparison with a path that selects nothing is
// false.
type filterExpr interface {
	test(cur, root any) bool
}

type (
	filterAnd    struct{ a, b filterExpr }
	filterOr     struct{ a, b filterExpr }
	filterNot    struct{ x filterExpr }
	filterExists struct{ x *filterOperand }
	filterCmp    struct {
		op          string
		left, right *filterOperand
	}
)

func (f filterAnd) test(cur, root any) bool    { return f.a.test(cur, root) && f.b.test(cur, root) }
func (f filterOr) test(cur, root any) bool     { return f.a.test(cur, root) || f.b.test(cur, root) }
func (f filterNot) test(cur, root any) bool    { return !f.x.test(cur, root) }
func (f filterExists) test(cur, root any) bool { _, ok := f.x.value(cur, root); return ok }

// filterOperand is a path (from @ or $), a literal, a regex or a list.
type filterOperand struct {
	segs     []pathSeg
	isPath   bool
	fromRoot bool // $ rather than @
	definite bool
	lit      any
	re       *regexp.Regexp
}

func (o *filterOperand) value(cur, root any) (any, bool) {
	if !o.isPath {
		return o.lit, true
	}
	base := cur
	if o.fromRoot {
		base = root
	}
	return evalSegs(o.segs, o.definite, base)
}

func (f filterCmp) test(cur, root any) bool {
	a, ok := f.left.value(cur, root)
	if !ok {
		return false
	}
	if f.op == "=~" {
		s, isStr := a.(string)
		return isStr && f.right.re.MatchString(s)
	}
	b, ok := f.right.value(cur, root)
	if !ok {
		return false
	}
	switch f.op {
	case "==":
		return jsonEqual(a, b)
	case "!=":
		return !jsonEqual(a, b)
	case "in", "nin":
		list, isList := b.([]any)
		if !isList {
			return false
		}
		found := false
		for _, x := range list {
			if jsonEqual(a, x) {
				found = true
				break
			}
		}
		return found == (f.op == "in")
	}
	c, comparable := compareValues(a, b)
	if !comparable {
		return false
	}
	switch f.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // >=
		return c >= 0
	}
}

// compareValues orders two numbers or two strings.
func compareValues(a, b any) (int, bool) {
	if x, ok := toFloat(a); ok {
		y, ok := toFloat(b)
		switch {
		case !ok:
			return 0, false
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(x, y), true
}

// parseFilter parses "(expr)" at the start of s (spaces allowed before)
// and returns the expression and the length read, up to the ')'.
func parseFilter(s string) (filterExpr, int, error) {
	p := &filterParser{s: s}
	p.space()
	if !p.eat("(") {
		return nil, 0, fmt.Errorf("a filter must be written [?(...)]")
	}
	f, err := p.or()
	if err != nil {
		return nil, 0, fmt.Errorf("filter expression: %v", err)
	}
	p.space()
	if !p.eat(")") {
		return nil, 0, fmt.Errorf("filter expression: unexpected %q", p.rest())
	}
	return f, p.i, nil
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) rest() string { return p.s[p.i:] }

func (p *filterParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// eat consumes tok if the input continues with it.
func (p *filterParser) eat(tok string) bool {
	if strings.HasPrefix(p.rest(), tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *filterParser) or() (filterExpr, error) {
	return p.binary("||", p.and, func(a, b filterExpr) filterExpr { return filterOr{a, b} })
}

func (p *filterParser) and() (filterExpr, error) {
	return p.binary("&&", p.unary, func(a, b filterExpr) filterExpr { return filterAnd{a, b} })
}

// binary reads operands joined by op, left to right.
func (p *filterParser) binary(op string, operand func() (filterExpr, error), join func(a, b filterExpr) filterExpr) (filterExpr, error) {
	a, err := operand()
	for err == nil {
		p.space()
		if !p.eat(op) {
			return a, nil
		}
		var b filterExpr
		if b, err = operand(); err == nil {
			a = join(a, b)
		}
	}
	return nil, err
}

func (p *filterParser) unary() (filterExpr, error) {
	p.space()
	switch {
	case strings.HasPrefix(p.rest(), "!="):
		return nil, fmt.Errorf("unexpected %q", p.rest())
	case p.eat("!"):
		x, err := p.unary()
		return filterNot{x}, err
	case p.eat("("):
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(")") {
			return nil, fmt.Errorf("missing ) at %q", p.rest())
		}
		return x, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	p.space()
	op := p.operator()
	if op == "" {
		if !left.isPath {
			return nil, fmt.Errorf("a literal alone is not a condition, at %q", p.rest())
		}
		return filterExists{left}, nil
	}
	if !left.isPath {
		return nil, fmt.Errorf("the left side of %s must be a path (@... or $...)", op)
	}
	p.space()
	var right *filterOperand
	if op == "=~" {
		right, err = p.regex()
	} else {
		right, err = p.operand()
	}
	if err != nil {
		return nil, err
	}
	return filterCmp{op: op, left: left, right: right}, nil
}

// operators, longest first.
var filterOperators = []string{"==", "!=", "<=", ">=", "=~", "<", ">", "nin ", "in "}

func (p *filterParser) operator() string {
	for _, op := range filterOperators {
		if p.eat(op) {
			return strings.TrimSpace(op)
		}
	}
	return ""
}

// filterStops end a path inside a filter.
const filterStops = " )=!<>&|,"

func (p *filterParser) operand() (*filterOperand, error) {
	p.space()
	rest := p.rest()
	if rest == "" {
		return nil, fmt.Errorf("missing operand")
	}
	switch c := rest[0]; {
	case c == '@' || c == '$':
		segs, n, err := parseSegments(rest[1:], filterStops)
		if err != nil {
			return nil, err
		}
		p.i += 1 + n
		return &filterOperand{segs: segs, isPath: true, fromRoot: c == '$', definite: definite(segs)}, nil
	case c == '\'' || c == '"':
		s, n, err := scanQuoted(rest)
		if err != nil {
			return nil, err
		}
		p.i += n
		return &filterOperand{lit: s}, nil
	case c == '[':
		return p.list()
	}
	n := strings.IndexAny(rest, filterStops+"]")
	if n < 0 {
		n = len(rest)
	}
	tok := rest[:n]
	p.i += n
	switch tok {
	case "true":
		return &filterOperand{lit: true}, nil
	case "false":
		return &filterOperand{lit: false}, nil
	case "null":
		return &filterOperand{lit: nil}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err != nil || !json.Valid([]byte(tok)) {
		return nil, fmt.Errorf("bad operand %q", tok)
	}
	return &filterOperand{lit: json.Number(tok)}, nil
}

// list reads [literal, ...] for in and nin.
func (p *filterParser) list() (*filterOperand, error) {
	p.i++ // [
	items := []any{}
	for {
		p.space()
		if p.eat("]") {
			return &filterOperand{lit: items}, nil
		}
		if len(items) > 0 && !p.eat(",") {
			return nil, fmt.Errorf("expected , or ] in a list at %q", p.rest())
		}
		x, err := p.operand()
		if err != nil {
			return nil, err
		}
		if x.isPath {
			return nil, fmt.Errorf("a list holds literals only")
		}
		items = append(items, x.lit)
	}
}

// regex reads /pattern/ and an optional i flag.
func (p *filterParser) regex() (*filterOperand, error) {
	rest := p.rest()
	if !strings.HasPrefix(rest, "/") {
		return nil, fmt.Errorf("=~ needs a /regex/")
	}
	var b strings.Builder
	i := 1
	for ; i < len(rest) && rest[i] != '/'; i++ {
		if rest[i] == '\\' && i+1 < len(rest) && rest[i+1] == '/' {
			i++
		}
		b.WriteByte(rest[i])
	}
	if i >= len(rest) {
		return nil, fmt.Errorf("unterminated /regex/")
	}
	i++
	pattern := b.String()
	if i < len(rest) && rest[i] == 'i' {
		pattern = "(?i)" + pattern
		i++
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regex: %v", err)
	}
	p.i += i
	return &filterOperand{re: re}, nil
}
