package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fnCall is a parsed intrinsic function call, e.g.
// States.Format('Hello, {}', $.name).
type fnCall struct {
	name string
	args []fnArg
}

type fnArg struct {
	lit   any    // a literal string, number, boolean or null
	raw   string // a string literal as written (escapes kept), for States.Format
	isStr bool
	path  *path
	call  *fnCall
}

// intrinsic describes one intrinsic function: its arity and its body.
type intrinsic struct {
	min, max int // max < 0: variadic
	eval     func(m *Machine, c *fnCall, args []any) (any, error)
}

var intrinsics map[string]intrinsic

func init() {
	intrinsics = map[string]intrinsic{
		"States.Format":         {1, -1, fnFormat},
		"States.StringToJson":   {1, 1, fnStringToJSON},
		"States.JsonToString":   {1, 1, fnJSONToString},
		"States.Array":          {0, -1, func(_ *Machine, _ *fnCall, a []any) (any, error) { return append([]any{}, a...), nil }},
		"States.ArrayPartition": {2, 2, fnArrayPartition},
		"States.ArrayContains":  {2, 2, fnArrayContains},
		"States.ArrayRange":     {3, 3, fnArrayRange},
		"States.ArrayGetItem":   {2, 2, fnArrayGetItem},
		"States.ArrayLength":    {1, 1, fnArrayLength},
		"States.ArrayUnique":    {1, 1, fnArrayUnique},
		"States.Base64Encode":   {1, 1, fnBase64Encode},
		"States.Base64Decode":   {1, 1, fnBase64Decode},
		"States.Hash":           {2, 2, fnHash},
		"States.JsonMerge":      {3, 3, fnJSONMerge},
		"States.MathRandom":     {2, 3, fnMathRandom},
		"States.MathAdd":        {2, 2, fnMathAdd},
		"States.StringSplit":    {2, 2, fnStringSplit},
		"States.UUID":           {0, 0, func(m *Machine, _ *fnCall, _ []any) (any, error) { return m.uuid(), nil }},
	}
}

// parseIntrinsic parses a whole intrinsic function call expression.
func parseIntrinsic(s string) (*fnCall, error) {
	p := &fnParser{s: s}
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic function %q: %v", s, err)
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("intrinsic function %q: unexpected %q after the call", s, p.s[p.i:])
	}
	return c, nil
}

type fnParser struct {
	s string
	i int
}

func (p *fnParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *fnParser) call() (*fnCall, error) {
	p.space()
	open := strings.IndexByte(p.s[p.i:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing (")
	}
	name := strings.TrimSpace(p.s[p.i : p.i+open])
	fn, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.i += open + 1
	c := &fnCall{name: name}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing )")
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("expected , or ) at %q", p.s[p.i:])
			}
			p.i++
		}
	}
	if len(c.args) < fn.min || (fn.max >= 0 && len(c.args) > fn.max) {
		return nil, fmt.Errorf("%s takes %s arguments, got %d", name, arity(fn), len(c.args))
	}
	return c, nil
}

func arity(fn intrinsic) string {
	switch {
	case fn.max < 0:
		return fmt.Sprintf("at least %d", fn.min)
	case fn.min == fn.max:
		return strconv.Itoa(fn.min)
	default:
		return fmt.Sprintf("%d to %d", fn.min, fn.max)
	}
}

func (p *fnParser) arg() (fnArg, error) {
	p.space()
	if p.i >= len(p.s) {
		return fnArg{}, fmt.Errorf("missing argument")
	}
	rest := p.s[p.i:]
	switch {
	case rest[0] == '\'':
		var raw, val strings.Builder
		j := 1
		for ; j < len(rest) && rest[j] != '\''; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				raw.WriteByte('\\')
				j++
			}
			raw.WriteByte(rest[j])
			val.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return fnArg{}, fmt.Errorf("unterminated string")
		}
		p.i += j + 1
		return fnArg{lit: val.String(), raw: raw.String(), isStr: true}, nil
	case rest[0] == '$':
		n := argEnd(rest)
		pth, err := parsePath(strings.TrimSpace(rest[:n]))
		if err != nil {
			return fnArg{}, err
		}
		p.i += n
		return fnArg{path: pth}, nil
	case strings.HasPrefix(rest, "States."):
		c, err := p.call()
		if err != nil {
			return fnArg{}, err
		}
		return fnArg{call: c}, nil
	default:
		n := argEnd(rest)
		tok := strings.TrimSpace(rest[:n])
		p.i += n
		switch tok {
		case "true":
			return fnArg{lit: true}, nil
		case "false":
			return fnArg{lit: false}, nil
		case "null":
			return fnArg{lit: nil}, nil
		}
		if _, err := strconv.ParseFloat(tok, 64); err != nil {
			return fnArg{}, fmt.Errorf("bad argument %q", tok)
		}
		return fnArg{lit: json.Number(tok)}, nil
	}
}

// argEnd finds where an unquoted argument (a path or a literal) ends: at
// the first , or ) outside brackets and quotes.
func argEnd(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && (c == ',' || c == ')'):
			return i
		}
	}
	return len(s)
}

// intrinsicError is an intrinsic function failing on its arguments.
type intrinsicError struct{ msg string }

func (e *intrinsicError) Error() string { return e.msg }

func fnErr(c *fnCall, format string, a ...any) error {
	return &intrinsicError{msg: fmt.Sprintf("%s: %s", c.name, fmt.Sprintf(format, a...))}
}

// evalCall evaluates c in env.
func (m *Machine) evalCall(c *fnCall, env *evalEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.path != nil:
			v, ok := env.eval(a.path)
			if !ok {
				return nil, &pathError{msg: fmt.Sprintf("The JsonPath argument %q of %s could not be found in the input", a.path.text, c.name)}
			}
			args[i] = v
		case a.call != nil:
			v, err := m.evalCall(a.call, env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		default:
			args[i] = a.lit
		}
	}
	return intrinsics[c.name].eval(m, c, args)
}

func fnFormat(_ *Machine, c *fnCall, args []any) (any, error) {
	tmpl := c.args[0].raw
	if !c.args[0].isStr {
		s, ok := args[0].(string)
		if !ok {
			return nil, fnErr(c, "the template (first argument) must be a string, got %s", jsonKind(args[0]))
		}
		tmpl = s
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl); i++ {
		switch {
		case tmpl[i] == '\\' && i+1 < len(tmpl):
			i++
			b.WriteByte(tmpl[i])
		case strings.HasPrefix(tmpl[i:], "{}"):
			if next >= len(args) {
				return nil, fnErr(c, "more {} placeholders than arguments")
			}
			formatValue(&b, args[next])
			next++
			i++
		default:
			b.WriteByte(tmpl[i])
		}
	}
	if next != len(args) {
		return nil, fnErr(c, "%d arguments for %d {} placeholders", len(args)-1, next-1)
	}
	return b.String(), nil
}

// formatValue writes v as States.Format renders an argument: a string as
// it is, a number, boolean or null as its JSON text, and objects and
// arrays in Java's notation, as Step Functions (a Java service) shows
// them: {a=1, b=[1, 2]}, strings inside them unquoted.
func formatValue(b *strings.Builder, v any) {
	switch t := v.(type) {
	case string:
		b.WriteString(t)
	case *object:
		b.WriteByte('{')
		for i, m := range t.members {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.key)
			b.WriteByte('=')
			formatValue(b, m.val)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, x)
		}
		b.WriteByte(']')
	default:
		b.WriteString(mustJSON(v))
	}
}

// fnStringToJSON parses its argument. An empty (or blank) string gives
// null, as the reference implementation that moto runs does; see
// docs/asl.md.
func fnStringToJSON(_ *Machine, c *fnCall, a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fnErr(c, "the argument must be a string, got %s", jsonKind(a[0]))
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, fnErr(c, "%v", err)
	}
	return v, nil
}

func fnJSONToString(_ *Machine, _ *fnCall, a []any) (any, error) {
	b, err := marshalJSON(a[0])
	return string(b), err
}

func argArray(c *fnCall, v any, n int) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fnErr(c, "argument %d must be an array, got %s", n, jsonKind(v))
	}
	return a, nil
}

func argInt(c *fnCall, v any, n int) (int64, error) {
	if num, ok := v.(json.Number); ok {
		if i, err := num.Int64(); err == nil {
			return i, nil
		}
	}
	return 0, fnErr(c, "argument %d must be an integer, got %v", n, v)
}

// argRounded reads a number argument rounded to the nearest integer, as
// States.MathAdd, States.ArrayRange and States.ArrayPartition do: halves
// round up (toward positive infinity), as Java's Math.round does.
func argRounded(c *fnCall, v any, n int) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fnErr(c, "argument %d must be a number, got %s", n, jsonKind(v))
	}
	if i, err := num.Int64(); err == nil {
		return i, nil
	}
	f, err := num.Float64()
	if r := math.Floor(f + 0.5); err == nil && r >= math.MinInt64 && r < math.MaxInt64 {
		return int64(r), nil
	}
	return 0, fnErr(c, "argument %d (%s) is out of the integer range", n, num)
}

// maxChars is the input limit of States.Base64Encode, Base64Decode and
// Hash (10,000 characters).
const maxChars = 10000

func argString(c *fnCall, v any, n int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fnErr(c, "argument %d must be a string, got %s", n, jsonKind(v))
	}
	return s, nil
}

func fnArrayPartition(_ *Machine, c *fnCall, a []any) (any, error) {
	arr, err := argArray(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	size, err := argRounded(c, a[1], 2)
	if err != nil || size <= 0 {
		return nil, fnErr(c, "the chunk size must be a positive integer")
	}
	out := []any{}
	for len(arr) > 0 {
		n := min(int(size), len(arr))
		out = append(out, append([]any{}, arr[:n]...))
		arr = arr[n:]
	}
	return out, nil
}

func fnArrayContains(_ *Machine, c *fnCall, a []any) (any, error) {
	arr, err := argArray(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	for _, v := range arr {
		if jsonEqual(v, a[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(_ *Machine, c *fnCall, a []any) (any, error) {
	var n [3]int64
	for i := range n {
		var err error
		if n[i], err = argRounded(c, a[i], i+1); err != nil {
			return nil, err
		}
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, fnErr(c, "the step must not be 0")
	}
	out := []any{}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		if len(out) == 1000 {
			return nil, fnErr(c, "the range has more than 1000 items")
		}
		out = append(out, json.Number(strconv.FormatInt(v, 10)))
	}
	return out, nil
}

func fnArrayGetItem(_ *Machine, c *fnCall, a []any) (any, error) {
	arr, err := argArray(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	i, err := argInt(c, a[1], 2)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(arr)) {
		return nil, fnErr(c, "index %d is out of bounds for an array of %d items", i, len(arr))
	}
	return arr[i], nil
}

func fnArrayLength(_ *Machine, c *fnCall, a []any) (any, error) {
	arr, err := argArray(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.Itoa(len(arr))), nil
}

func fnArrayUnique(_ *Machine, c *fnCall, a []any) (any, error) {
	arr, err := argArray(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	seen := map[string]bool{}
	for _, v := range arr {
		k := canonicalJSON(v)
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, v)
		}
	}
	return out, nil
}

func fnBase64Encode(_ *Machine, c *fnCall, a []any) (any, error) {
	s, err := argString(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s) > maxChars {
		return nil, fnErr(c, "the input has more than %d characters", maxChars)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// fnBase64Decode decodes MIME Base64 as Java's MIME decoder does: the
// characters outside the Base64 alphabet (line breaks, spaces) are
// ignored, decoding stops at the first '=' and padding is optional.
func fnBase64Decode(_ *Machine, c *fnCall, a []any) (any, error) {
	s, err := argString(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s) > maxChars {
		return nil, fnErr(c, "the input has more than %d characters", maxChars)
	}
	var clean strings.Builder
	for i := 0; i < len(s) && s[i] != '='; i++ {
		if ch := s[i]; ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' {
			clean.WriteByte(ch)
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(clean.String())
	if err != nil {
		return nil, fnErr(c, "not Base64: its last unit has %d characters", clean.Len()%4)
	}
	return validUTF8(string(b)), nil
}

func fnHash(_ *Machine, c *fnCall, a []any) (any, error) {
	algo, err := argString(c, a[1], 2)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch algo {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fnErr(c, "unknown algorithm %q (MD5, SHA-1, SHA-256, SHA-384, SHA-512)", algo)
	}
	data, ok := a[0].(string)
	if !ok {
		b, err := marshalJSON(a[0])
		if err != nil {
			return nil, err
		}
		data = string(b)
	}
	if utf8.RuneCountInString(data) > maxChars {
		return nil, fnErr(c, "the data to hash has more than %d characters", maxChars)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(_ *Machine, c *fnCall, a []any) (any, error) {
	x, ok1 := a[0].(*object)
	y, ok2 := a[1].(*object)
	if !ok1 || !ok2 {
		return nil, fnErr(c, "the first two arguments must be objects")
	}
	if deep, ok := a[2].(bool); !ok || deep {
		return nil, fnErr(c, "only shallow merges (false) are supported, as in Step Functions")
	}
	out := newObject(len(x.members) + len(y.members))
	for _, m := range x.members {
		out.put(m.key, m.val)
	}
	for _, m := range y.members {
		out.put(m.key, m.val)
	}
	return out, nil
}

func fnMathRandom(m *Machine, c *fnCall, a []any) (any, error) {
	lo, err := argInt(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	hi, err := argInt(c, a[1], 2)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, fnErr(c, "the end must be greater than the start")
	}
	return json.Number(strconv.FormatInt(lo+m.randInt(hi-lo), 10)), nil
}

func fnMathAdd(_ *Machine, c *fnCall, a []any) (any, error) {
	x, err := argRounded(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	y, err := argRounded(c, a[1], 2)
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.FormatInt(x+y, 10)), nil
}

func fnStringSplit(_ *Machine, c *fnCall, a []any) (any, error) {
	s, err := argString(c, a[0], 1)
	if err != nil {
		return nil, err
	}
	d, err := argString(c, a[1], 2)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
		out = append(out, part)
	}
	return out, nil
}
