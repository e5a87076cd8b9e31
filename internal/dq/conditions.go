package dq

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/medallionlake/lake/internal/dqdl"
)

// passBinder binds a row-level condition to a batch: the function reports
// whether row i passes.
type passBinder func(cols []arrow.Array) func(i int) bool

var ruleCmp = map[dqdl.Op]cmpOp{dqdl.OpEq: cEq, dqdl.OpNe: cNe, dqdl.OpLt: cLt, dqdl.OpLe: cLe, dqdl.OpGt: cGt, dqdl.OpGe: cGe}

// operandLiteral converts a DQDL operand for comparison with column c.
func operandLiteral(c *column, o dqdl.Operand, now time.Time) (literal, error) {
	switch o.Kind {
	case dqdl.KNumber:
		return literal{kind: kFloat, num: o.Num, text: o.Text}, nil
	case dqdl.KString:
		return literal{kind: kString, str: o.Str, text: o.Text}, nil
	case dqdl.KDate:
		if c.kind == kString && !o.Now {
			return literal{kind: kString, str: o.Str, text: o.Text}, nil
		}
		return literal{kind: kTime, tm: o.Resolve(now), text: o.Text}, nil
	case dqdl.KNull:
		return literal{null: true, text: o.Text}, nil
	}
	return literal{}, fmt.Errorf("cannot compare column %q with %s", c.name, o.Text)
}

// isWhitespacesOnly is the WHITESPACES_ONLY keyword: non-empty, only
// whitespace.
func isWhitespacesOnly(s string) bool { return s != "" && strings.TrimSpace(s) == "" }

// columnValues compiles ColumnValues' condition. NULL semantics: = and in
// treat NULL as a value (it matches only NULL or a NULL in the list), so
// != and not in pass NULL unless NULL is listed; ordering comparisons,
// between and matches fail on NULL, negated or not.
func columnValues(c *column, cond *dqdl.Condition, now time.Time) (passBinder, error) {
	switch cond.Op {
	case dqdl.OpEq, dqdl.OpNe, dqdl.OpIn, dqdl.OpNotIn:
		in, err := inSet(c, cond.Values, now)
		if err != nil {
			return nil, err
		}
		if cond.Op == dqdl.OpEq || cond.Op == dqdl.OpIn {
			return in, nil
		}
		return func(cols []arrow.Array) func(int) bool {
			f := in(cols)
			return func(i int) bool { return !f(i) }
		}, nil
	case dqdl.OpLt, dqdl.OpLe, dqdl.OpGt, dqdl.OpGe:
		lit, err := operandLiteral(c, cond.Values[0], now)
		if err != nil {
			return nil, err
		}
		b, err := compareLiteral(c, ruleCmp[cond.Op], lit)
		if err != nil {
			return nil, err
		}
		return isTrue(b), nil
	case dqdl.OpBetween, dqdl.OpNotBetween:
		lo, err := operandLiteral(c, cond.Values[0], now)
		if err != nil {
			return nil, err
		}
		hi, err := operandLiteral(c, cond.Values[1], now)
		if err != nil {
			return nil, err
		}
		pl, err := compareLiteral(c, cGe, lo)
		if err != nil {
			return nil, err
		}
		ph, err := compareLiteral(c, cLe, hi)
		if err != nil {
			return nil, err
		}
		both := allOf(pl, ph)
		if cond.Op == dqdl.OpBetween {
			return isTrue(both), nil
		}
		return isTrue(negate(both)), nil
	case dqdl.OpMatches, dqdl.OpNotMatches:
		if c.kind != kString {
			return nil, fmt.Errorf("matches needs a string column, %q is %s", c.name, c.kind)
		}
		re, err := regexp.Compile(`^(?:` + cond.Values[0].Str + `)$`)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression: %w", err)
		}
		want := cond.Op == dqdl.OpMatches
		memo := newMemo(re)
		return func(cols []arrow.Array) func(int) bool {
			a := cols[c.slot]
			get := stringGetter(a)
			return func(i int) bool {
				if a.IsNull(i) {
					return false
				}
				return memo.match(get(i)) == want
			}
		}, nil
	}
	return nil, fmt.Errorf("unsupported condition %s", cond.Op)
}

func isTrue(b binder) passBinder {
	return func(cols []arrow.Array) func(int) bool {
		f := b(cols)
		return func(i int) bool { return f(i) == tTrue }
	}
}

// memo caches regular-expression results for a column's repeated values
// (codes, currencies, statuses); it stops growing at memoMax entries.
type memo struct {
	re *regexp.Regexp
	m  map[string]bool
}

const memoMax = 4096

func newMemo(re *regexp.Regexp) *memo { return &memo{re: re, m: make(map[string]bool)} }

func (m *memo) match(s string) bool {
	if v, ok := m.m[s]; ok {
		return v
	}
	v := m.re.MatchString(s)
	if len(m.m) < memoMax {
		m.m[strings.Clone(s)] = v
	}
	return v
}

// inSet compiles membership of the column's value in vals (NULL, EMPTY
// and WHITESPACES_ONLY included).
func inSet(c *column, vals []dqdl.Operand, now time.Time) (passBinder, error) {
	var hasNull, hasEmpty, hasWS bool
	strs := map[string]struct{}{}
	ints := map[int64]struct{}{}
	decs := map[decimal128.Num]struct{}{}
	floats := map[float64]struct{}{}
	for _, o := range vals {
		switch o.Kind {
		case dqdl.KNull:
			hasNull = true
			continue
		case dqdl.KEmpty, dqdl.KWhitespacesOnly:
			if c.kind != kString {
				return nil, fmt.Errorf("%s applies to string columns, %q is %s", o.Text, c.name, c.kind)
			}
			if o.Kind == dqdl.KEmpty {
				hasEmpty = true
			} else {
				hasWS = true
			}
			continue
		}
		lit, err := operandLiteral(c, o, now)
		if err != nil {
			return nil, err
		}
		mismatch := fmt.Errorf("cannot compare %s column %q with %s", c.kind, c.name, o.Text)
		switch c.kind {
		case kString:
			if lit.kind != kString {
				return nil, mismatch
			}
			strs[lit.str] = struct{}{}
		case kInt, kDecimal:
			if lit.kind != kFloat {
				return nil, mismatch
			}
			scale := int32(0)
			if c.kind == kDecimal {
				scale = c.scale
			}
			f, exact := floorScaled(lit.num, scale)
			if !exact { // cannot equal any value of the column
				continue
			}
			if c.kind == kInt {
				if f.IsInt64() {
					ints[f.Int64()] = struct{}{}
				}
			} else if f.Cmp(minDec) >= 0 && f.Cmp(maxDec) <= 0 {
				decs[decimal128.FromBigInt(f)] = struct{}{}
			}
		case kFloat:
			if lit.kind != kFloat {
				return nil, mismatch
			}
			f, _ := lit.num.Float64()
			floats[f] = struct{}{}
		case kTime:
			if lit.kind != kTime {
				return nil, mismatch
			}
			if t, exact := c.timeTicks(lit.tm); exact {
				ints[t] = struct{}{}
			}
		default:
			return nil, mismatch
		}
	}
	return func(cols []arrow.Array) func(int) bool {
		a := cols[c.slot]
		switch c.kind {
		case kString:
			get := stringGetter(a)
			return func(i int) bool {
				if a.IsNull(i) {
					return hasNull
				}
				s := get(i)
				if _, ok := strs[s]; ok {
					return true
				}
				return (hasEmpty && s == "") || (hasWS && isWhitespacesOnly(s))
			}
		case kInt, kTime:
			get := intGetter(a)
			return func(i int) bool {
				if a.IsNull(i) {
					return hasNull
				}
				_, ok := ints[get(i)]
				return ok
			}
		case kDecimal:
			d := a.(*array.Decimal128)
			return func(i int) bool {
				if a.IsNull(i) {
					return hasNull
				}
				_, ok := decs[d.Value(i)]
				return ok
			}
		default:
			get := floatGetter(a)
			return func(i int) bool {
				if a.IsNull(i) {
					return hasNull
				}
				_, ok := floats[get(i)]
				return ok
			}
		}
	}, nil
}

// intCond compiles a numeric condition over an integer measure (a
// length): exact against fractional literals.
func intCond(cond *dqdl.Condition) func(int64) bool {
	r := ratCond(cond)
	return func(v int64) bool { return r(new(big.Rat).SetInt64(v)) }
}

// ratCond compiles a numeric condition over an exact rational metric.
func ratCond(cond *dqdl.Condition) func(*big.Rat) bool {
	return func(x *big.Rat) bool {
		v := cond.Values
		switch cond.Op {
		case dqdl.OpEq:
			return x.Cmp(v[0].Num) == 0
		case dqdl.OpNe:
			return x.Cmp(v[0].Num) != 0
		case dqdl.OpLt:
			return x.Cmp(v[0].Num) < 0
		case dqdl.OpLe:
			return x.Cmp(v[0].Num) <= 0
		case dqdl.OpGt:
			return x.Cmp(v[0].Num) > 0
		case dqdl.OpGe:
			return x.Cmp(v[0].Num) >= 0
		case dqdl.OpBetween, dqdl.OpNotBetween:
			in := x.Cmp(v[0].Num) >= 0 && x.Cmp(v[1].Num) <= 0
			return in == (cond.Op == dqdl.OpBetween)
		case dqdl.OpIn, dqdl.OpNotIn:
			found := false
			for _, o := range v {
				if o.Kind == dqdl.KNumber && x.Cmp(o.Num) == 0 {
					found = true
				}
			}
			return found == (cond.Op == dqdl.OpIn)
		}
		return false
	}
}

// columnLength compiles ColumnLength: the value's length in characters
// must satisfy cond; NULL counts as length 0, as Glue documents.
func columnLength(c *column, cond *dqdl.Condition) (passBinder, error) {
	if c.kind != kString {
		return nil, fmt.Errorf("ColumnLength needs a string column, %q is %s", c.name, c.kind)
	}
	// lengths are small: decide each possible length once
	ok := intCond(cond)
	cache := make([]int8, 4096) // 0 unknown, 1 pass, 2 fail
	return func(cols []arrow.Array) func(int) bool {
		a := cols[c.slot]
		get := stringGetter(a)
		return func(i int) bool {
			n := 0
			if a.IsValid(i) {
				n = utf8.RuneCountInString(get(i))
			}
			if n < len(cache) {
				if cache[n] == 0 {
					cache[n] = 2
					if ok(int64(n)) {
						cache[n] = 1
					}
				}
				return cache[n] == 1
			}
			return ok(int64(n))
		}
	}, nil
}

// dataFreshness compiles DataFreshness: the age now - value must satisfy
// the duration condition; NULL fails. Age conditions become comparisons
// of the value with now - duration.
func dataFreshness(c *column, cond *dqdl.Condition, now time.Time) (passBinder, error) {
	if c.kind != kTime {
		return nil, fmt.Errorf("DataFreshness needs a date or timestamp column, %q is %s", c.name, c.kind)
	}
	at := func(o dqdl.Operand) literal {
		return literal{kind: kTime, tm: now.Add(-o.Dur), text: o.Text}
	}
	var b binder
	var err error
	switch cond.Op {
	case dqdl.OpBetween, dqdl.OpNotBetween:
		var lo, hi binder
		if lo, err = compareLiteral(c, cLe, at(cond.Values[0])); err != nil { // age >= d1
			return nil, err
		}
		if hi, err = compareLiteral(c, cGe, at(cond.Values[1])); err != nil { // age <= d2
			return nil, err
		}
		b = allOf(lo, hi)
		if cond.Op == dqdl.OpNotBetween {
			b = negate(b)
		}
	case dqdl.OpIn, dqdl.OpNotIn:
		return nil, fmt.Errorf("DataFreshness does not take in")
	default:
		if b, err = compareLiteral(c, mirror(ruleCmp[cond.Op]), at(cond.Values[0])); err != nil {
			return nil, err
		}
	}
	return isTrue(b), nil
}
