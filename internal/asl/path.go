package asl

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A path is a parsed JSONPath ("$.a.b[0]", "$$.Execution.Id") as ASL uses
// them in InputPath, OutputPath, ItemsPath, "key.$" fields, Choice
// Variables and intrinsic function arguments.
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
)

type pathSeg struct {
	kind       segKind
	name       string
	index      int
	start, end *int
	names      []string
	indexes    []int
}

// parsePath parses a JSONPath. Filters, scripts and functions are not
// implemented and are reported as such.
func parsePath(s string) (*path, error) {
	p := &path{text: s, definite: true}
	rest, ok := strings.CutPrefix(s, "$$")
	if ok {
		p.context = true
	} else if rest, ok = strings.CutPrefix(s, "$"); !ok {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	for rest != "" {
		var sg pathSeg
		switch {
		case strings.HasPrefix(rest, ".."):
			rest = rest[2:]
			name, n := scanName(rest)
			if name == "" {
				return nil, fmt.Errorf("path %q: '..' must be followed by a field name", s)
			}
			sg = pathSeg{kind: segDescend, name: name}
			rest = rest[n:]
		case strings.HasPrefix(rest, ".*"):
			sg = pathSeg{kind: segWildcard}
			rest = rest[2:]
		case rest[0] == '.':
			name, n := scanName(rest[1:])
			if name == "" {
				return nil, fmt.Errorf("path %q: empty field name", s)
			}
			if strings.HasSuffix(name, "()") {
				return nil, fmt.Errorf("path %q: JSONPath functions are not implemented", s)
			}
			sg = pathSeg{kind: segName, name: name}
			rest = rest[1+n:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", s)
			}
			inner := strings.TrimSpace(rest[1:end])
			if strings.HasPrefix(inner, "'") || strings.HasPrefix(inner, `"`) {
				// A quoted name may contain ']'; find the real end.
				names, n, err := scanQuotedNames(rest[1:])
				if err != nil {
					return nil, fmt.Errorf("path %q: %v", s, err)
				}
				end = 1 + n
				if len(names) == 1 {
					sg = pathSeg{kind: segName, name: names[0]}
				} else {
					sg = pathSeg{kind: segUnion, names: names}
				}
			} else {
				var err error
				if sg, err = parseBracket(inner); err != nil {
					return nil, fmt.Errorf("path %q: %v", s, err)
				}
			}
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("path %q: unexpected %q", s, rest)
		}
		if sg.kind != segName && sg.kind != segIndex {
			p.definite = false
		}
		p.segs = append(p.segs, sg)
	}
	return p, nil
}

func scanName(s string) (string, int) {
	n := strings.IndexAny(s, ".[")
	if n < 0 {
		n = len(s)
	}
	return s[:n], n
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
		q := s[i]
		var b strings.Builder
		i++
		for i < len(s) && s[i] != q {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated quoted name")
		}
		names = append(names, b.String())
		i++
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

func parseBracket(inner string) (pathSeg, error) {
	switch {
	case inner == "*":
		return pathSeg{kind: segWildcard}, nil
	case strings.HasPrefix(inner, "?") || strings.HasPrefix(inner, "("):
		return pathSeg{}, fmt.Errorf("filter and script expressions are not implemented")
	case strings.Contains(inner, ":"):
		parts := strings.Split(inner, ":")
		if len(parts) != 2 {
			return pathSeg{}, fmt.Errorf("slice steps are not implemented")
		}
		sg := pathSeg{kind: segSlice}
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathSeg{}, fmt.Errorf("bad slice bound %q", part)
			}
			if i == 0 {
				sg.start = &n
			} else {
				sg.end = &n
			}
		}
		return sg, nil
	case strings.Contains(inner, ","):
		sg := pathSeg{kind: segUnion}
		for part := range strings.SplitSeq(inner, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return pathSeg{}, fmt.Errorf("bad index %q", part)
			}
			sg.indexes = append(sg.indexes, n)
		}
		return sg, nil
	default:
		n, err := strconv.Atoi(inner)
		if err != nil {
			return pathSeg{}, fmt.Errorf("bad index %q", inner)
		}
		return pathSeg{kind: segIndex, index: n}, nil
	}
}

// isReference reports whether p is a Reference Path (names only, no
// context object), as ResultPath requires.
func (p *path) isReference() bool {
	if p.context {
		return false
	}
	for _, s := range p.segs {
		if s.kind != segName {
			return false
		}
	}
	return true
}

// eval selects from data (or ctxObj for $$ paths). A definite path returns
// its value and whether it exists; an indefinite one returns the list of
// matches (possibly empty) and true.
func (p *path) eval(data, ctxObj any) (any, bool) {
	root := data
	if p.context {
		root = ctxObj
	}
	if p.definite {
		cur := root
		for _, s := range p.segs {
			var ok bool
			if cur, ok = step1(cur, s); !ok {
				return nil, false
			}
		}
		return cur, true
	}
	cur := []any{root}
	for _, s := range p.segs {
		var next []any
		for _, v := range cur {
			next = stepAll(next, v, s)
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
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		x, ok := m[s.name]
		return x, ok
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

func stepAll(out []any, v any, s pathSeg) []any {
	switch s.kind {
	case segName, segIndex:
		if x, ok := step1(v, s); ok {
			out = append(out, x)
		}
	case segWildcard:
		switch t := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				out = append(out, t[k])
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
			out = stepAll(out, v, pathSeg{kind: segName, name: n})
		}
		for _, i := range s.indexes {
			out = stepAll(out, v, pathSeg{kind: segIndex, index: i})
		}
	case segDescend:
		out = descend(out, v, s.name)
	}
	return out
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

func descend(out []any, v any, name string) []any {
	switch t := v.(type) {
	case map[string]any:
		if x, ok := t[name]; ok {
			out = append(out, x)
		}
		for _, k := range slices.Sorted(maps.Keys(t)) {
			out = descend(out, t[k], name)
		}
	case []any:
		for _, x := range t {
			out = descend(out, x, name)
		}
	}
	return out
}

// set returns a copy of data with value placed at the reference path p,
// creating objects along the way; data itself is not modified. It fails
// when the path runs into a value that is not an object.
func (p *path) set(data, value any) (any, error) {
	if len(p.segs) == 0 {
		return value, nil
	}
	m, ok := data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cannot set a field of %s", jsonKind(data))
	}
	out := maps.Clone(m)
	s := p.segs[0]
	if len(p.segs) == 1 {
		out[s.name] = value
		return out, nil
	}
	child, ok := out[s.name]
	if !ok {
		child = map[string]any{}
	}
	rest := &path{text: p.text, segs: p.segs[1:], definite: true}
	v, err := rest.set(child, value)
	if err != nil {
		return nil, err
	}
	out[s.name] = v
	return out, nil
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
	case map[string]any:
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
