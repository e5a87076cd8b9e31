package asl

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The interpreter's data model is what decodeJSON returns: nil, bool,
// string, json.Number (the number's exact text), []any and *object, a
// JSON object that keeps its members in document order, as Step Functions
// does. Values are never modified once built: a state that changes its
// input (ResultPath, JsonMerge) builds a copy, so executions, branches
// and Map items can share them.

// object is a JSON object: its members in document order. Objects with
// more than smallObject members also have an index by name.
type object struct {
	members []member
	index   map[string]int
}

type member struct {
	key string
	val any
}

// smallObject is the size up to which lookups scan the members; it is
// cheaper than hashing for the objects a state machine usually passes.
const smallObject = 8

// newObject returns an empty object with room for n members.
func newObject(n int) *object { return &object{members: make([]member, 0, n)} }

// objectOf builds an object from alternating keys and values.
func objectOf(kv ...any) *object {
	o := newObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.put(kv[i].(string), kv[i+1])
	}
	return o
}

// put sets k to v while the object is being built: an existing member
// keeps its place and takes the new value (the last duplicate wins, as in
// Jackson), a new one is appended.
func (o *object) put(k string, v any) {
	if i, ok := o.find(k); ok {
		o.members[i].val = v
		return
	}
	o.members = append(o.members, member{k, v})
	switch {
	case o.index != nil:
		o.index[k] = len(o.members) - 1
	case len(o.members) > smallObject:
		o.index = make(map[string]int, 2*len(o.members))
		for i, m := range o.members {
			o.index[m.key] = i
		}
	}
}

func (o *object) find(k string) (int, bool) {
	if o.index != nil {
		i, ok := o.index[k]
		return i, ok
	}
	for i := range o.members {
		if o.members[i].key == k {
			return i, true
		}
	}
	return 0, false
}

// get returns the value of member k.
func (o *object) get(k string) (any, bool) {
	if i, ok := o.find(k); ok {
		return o.members[i].val, true
	}
	return nil, false
}

// with returns a copy of o in which k is v: in k's place if o has it,
// else appended. o is not modified.
func (o *object) with(k string, v any) *object {
	c := &object{members: make([]member, len(o.members), len(o.members)+1)}
	copy(c.members, o.members)
	if o.index != nil {
		c.index = make(map[string]int, len(o.index)+1)
		for key, i := range o.index {
			c.index[key] = i
		}
	}
	c.put(k, v)
	return c
}

// MaxPayloadBytes is Step Functions' limit on a state's input, output and
// task results (256 KiB); beyond it the state fails with
// States.DataLimitExceeded.
const MaxPayloadBytes = 256 * 1024

// maxDepth bounds the nesting of decoded JSON, as encoding/json does.
const maxDepth = 10000

// decodeJSON parses one JSON value into the interpreter's data model,
// keeping object members in document order and numbers as their exact
// text. Invalid UTF-8 in strings becomes U+FFFD, as with encoding/json.
func decodeJSON(b []byte) (any, error) {
	p := &jsonParser{s: string(b)}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) errorf(format string, a ...any) error {
	return fmt.Errorf("%s at offset %d", fmt.Sprintf(format, a...), p.i)
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of JSON input")
	}
	if depth > maxDepth {
		return nil, p.errorf("JSON nested deeper than %d levels", maxDepth)
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return false, nil
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return nil, nil
	default:
		return nil, p.errorf("invalid character %q looking for a value", c)
	}
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // {
	o := &object{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return o, nil
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errorf("expected a string object key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected : after object key")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.put(k, v)
		if done, err := p.next('}', "an object member"); done || err != nil {
			return o, err
		}
	}
}

// next reads what follows a member or element: a comma (more to come)
// or the closing bracket (done).
func (p *jsonParser) next(closing byte, after string) (done bool, err error) {
	p.space()
	if p.i >= len(p.s) {
		return false, p.errorf("unexpected end of JSON input")
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("expected , or %c after %s", closing, after)
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := p.next(']', "an array element"); done || err != nil {
			return a, err
		}
	}
}

// number scans a JSON number and returns its text.
func (p *jsonParser) number() (any, error) {
	start := p.i
	s := p.s
	i := p.i
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		p.i = i
		return nil, p.errorf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			p.i = i
			return nil, p.errorf("invalid number: digits expected after the decimal point")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			p.i = i
			return nil, p.errorf("invalid number: digits expected in the exponent")
		}
	}
	p.i = i
	return json.Number(s[start:i]), nil
}

// str scans a JSON string. Strings without escapes are slices of the
// input (no copy).
func (p *jsonParser) str() (string, error) {
	p.i++ // "
	start := p.i
	ascii := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(s) {
				return validUTF8(s), nil
			}
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.errorf("invalid control character %q in string", c)
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

// escaped finishes a string that has escapes, from its start.
func (p *jsonParser) escaped(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return validUTF8(b.String()), nil
		case c < 0x20:
			return "", p.errorf("invalid control character %q in string", c)
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r2 = utf16.DecodeRune(r, lo)
					} else {
						p.i = save
					}
				}
				r = r2
			}
			b.WriteRune(r)
		default:
			return "", p.errorf("invalid escape \\%c in string", e)
		}
	}
	return "", p.errorf("unterminated string")
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 by
// U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// marshalJSON renders v compactly, without HTML escaping (as Step
// Functions shows payloads), object members in their order. Values of the
// interpreter's data model are written directly; anything else goes
// through encoding/json.
func marshalJSON(v any) ([]byte, error) {
	return appendJSON(make([]byte, 0, 256), v, false)
}

// canonicalJSON renders v with object keys sorted: equal JSON values
// render alike whatever the order of their members.
func canonicalJSON(v any) []byte {
	b, err := appendJSON(nil, v, true)
	if err != nil {
		return []byte(fmt.Sprint(v))
	}
	return b
}

func appendJSON(b []byte, v any, sorted bool) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case string:
		return appendString(b, t), nil
	case json.Number:
		if !json.Valid([]byte(t)) {
			return nil, fmt.Errorf("invalid number %q", string(t))
		}
		return append(b, t...), nil
	case *object:
		ms := t.members
		if sorted {
			ms = slices.Clone(ms)
			slices.SortFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
		}
		b = append(b, '{')
		for i, m := range ms {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, m.val, sorted); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, x := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, x, sorted); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// Re-read what encoding/json wrote, to write it without HTML escaping.
	dv, err := decodeJSON(enc)
	if err != nil {
		return nil, err
	}
	return appendJSON(b, dv, sorted)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping off: control characters, quotes and backslashes escaped,
// U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func mustJSON(v any) string {
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// jsonEqual compares two JSON values: numbers by value, objects whatever
// the order of their members.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return err1 == nil && err2 == nil && fx == fy
	case *object:
		y, ok := b.(*object)
		if !ok || len(x.members) != len(y.members) {
			return false
		}
		for _, m := range x.members {
			v, ok := y.get(m.key)
			if !ok || !jsonEqual(m.val, v) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
