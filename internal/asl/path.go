package asl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A path is a parsed JSONPath ("$.a.b[0]", "$$.Execution.Id") as ASL uses
// them in InputPath, OutputPath, ItemsPath, "key.$" fields, Choice
// Variables and intrinsic function arguments. The syntax is Jayway
// JsonPath's, which Step Functions uses.
type path struct {
	text    string
	context bool // starts with $$ (the context object)
	segs    []pathSeg
	// definite paths (names and single indexes only) select at most one
	// value; others select a list.
	definite bool
}

type segKind int

const (
	segName segKind = iota
	segIndex
	segWildcard
	segSlice
	segUnion // of names or of indexes
	segDescend
	segFilter
)

type pathSeg struct {
	kind       segKind
	name       string
	index      int
	start, end *int
	names      []string
	indexes    []int
	filter     filterExpr
}

// parsePath parses a JSONPath. JSONPath functions (.length()) and script
// expressions ([(...)]) are not implemented and are reported as such.
func parsePath(s string) (*path, error) {
	p := &path{text: s}
	rest, ok := strings.CutPrefix(s, "$$")
	if ok {
		p.context = true
	} else if rest, ok = strings.CutPrefix(s, "$"); !ok {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	segs, n, err := parseSegments(rest, "")
	if err != nil {
		return nil, fmt.Errorf("path %q: %v", s, err)
	}
	if n != len(rest) {
		return nil, fmt.Errorf("path %q: unexpected %q", s, rest[n:])
	}
	p.segs = segs
	p.definite = definite(segs)
	return p, nil
}

// definite reports whether segs select at most one value.
func definite(segs []pathSeg) bool {
	for _, sg := range segs {
		if sg.kind != segName && sg.kind != segIndex {
			return false
		}
	}
	return true
}

// parseSegments parses the segments of a path after its $ (or @) up to
// the end of s or, when stops is not empty, the first of its characters
// outside a segment; it returns how much of s it used.
func parseSegments(s, stops string) ([]pathSeg, int, error) {
	var segs []pathSeg
	i := 0
	for i < len(s) && !strings.ContainsRune(stops, rune(s[i])) {
		rest := s[i:]
		var sg pathSeg
		switch {
		case strings.HasPrefix(rest, ".."):
			name, n := scanName(rest[2:], stops)
			if name == "" {
				return nil, 0, fmt.Errorf("'..' must be followed by a field name")
			}
			sg = pathSeg{kind: segDescend, name: name}
			i += 2 + n
		case strings.HasPrefix(rest, ".*"):
			sg = pathSeg{kind: segWildcard}
			i += 2
		case rest[0] == '.':
			name, n := scanName(rest[1:], stops)
			if name == "" {
				return nil, 0, fmt.Errorf("empty field name")
			}
			if strings.HasSuffix(name, "()") {
				return nil, 0, fmt.Errorf("JSONPath functions (%s) are not implemented", name)
			}
			sg = pathSeg{kind: segName, name: name}
			i += 1 + n
		case rest[0] == '[':
			var n int
			var err error
			if sg, n, err = parseBracket(rest); err != nil {
				return nil, 0, err
			}
			i += n
		default:
			return segs, i, nil
		}
		segs = append(segs, sg)
	}
	return segs, i, nil
}

// scanName reads a dot-notation field name: up to the next '.' or '[',
// or one of stops.
func scanName(s, stops string) (string, int) {
	n := strings.IndexFunc(s, func(r rune) bool { return r == '.' || r == '[' || strings.ContainsRune(stops, r) })
	if n < 0 {
		n = len(s)
	}
	return s[:n], n
}

// parseBracket parses one [...] segment at the start of s and returns it
// and its length.
func parseBracket(s string) (pathSeg, int, error) {
	body := strings.TrimLeft(s[1:], " ")
	off := len(s) - len(body) // where body starts in s
	switch {
	case strings.HasPrefix(body, "?"):
		f, n, err := parseFilter(body[1:])
		if err != nil {
			return pathSeg{}, 0, err
		}
		end := off + 1 + n
		for end < len(s) && s[end] == ' ' {
			end++
		}
		if end >= len(s) || s[end] != ']' {
			return pathSeg{}, 0, fmt.Errorf("missing ] after the filter expression")
		}
		return pathSeg{kind: segFilter, filter: f}, end + 1, nil
	case strings.HasPrefix(body, "'") || strings.HasPrefix(body, `"`):
		names, n, err := scanQuotedNames(body)
		if err != nil {
			return pathSeg{}, 0, err
		}
		if len(names) == 1 {
			return pathSeg{kind: segName, name: names[0]}, off + n + 1, nil
		}
		return pathSeg{kind: segUnion, names: names}, off + n + 1, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return pathSeg{}, 0, fmt.Errorf("unclosed [")
	}
	inner := strings.TrimSpace(s[1:end])
	switch {
	case inner == "*":
		return pathSeg{kind: segWildcard}, end + 1, nil
	case strings.HasPrefix(inner, "("):
		return pathSeg{}, 0, fmt.Errorf("script expressions [(...)] are not implemented")
	case strings.Contains(inner, ":"):
		parts := strings.Split(inner, ":")
		if len(parts) != 2 {
			return pathSeg{}, 0, fmt.Errorf("slice steps are not implemented")
		}
		sg := pathSeg{kind: segSlice}
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathSeg{}, 0, fmt.Errorf("bad slice bound %q", part)
			}
			if i == 0 {
				sg.start = &n
			} else {
				sg.end = &n
			}
		}
		return sg, end + 1, nil
	case strings.Contains(inner, ","):
		sg := pathSeg{kind: segUnion}
		for part := range strings.SplitSeq(inner, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return pathSeg{}, 0, fmt.Errorf("bad index %q", part)
			}
			sg.indexes = append(sg.indexes, n)
		}
		return sg, end + 1, nil
	default:
		n, err := strconv.Atoi(inner)
		if err != nil {
			return pathSeg{}, 0, fmt.Errorf("bad index %q", inner)
		}
		return pathSeg{kind: segIndex, index: n}, end + 1, nil
	}
}

// scanQuotedNames reads 'a' or 'a','b' up to the closing ]; it returns the
// names and the offset of the ].
func scanQuotedNames(s string) ([]string, int, error) {
	var names []string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
			return nil, 0, fmt.Errorf("expected a quoted name")
		}
		name, n, err := scanQuoted(s[i:])
		if err != nil {
			return nil, 0, err
		}
		names = append(names, name)
		i += n
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) && s[i] == ']' {
			return names, i, nil
		}
		if i >= len(s) || s[i] != ',' {
			return nil, 0, fmt.Errorf("expected , or ] after a quoted name")
		}
		i++
	}
}

// scanQuoted reads a string quoted with the quote character s starts
// with, backslash escaping the next character; it returns the string and
// the length read.
func scanQuoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	i := 1
	for i < len(s) && s[i] != q {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
		i++
	}
	if i >= len(s) {
		return "", 0, fmt.Errorf("unterminated quoted string")
	}
	return b.String(), i + 1, nil
}

// isReference reports whether p is a Reference Path: field names and
// array indexes only, no context object; it selects one node.
func (p *path) isReference() bool {
	return !p.context && p.definite
}

// eval selects from data (or ctxObj for $$ paths). A definite path returns
// its value and whether it exists; an indefinite one returns the list of
// matches (possibly empty) and true.
func (p *path) eval(data, ctxObj any) (any, bool) {
	root := data
	if p.context {
		root = ctxObj
	}
	return evalSegs(p.segs, p.definite, root)
}

func evalSegs(segs []pathSeg, definite bool, root any) (any, bool) {
	if definite {
		cur := root
		for _, s := range segs {
			var ok bool
			if cur, ok = step1(cur, s); !ok {
				return nil, false
			}
		}
		return cur, true
	}
	cur := []any{root}
	for _, s := range segs {
		var next []any
		for _, v := range cur {
			next = stepAll(next, v, s, root)
		}
		cur = next
	}
	if cur == nil {
		cur = []any{}
	}
	return cur, true
}

func step1(v any, s pathSeg) (any, bool) {
	switch s.kind {
	case segName:
		o, ok := v.(*object)
		if !ok {
			return nil, false
		}
		return o.get(s.name)
	case segIndex:
		a, ok := v.([]any)
		if !ok {
			return nil, false
		}
		i := s.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false
		}
		return a[i], true
	}
	return nil, false
}

func stepAll(out []any, v any, s pathSeg, root any) []any {
	switch s.kind {
	case segName, segIndex:
		if x, ok := step1(v, s); ok {
			out = append(out, x)
		}
	case segWildcard:
		switch t := v.(type) {
		case *object:
			for _, m := range t.members {
				out = append(out, m.val)
			}
		case []any:
			out = append(out, t...)
		}
	case segSlice:
		a, ok := v.([]any)
		if !ok {
			break
		}
		lo, hi := 0, len(a)
		if s.start != nil {
			lo = clampIndex(*s.start, len(a))
		}
		if s.end != nil {
			hi = clampIndex(*s.end, len(a))
		}
		if lo < hi {
			out = append(out, a[lo:hi]...)
		}
	case segUnion:
		for _, n := range s.names {
			out = stepAll(out, v, pathSeg{kind: segName, name: n}, root)
		}
		for _, i := range s.indexes {
			out = stepAll(out, v, pathSeg{kind: segIndex, index: i}, root)
		}
	case segDescend:
		out = descend(out, v, s.name)
	case segFilter:
		// As in Jayway JsonPath: an array's elements are filtered, an
		// object is tested itself.
		switch t := v.(type) {
		case []any:
			for _, x := range t {
				if s.filter.test(x, root) {
					out = append(out, x)
				}
			}
		case *object:
			if s.filter.test(t, root) {
				out = append(out, t)
			}
		}
	}
	return out
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

// descend collects every value of field name at or below v, depth first
// in document order.
func descend(out []any, v any, name string) []any {
	switch t := v.(type) {
	case *object:
		if x, ok := t.get(name); ok {
			out = append(out, x)
		}
		for _, m := range t.members {
			out = descend(out, m.val, name)
		}
	case []any:
		for _, x := range t {
			out = descend(out, x, name)
		}
	}
	return out
}

// set returns a copy of data with value placed at the reference path p;
// data itself is not modified. Missing fields along the way are created
// as objects; an index must name an element of an existing array (an
// array is never grown). It fails when the path runs into a value of
// another kind.
func (p *path) set(data, value any) (any, error) {
	return setAt(data, p.segs, value)
}

func setAt(data any, segs []pathSeg, value any) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	s := segs[0]
	if s.kind == segIndex {
		a, ok := data.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set element [%d] of %s", s.index, jsonKind(data))
		}
		i := s.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, fmt.Errorf("index [%d] is out of bounds for an array of %d elements", s.index, len(a))
		}
		v, err := setAt(a[i], segs[1:], value)
		if err != nil {
			return nil, err
		}
		out := slices.Clone(a)
		out[i] = v
		return out, nil
	}
	o, ok := data.(*object)
	if !ok {
		return nil, fmt.Errorf("cannot set field %q of %s", s.name, jsonKind(data))
	}
	child, ok := o.get(s.name)
	if !ok {
		if len(segs) > 1 && segs[1].kind == segIndex {
			return nil, fmt.Errorf("field %q does not exist, so it has no element [%d]", s.name, segs[1].index)
		}
		child = &object{}
	}
	v, err := setAt(child, segs[1:], value)
	if err != nil {
		return nil, err
	}
	return o.with(s.name, v), nil
}

// canonical renders p the way Step Functions' error messages quote paths:
// $['a']['b'][0].
func (p *path) canonical() string {
	var b strings.Builder
	if p.context {
		b.WriteString("$$")
	} else {
		b.WriteString("$")
	}
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			fmt.Fprintf(&b, "['%s']", s.name)
		case segIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case segWildcard:
			b.WriteString("[*]")
		case segDescend:
			fmt.Fprintf(&b, "..['%s']", s.name)
		default:
			return p.text
		}
	}
	return b.String()
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
