package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxPayloadBytes is Step Functions' limit on a state's input, output and
// task results (256 KiB); beyond it the state fails with
// States.DataLimitExceeded.
const MaxPayloadBytes = 256 * 1024

// decodeJSON parses one JSON value, keeping numbers exact (json.Number).
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// marshalJSON renders v compactly, without HTML escaping (as Step
// Functions shows payloads), with object keys sorted. Values of the
// interpreter's data model (what decodeJSON returns) are written directly;
// anything else goes through encoding/json.
func marshalJSON(v any) ([]byte, error) {
	return appendJSON(make([]byte, 0, 256), v)
}

func appendJSON(b []byte, v any) ([]byte, error) {
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
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, t[k]); err != nil {
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
			if b, err = appendJSON(b, x); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
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

// pathError is a path or payload template that does not fit the data; it
// becomes States.Runtime (or States.IntrinsicFailure for intrinsics).
type pathError struct{ msg string }

func (e *pathError) Error() string { return e.msg }

// evalEnv is what paths and templates are evaluated against: the state's
// data and, built on first use, the context object.
type evalEnv struct {
	data   any
	x      *execution
	sc     *stateCtx
	ctxObj any
}

func (e *evalEnv) eval(p *path) (any, bool) {
	if p.context && e.ctxObj == nil {
		e.ctxObj = e.x.contextObject(e.sc)
	}
	return p.eval(e.data, e.ctxObj)
}

// template is a payload template (Parameters, ResultSelector,
// ItemSelector): JSON in which fields named "key.$" take their values from
// a path or an intrinsic function call.
type template struct {
	static any // used when obj and arr are nil
	obj    []tmplField
	arr    []*template
	isObj  bool
	isArr  bool
}

type tmplField struct {
	key   string // without .$
	field string // as written
	sub   *template
	path  *path
	call  *fnCall
}

// parseTemplate compiles v; problems are reported through bad.
func parseTemplate(v any, where string, bad func(string, ...any)) *template {
	switch t := v.(type) {
	case map[string]any:
		tm := &template{isObj: true}
		for _, k := range sortedKeys(t) {
			val := t[k]
			key, dyn := strings.CutSuffix(k, ".$")
			if !dyn {
				tm.obj = append(tm.obj, tmplField{key: k, field: k, sub: parseTemplate(val, where, bad)})
				continue
			}
			f := tmplField{key: key, field: k}
			s, ok := val.(string)
			switch {
			case !ok:
				bad("%s: the value of field %q must be a path or an intrinsic function string", where, k)
				continue
			case strings.HasPrefix(s, "$"):
				p, err := parsePath(s)
				if err != nil {
					bad("%s: field %q: %v", where, k, err)
					continue
				}
				f.path = p
			case strings.HasPrefix(s, "States."):
				c, err := parseIntrinsic(s)
				if err != nil {
					bad("%s: field %q: %v", where, k, err)
					continue
				}
				f.call = c
			default:
				bad("%s: the value of field %q must be a JSONPath or an intrinsic function call, got %q", where, k, s)
				continue
			}
			tm.obj = append(tm.obj, f)
		}
		return tm
	case []any:
		tm := &template{isArr: true}
		for _, x := range t {
			tm.arr = append(tm.arr, parseTemplate(x, where, bad))
		}
		return tm
	default:
		return &template{static: v}
	}
}

// apply evaluates the template in env.
func (m *Machine) apply(t *template, env *evalEnv) (any, error) {
	switch {
	case t.isObj:
		out := make(map[string]any, len(t.obj))
		for _, f := range t.obj {
			var v any
			var err error
			switch {
			case f.sub != nil:
				v, err = m.apply(f.sub, env)
			case f.path != nil:
				var ok bool
				if v, ok = env.eval(f.path); !ok {
					err = &pathError{msg: fmt.Sprintf("The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", f.path.text, f.field, mustJSON(env.data))}
				}
			default:
				v, err = m.evalCall(f.call, env)
			}
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		}
		return out, nil
	case t.isArr:
		out := make([]any, len(t.arr))
		for i, x := range t.arr {
			v, err := m.apply(x, env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		return t.static, nil
	}
}

// ioSpec is a state's input and output processing.
type ioSpec struct {
	inputPath      *path
	inputNull      bool
	outputPath     *path
	outputNull     bool
	parameters     *template
	resultSelector *template
	resultPath     *path
	resultNull     bool
}

// selectPath applies InputPath or OutputPath: null gives {}.
func selectPath(p *path, null bool, env *evalEnv) (any, error) {
	if null {
		return map[string]any{}, nil
	}
	if p == nil {
		return env.data, nil
	}
	v, ok := env.eval(p)
	if !ok {
		return nil, &pathError{msg: fmt.Sprintf("Invalid path '%s' : No results for path: %s", p.text, p.canonical())}
	}
	return v, nil
}

// resultPathError is ResultPath not fitting the state's input.
type resultPathError struct{ msg string }

func (e *resultPathError) Error() string { return e.msg }

// placeResult applies ResultPath: the result merged into the raw input.
func placeResult(io *ioSpec, raw, result any) (any, error) {
	switch {
	case io.resultNull:
		return raw, nil
	case io.resultPath == nil:
		return result, nil
	}
	out, err := io.resultPath.set(raw, result)
	if err != nil {
		return nil, &resultPathError{msg: fmt.Sprintf("Unable to apply ResultPath '%s' to input '%s': %v", io.resultPath.text, mustJSON(raw), err)}
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
