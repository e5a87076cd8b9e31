package asl

import (
	"fmt"
	"strings"
)

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
	case *object:
		tm := &template{isObj: true}
		for _, m := range t.members {
			k, val := m.key, m.val
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
		out := newObject(len(t.obj))
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
			out.put(f.key, v)
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
		return &object{}, nil
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
