package dqdl

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ExprKind classifies a node of a where-clause predicate.
type ExprKind int

// ExprKind values.
const (
	EAnd     ExprKind = iota // Left AND Right
	EOr                      // Left OR Right
	ENot                     // NOT Left
	ECmp                     // Args[0] Op Args[1]
	EIsNull                  // Args[0] IS [NOT] NULL
	EIn                      // Args[0] [NOT] IN (Args[1:])
	EBetween                 // Args[0] [NOT] BETWEEN Args[1] AND Args[2]
	ELike                    // Args[0] [NOT] LIKE Args[1]
)

// Expr is a where-clause predicate: the documented SQL subset (see
// docs/dq.md). It is evaluated with SQL's three-valued logic; a row is
// kept only when the predicate is TRUE.
type Expr struct {
	Kind        ExprKind
	Left, Right *Expr
	Op          Op   // ECmp: OpEq..OpGe
	Negate      bool // IS NOT NULL, NOT IN, NOT BETWEEN, NOT LIKE
	Args        []SQLValue
}

// SQLKind classifies a where-clause operand.
type SQLKind int

// SQLKind values.
const (
	SColumn SQLKind = iota
	SNull
	SString
	SNumber
	SBool
	STime // DATE 'yyyy-mm-dd' or TIMESTAMP 'yyyy-mm-dd hh:mm:ss[Z]'
)

// SQLValue is an operand in a where clause: a column or a literal.
type SQLValue struct {
	Kind   SQLKind
	Column string
	Str    string
	Num    *big.Rat
	Bool   bool
	Time   time.Time
}

// Columns appends the columns the predicate reads to dst.
func (e *Expr) Columns(dst []string) []string {
	if e == nil {
		return dst
	}
	dst = e.Left.Columns(dst)
	dst = e.Right.Columns(dst)
	for _, a := range e.Args {
		if a.Kind == SColumn {
			dst = append(dst, a.Column)
		}
	}
	return dst
}

type sqlTok struct {
	kind tokKind // tIdent (bare or quoted identifier), tString, tNumber, tPunct, tEOF
	text string
	off  int  // character offset in the clause
	quot bool // quoted identifier
}

func lexSQL(s string) ([]sqlTok, error) {
	var toks []sqlTok
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(rs) {
					return nil, &whereErr{i, "unterminated string literal: expected a closing '"}
				}
				if rs[j] == '\'' {
					if j+1 < len(rs) && rs[j+1] == '\'' {
						b.WriteRune('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteRune(rs[j])
				j++
			}
			toks = append(toks, sqlTok{tString, b.String(), i, false})
			i = j + 1
		case c == '`' || c == '"':
			j := i + 1
			for j < len(rs) && rs[j] != c {
				j++
			}
			if j >= len(rs) {
				return nil, &whereErr{i, fmt.Sprintf("unterminated quoted identifier: expected a closing %c", c)}
			}
			toks = append(toks, sqlTok{tIdent, string(rs[i+1 : j]), i, true})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			if j < len(rs) && rs[j] == '.' {
				j++
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					j++
				}
			}
			toks = append(toks, sqlTok{tNumber, string(rs[i:j]), i, false})
			i = j
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(rs) && (rs[j] == '_' || (rs[j] >= 'a' && rs[j] <= 'z') || (rs[j] >= 'A' && rs[j] <= 'Z') || (rs[j] >= '0' && rs[j] <= '9')) {
				j++
			}
			toks = append(toks, sqlTok{tIdent, string(rs[i:j]), i, false})
			i = j
		default:
			n := 1
			if i+1 < len(rs) {
				switch string(rs[i : i+2]) {
				case "<=", ">=", "<>", "!=":
					n = 2
				}
			}
			op := string(rs[i : i+n])
			if !strings.Contains("=<>(),-", op) && n == 1 {
				return nil, &whereErr{i, fmt.Sprintf("unsupported character %q in where clause", c)}
			}
			toks = append(toks, sqlTok{tPunct, op, i, false})
			i += n
		}
	}
	return append(toks, sqlTok{kind: tEOF, off: len(rs)}), nil
}

// whereErr is an error at a character offset inside the where clause; the
// caller turns it into a file position.
type whereErr struct {
	off int
	msg string
}

func (e *whereErr) Error() string { return e.msg }

type sqlParser struct {
	toks  []sqlTok
	i     int
	depth int
	preds int
}

// parseWhere parses a where clause into an Expr.
func parseWhere(s string) (*Expr, error) {
	toks, err := lexSQL(s)
	if err != nil {
		return nil, err
	}
	p := &sqlParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "expected AND, OR or the end of the where clause")
	}
	return e, nil
}

func (p *sqlParser) peek() sqlTok { return p.toks[p.i] }
func (p *sqlParser) next() sqlTok { t := p.toks[p.i]; p.i++; return t }

func (p *sqlParser) kw(word string) bool {
	t := p.peek()
	if t.kind == tIdent && !t.quot && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func (p *sqlParser) punct(s string) bool {
	t := p.peek()
	if t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *sqlParser) errAt(t sqlTok, msg string) error {
	found := "end of the where clause"
	if t.kind != tEOF {
		found = fmt.Sprintf("%q", t.text)
	}
	return &whereErr{t.off, fmt.Sprintf("%s, found %s", msg, found)}
}

func (p *sqlParser) or() (*Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.kw("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Expr{Kind: EOr, Left: l, Right: r}
	}
	return l, nil
}

func (p *sqlParser) and() (*Expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.kw("AND") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &Expr{Kind: EAnd, Left: l, Right: r}
	}
	return l, nil
}

func (p *sqlParser) not() (*Expr, error) {
	if p.kw("NOT") {
		p.depth++
		if p.depth > MaxDepth {
			return nil, p.errAt(p.peek(), fmt.Sprintf("where clause nested deeper than %d levels", MaxDepth))
		}
		e, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &Expr{Kind: ENot, Left: e}, nil
	}
	return p.pred()
}

func (p *sqlParser) pred() (*Expr, error) {
	if p.peek().kind == tPunct && p.peek().text == "(" {
		open := p.next()
		p.depth++
		if p.depth > MaxDepth {
			return nil, p.errAt(open, fmt.Sprintf("where clause nested deeper than %d levels", MaxDepth))
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if !p.punct(")") {
			return nil, p.errAt(p.peek(), "expected ')'")
		}
		return e, nil
	}
	if p.preds++; p.preds > MaxPredicates {
		return nil, p.errAt(p.peek(), fmt.Sprintf("where clause with more than %d predicates", MaxPredicates))
	}
	a, err := p.value()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tPunct {
		ops := map[string]Op{"=": OpEq, "!=": OpNe, "<>": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}
		if op, ok := ops[t.text]; ok {
			p.i++
			b, err := p.value()
			if err != nil {
				return nil, err
			}
			return &Expr{Kind: ECmp, Op: op, Args: []SQLValue{a, b}}, nil
		}
	}
	if p.kw("IS") {
		neg := p.kw("NOT")
		if !p.kw("NULL") {
			return nil, p.errAt(p.peek(), "expected NULL after IS [NOT]")
		}
		return &Expr{Kind: EIsNull, Negate: neg, Args: []SQLValue{a}}, nil
	}
	neg := p.kw("NOT")
	switch {
	case p.kw("IN"):
		if !p.punct("(") {
			return nil, p.errAt(p.peek(), "expected '(' after IN")
		}
		args := []SQLValue{a}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			if v.Kind == SColumn {
				return nil, p.errAt(p.toks[p.i-1], "expected a literal in the IN list")
			}
			args = append(args, v)
			if len(args) > maxListLen {
				return nil, p.errAt(p.peek(), fmt.Sprintf("IN list longer than %d values", maxListLen))
			}
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return nil, p.errAt(p.peek(), "expected ',' or ')' in the IN list")
			}
		}
		return &Expr{Kind: EIn, Negate: neg, Args: args}, nil
	case p.kw("BETWEEN"):
		lo, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.kw("AND") {
			return nil, p.errAt(p.peek(), "expected AND in BETWEEN")
		}
		hi, err := p.value()
		if err != nil {
			return nil, err
		}
		return &Expr{Kind: EBetween, Negate: neg, Args: []SQLValue{a, lo, hi}}, nil
	case p.kw("LIKE"):
		pat, err := p.value()
		if err != nil {
			return nil, err
		}
		if pat.Kind != SString {
			return nil, p.errAt(p.toks[p.i-1], "expected a string pattern after LIKE")
		}
		return &Expr{Kind: ELike, Negate: neg, Args: []SQLValue{a, pat}}, nil
	}
	if neg {
		return nil, p.errAt(p.peek(), "expected IN, BETWEEN or LIKE after NOT")
	}
	return nil, p.errAt(p.peek(), "expected a comparison (=, !=, <>, <, <=, >, >=), IS [NOT] NULL, [NOT] IN, [NOT] BETWEEN or [NOT] LIKE")
}

func (p *sqlParser) value() (SQLValue, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return SQLValue{Kind: SString, Str: t.text}, nil
	case tNumber:
		return numValue(t.text, t)
	case tPunct:
		if t.text == "-" && p.peek().kind == tNumber {
			return numValue("-"+p.next().text, t)
		}
	case tIdent:
		if t.quot {
			return SQLValue{Kind: SColumn, Column: t.text}, nil
		}
		switch strings.ToUpper(t.text) {
		case "NULL":
			return SQLValue{Kind: SNull}, nil
		case "TRUE", "FALSE":
			return SQLValue{Kind: SBool, Bool: strings.EqualFold(t.text, "TRUE")}, nil
		case "DATE", "TIMESTAMP":
			if p.peek().kind != tString {
				break
			}
			lit := p.next()
			tm, err := parseSQLTime(lit.text)
			if err != nil {
				return SQLValue{}, &whereErr{lit.off, err.Error()}
			}
			return SQLValue{Kind: STime, Time: tm}, nil
		case "AND", "OR", "NOT", "IS", "IN", "BETWEEN", "LIKE":
			return SQLValue{}, p.errAt(t, "expected a column or a literal")
		}
		if p.peek().kind == tPunct && p.peek().text == "(" {
			return SQLValue{}, &whereErr{t.off, fmt.Sprintf("function %s() is not supported in where clauses (supported: comparisons, AND/OR/NOT, IS [NOT] NULL, IN, BETWEEN, LIKE)", t.text)}
		}
		return SQLValue{Kind: SColumn, Column: t.text}, nil
	}
	return SQLValue{}, p.errAt(t, "expected a column or a literal")
}

func numValue(text string, t sqlTok) (SQLValue, error) {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return SQLValue{}, &whereErr{t.off, fmt.Sprintf("malformed number %q", text)}
	}
	return SQLValue{Kind: SNumber, Num: r}, nil
}

var sqlTimeLayouts = []string{"2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", time.RFC3339, time.RFC3339Nano}

// parseSQLTime reads a date or timestamp literal; without a zone it is UTC.
func parseSQLTime(s string) (time.Time, error) {
	for _, l := range sqlTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("malformed date or timestamp %q: expected yyyy-mm-dd or yyyy-mm-dd hh:mm:ss[±hh:mm]", s)
}
