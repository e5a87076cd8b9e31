package asl

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// rule is a Choice Rule: a comparison, or And/Or/Not of rules.
type rule struct {
	next string // top-level rules only

	and, or []*rule
	not     *rule

	variable  *path
	op        string // the operator without a Path suffix, e.g. "StringEquals", "IsNull"
	value     any
	valuePath *path
}

// comparisons maps each operator to the JSON type of its value.
var comparisons = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

func (l *loader) choice(o *obj, st *state) {
	v, ok := o.get("Choices")
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) == 0 {
		l.bad("%s: Choices must be a non-empty array", o.where)
	}
	for i, x := range arr {
		if r := l.rule(x, fmt.Sprintf("%s Choices[%d]", o.where, i), true); r != nil {
			st.choices = append(st.choices, r)
		}
	}
	st.dflt = o.str("Default", false)
}

func (l *loader) rule(v any, where string, top bool) *rule {
	m, ok := v.(*object)
	if !ok {
		l.bad("%s: a Choice Rule must be an object", where)
		return nil
	}
	o := l.obj(m, where)
	o.has("Comment")
	r := &rule{}
	if top {
		r.next = o.str("Next", true)
	} else if o.has("Next") {
		l.bad("%s: Next is only allowed in top-level Choice Rules", where)
	}
	var ops []string
	for _, mb := range m.members {
		k := mb.key
		switch {
		case k == "And" || k == "Or" || k == "Not":
			ops = append(ops, k)
		case comparisons[strings.TrimSuffix(k, "Path")] != "" && k != "StringMatchesPath" && !(strings.HasPrefix(k, "Is") && strings.HasSuffix(k, "Path")):
			ops = append(ops, k)
		}
	}
	if len(ops) != 1 {
		l.bad("%s: a Choice Rule needs exactly one operator (a comparison, And, Or or Not), got %d", where, len(ops))
		o.done()
		return nil
	}
	op := ops[0]
	val, _ := o.get(op)
	switch op {
	case "And", "Or":
		subs, isArr := val.([]any)
		if !isArr || len(subs) == 0 {
			l.bad("%s: %s must be a non-empty array of Choice Rules", where, op)
		}
		for i, s := range subs {
			sub := l.rule(s, fmt.Sprintf("%s %s[%d]", where, op, i), false)
			if op == "And" {
				r.and = append(r.and, sub)
			} else {
				r.or = append(r.or, sub)
			}
		}
	case "Not":
		r.not = l.rule(val, where+" Not", false)
	default:
		r.variable, _ = o.path("Variable", false)
		if !o.has("Variable") {
			l.bad("%s: a comparison needs Variable", where)
		}
		if base, isPath := strings.CutSuffix(op, "Path"); isPath {
			r.op = base
			s, isStr := val.(string)
			p, err := parsePath(s)
			if !isStr || err != nil {
				l.bad("%s: %s must be a path", where, op)
			}
			r.valuePath = p
		} else {
			r.op = op
			r.value = val
			l.checkValue(where, op, val)
		}
	}
	o.done()
	return r
}

func (l *loader) checkValue(where, op string, v any) {
	var ok bool
	switch comparisons[op] {
	case "string":
		_, ok = v.(string)
	case "number":
		_, ok = v.(json.Number)
	case "boolean":
		_, ok = v.(bool)
	case "timestamp":
		s, isStr := v.(string)
		_, err := parseTimestamp(s)
		ok = isStr && err == nil
	}
	if !ok {
		l.bad("%s: %s needs a %s value, got %s", where, op, comparisons[op], mustJSON(v))
	}
}

// parseTimestamp parses the RFC 3339 timestamps that ASL compares: an
// uppercase T, and Z or a numeric offset.
func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// match evaluates r in env. A comparison whose Variable is missing is a
// runtime error, except for IsPresent.
func (m *Machine) match(r *rule, env *evalEnv) (bool, error) {
	switch {
	case r.and != nil:
		for _, s := range r.and {
			if ok, err := m.match(s, env); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, s := range r.or {
			if ok, err := m.match(s, env); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := m.match(r.not, env)
		return !ok && err == nil, err
	}
	v, found := env.eval(r.variable)
	if r.op == "IsPresent" {
		return found == r.value.(bool), nil
	}
	if !found {
		return false, &pathError{msg: fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.text)}
	}
	want := r.value
	if r.valuePath != nil {
		var ok bool
		if want, ok = env.eval(r.valuePath); !ok {
			return false, &pathError{msg: fmt.Sprintf("Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePath.text)}
		}
	}
	return compare(r.op, v, want), nil
}

// compare applies a comparison operator; values of the wrong type do not
// match.
func compare(op string, v, want any) bool {
	switch comparisons[op] {
	case "string":
		a, ok1 := v.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false
		}
		if op == "StringMatches" {
			return wildcardMatch(b, a)
		}
		return order(op, strings.Compare(a, b))
	case "number":
		a, ok1 := toFloat(v)
		b, ok2 := toFloat(want)
		if !ok1 || !ok2 {
			return false
		}
		switch {
		case a < b:
			return order(op, -1)
		case a > b:
			return order(op, 1)
		}
		return order(op, 0)
	case "timestamp":
		if strings.HasPrefix(op, "Is") {
			break
		}
		a, ok1 := v.(string)
		b, ok2 := want.(string)
		ta, err1 := parseTimestamp(a)
		tb, err2 := parseTimestamp(b)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return false
		}
		return order(op, ta.Compare(tb))
	}
	switch op {
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := want.(bool)
		return ok1 && ok2 && a == b
	case "IsNull":
		return (v == nil) == want.(bool)
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok == want.(bool)
	case "IsString":
		_, ok := v.(string)
		return ok == want.(bool)
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == want.(bool)
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == want.(bool)
	}
	return false
}

// order turns a three-way comparison into the operator's answer.
func order(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	}
	return c == 0
}

func toFloat(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// wildcardMatch implements StringMatches: * matches any run of
// characters; \* is a literal * and \\ a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		lit  string
	}
	var toks []tok
	var lit strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			i++
			lit.WriteByte(pattern[i])
		case c == '*':
			toks = append(toks, tok{lit: lit.String()}, tok{star: true})
			lit.Reset()
		default:
			lit.WriteByte(c)
		}
	}
	toks = append(toks, tok{lit: lit.String()})
	// Greedy match of literal segments separated by stars.
	first, last := toks[0].lit, toks[len(toks)-1].lit
	if len(toks) == 1 {
		return s == first
	}
	if !strings.HasPrefix(s, first) || !strings.HasSuffix(s[len(first):], last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, t := range toks[1 : len(toks)-1] {
		if t.star {
			continue
		}
		i := strings.Index(mid, t.lit)
		if i < 0 {
			return false
		}
		mid = mid[i+len(t.lit):]
	}
	return true
}
