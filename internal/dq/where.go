package dq

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/dqdl"
)

var sqlCmp = map[dqdl.Op]cmpOp{dqdl.OpEq: cEq, dqdl.OpNe: cNe, dqdl.OpLt: cLt, dqdl.OpLe: cLe, dqdl.OpGt: cGt, dqdl.OpGe: cGe}

func mirror(op cmpOp) cmpOp {
	switch op {
	case cLt:
		return cGt
	case cLe:
		return cGe
	case cGt:
		return cLt
	case cGe:
		return cLe
	}
	return op
}

// sqlLiteral converts a where-clause literal for comparison with c.
func sqlLiteral(c *column, v dqdl.SQLValue) (literal, error) {
	switch v.Kind {
	case dqdl.SNull:
		return literal{null: true, text: "NULL"}, nil
	case dqdl.SNumber:
		return literal{kind: kFloat, num: v.Num, text: v.Num.RatString()}, nil
	case dqdl.SBool:
		return literal{kind: kBool, b: v.Bool, text: fmt.Sprint(v.Bool)}, nil
	case dqdl.STime:
		return literal{kind: kTime, tm: v.Time, text: v.Time.String()}, nil
	case dqdl.SString:
		// a string compared with a date/time column is a date or timestamp
		if c.kind == kTime {
			t, err := parseTimeText(v.Str)
			if err != nil {
				return literal{}, err
			}
			return literal{kind: kTime, tm: t, text: "'" + v.Str + "'"}, nil
		}
		return literal{kind: kString, str: v.Str, text: "'" + v.Str + "'"}, nil
	}
	return literal{}, fmt.Errorf("unexpected operand")
}

// compileWhere compiles a where-clause predicate. cols resolves a column
// name to its binding (adding it to the projection).
func compileWhere(e *dqdl.Expr, cols func(string) (*column, error)) (binder, error) {
	switch e.Kind {
	case dqdl.EAnd, dqdl.EOr:
		l, err := compileWhere(e.Left, cols)
		if err != nil {
			return nil, err
		}
		r, err := compileWhere(e.Right, cols)
		if err != nil {
			return nil, err
		}
		and := e.Kind == dqdl.EAnd
		return func(a []arrow.Array) func(int) tri {
			lf, rf := l(a), r(a)
			return func(i int) tri {
				x, y := lf(i), rf(i)
				if and {
					if x == tFalse || y == tFalse {
						return tFalse
					}
					if x == tTrue && y == tTrue {
						return tTrue
					}
					return tNull
				}
				if x == tTrue || y == tTrue {
					return tTrue
				}
				if x == tFalse && y == tFalse {
					return tFalse
				}
				return tNull
			}
		}, nil
	case dqdl.ENot:
		l, err := compileWhere(e.Left, cols)
		if err != nil {
			return nil, err
		}
		return negate(l), nil
	}
	// predicates: the first operand must be a column; a literal on the
	// left of a comparison (5 < amount) is turned around (amount > 5).
	a0 := e.Args[0]
	op := sqlCmp[e.Op]
	rhs := dqdl.SQLValue{}
	if len(e.Args) > 1 {
		rhs = e.Args[1]
	}
	if a0.Kind != dqdl.SColumn && e.Kind == dqdl.ECmp && rhs.Kind == dqdl.SColumn {
		a0, rhs, op = rhs, a0, mirror(op)
	}
	if a0.Kind != dqdl.SColumn {
		return nil, fmt.Errorf("where clause: expected a column on the left of a predicate")
	}
	c, err := cols(a0.Column)
	if err != nil {
		return nil, err
	}
	var b binder
	switch e.Kind {
	case dqdl.ECmp:
		if rhs.Kind == dqdl.SColumn {
			y, err := cols(rhs.Column)
			if err != nil {
				return nil, err
			}
			return compareColumns(c, op, y)
		}
		lit, err := sqlLiteral(c, rhs)
		if err != nil {
			return nil, err
		}
		return compareLiteral(c, op, lit)
	case dqdl.EIsNull:
		b = func(a []arrow.Array) func(int) tri {
			arr := a[c.slot]
			return func(i int) tri { return triOf(arr.IsNull(i)) }
		}
	case dqdl.EIn:
		var parts []binder
		for _, v := range e.Args[1:] {
			lit, err := sqlLiteral(c, v)
			if err != nil {
				return nil, err
			}
			p, err := compareLiteral(c, cEq, lit)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		b = anyOf(parts)
	case dqdl.EBetween:
		lo, err := sqlLiteral(c, e.Args[1])
		if err != nil {
			return nil, err
		}
		hi, err := sqlLiteral(c, e.Args[2])
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
		b = allOf(pl, ph)
	case dqdl.ELike:
		if c.kind != kString {
			return nil, fmt.Errorf("where clause: LIKE needs a string column, %q is %s", c.name, c.kind)
		}
		re := regexp.MustCompile(likeToRegexp(e.Args[1].Str))
		b = func(a []arrow.Array) func(int) tri {
			arr := a[c.slot]
			get := stringGetter(arr)
			return func(i int) tri {
				if arr.IsNull(i) {
					return tNull
				}
				return triOf(re.MatchString(get(i)))
			}
		}
	}
	if e.Negate {
		b = negate(b)
	}
	return b, nil
}

func negate(b binder) binder {
	return func(a []arrow.Array) func(int) tri {
		f := b(a)
		return func(i int) tri {
			switch f(i) {
			case tTrue:
				return tFalse
			case tFalse:
				return tTrue
			}
			return tNull
		}
	}
}

func anyOf(parts []binder) binder {
	return func(a []arrow.Array) func(int) tri {
		fs := make([]func(int) tri, len(parts))
		for j, p := range parts {
			fs[j] = p(a)
		}
		return func(i int) tri {
			out := tFalse
			for _, f := range fs {
				switch f(i) {
				case tTrue:
					return tTrue
				case tNull:
					out = tNull
				}
			}
			return out
		}
	}
}

func allOf(x, y binder) binder {
	return func(a []arrow.Array) func(int) tri {
		fx, fy := x(a), y(a)
		return func(i int) tri {
			p, q := fx(i), fy(i)
			if p == tFalse || q == tFalse {
				return tFalse
			}
			if p == tTrue && q == tTrue {
				return tTrue
			}
			return tNull
		}
	}
}

// likeToRegexp translates a SQL LIKE pattern (% and _) to an anchored
// regular expression.
func likeToRegexp(p string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return b.String()
}
