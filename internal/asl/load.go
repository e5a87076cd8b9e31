package asl

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// stateMachine is a validated definition, or a Map's ItemProcessor or a
// Parallel branch.
type stateMachine struct {
	startAt string
	states  map[string]*state
	timeout time.Duration // top level only; 0 means none
}

// state is one validated state.
type state struct {
	name string
	typ  string
	next string
	end  bool
	io   ioSpec

	// Pass
	result    any
	hasResult bool

	// Task
	resource  string // as written, after substitution
	function  string // Lambda function name
	invoke    bool   // arn:aws:states:::lambda:invoke
	handler   Handler
	timeout   int64 // seconds, 0 = none
	heartbeat int64 // seconds, 0 = none

	// Task, Map, Parallel
	retry []*retrier
	catch []*catcher

	// Choice
	choices []*rule
	dflt    string

	// Wait
	seconds       *int64
	secondsPath   *path
	timestamp     *time.Time
	timestampPath *path

	// Fail
	errName, cause     string
	errorDyn, causeDyn *dynString

	// Map
	processor     *stateMachine
	itemsPath     *path
	itemSelector  *template
	maxConcurrent int
	toleratedPct  *float64
	toleratedCnt  *int64

	// Parallel
	branches []*stateMachine
}

// dynString is Fail's ErrorPath or CausePath: a path or an intrinsic.
type dynString struct {
	path *path
	call *fnCall
}

// Load parses, substitutes and validates an ASL definition and binds its
// Task states to opts.Handlers. Problems are returned as a *LoadError
// listing all of them.
func Load(definition []byte, opts Options) (*Machine, error) {
	text, err := Substitute(string(definition), opts.Substitutions)
	if err != nil {
		return nil, err
	}
	raw, err := decodeJSON([]byte(text))
	if err != nil {
		return nil, &LoadError{Problems: []string{"not valid JSON: " + err.Error()}}
	}
	top, ok := raw.(*object)
	if !ok {
		return nil, &LoadError{Problems: []string{"the definition must be a JSON object"}}
	}
	l := &loader{handlers: opts.Handlers, names: map[string]bool{}}
	sm := l.machine(top, "", machineTop)
	if len(l.problems) > 0 {
		return nil, &LoadError{Problems: l.problems}
	}
	m := &Machine{name: opts.Name, def: sm, clock: opts.Clock, rand: opts.Rand}
	if m.name == "" {
		m.name = "local"
	}
	m.arn = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", localRegion, localAccount, m.name)
	if m.clock == nil {
		m.clock = RealClock{}
	}
	if m.rand == nil {
		m.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return m, nil
}

var placeholder = regexp.MustCompile(`\$\{(!?)([^}]*)\}`)

// Substitute replaces ${Name} placeholders in an ASL definition as SAM's
// DefinitionSubstitutions (CloudFormation's Fn::Sub) do; ${!Name} is the
// literal ${Name}. A placeholder with no substitution, and a substitution
// the definition does not use, are errors (*LoadError).
func Substitute(def string, subs map[string]string) (string, error) {
	used := map[string]bool{}
	var problems []string
	out := placeholder.ReplaceAllStringFunc(def, func(m string) string {
		g := placeholder.FindStringSubmatch(m)
		if g[1] == "!" {
			return "${" + g[2] + "}"
		}
		v, ok := subs[g[2]]
		if !ok {
			problems = append(problems, fmt.Sprintf("placeholder ${%s} has no substitution", g[2]))
			return m
		}
		used[g[2]] = true
		return v
	})
	for _, k := range slices.Sorted(maps.Keys(subs)) {
		if !used[k] {
			problems = append(problems, fmt.Sprintf("substitution %q is not used by the definition", k))
		}
	}
	if len(problems) > 0 {
		return "", &LoadError{Problems: slices.Compact(problems)}
	}
	return out, nil
}

type loader struct {
	handlers map[string]Handler
	names    map[string]bool // every state name, machine-wide
	problems []string
}

func (l *loader) bad(format string, a ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, a...))
}

// obj reads the fields of one JSON object and reports the ones nothing
// asked for.
type obj struct {
	l     *loader
	where string
	m     *object
	seen  map[string]bool
}

func (l *loader) obj(m *object, where string) *obj {
	return &obj{l: l, where: where, m: m, seen: map[string]bool{}}
}

func (o *obj) has(k string) bool {
	o.seen[k] = true
	_, ok := o.m.get(k)
	return ok
}

func (o *obj) get(k string) (any, bool) {
	o.seen[k] = true
	return o.m.get(k)
}

func (o *obj) str(k string, required bool) string {
	v, ok := o.get(k)
	if !ok {
		if required {
			o.l.bad("%s: missing required field %q", o.where, k)
		}
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		o.l.bad("%s: field %q must be a string", o.where, k)
	}
	return s
}

// integer reads a whole number in [lo, hi].
func (o *obj) integer(k string, lo, hi int64) (int64, bool) {
	v, ok := o.get(k)
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	i, err := n.Int64()
	if !isNum || err != nil || i < lo || i > hi {
		o.l.bad("%s: field %q must be an integer from %d to %d, got %s", o.where, k, lo, hi, mustJSON(v))
		return 0, false
	}
	return i, true
}

func (o *obj) number(k string, lo, hi float64) (float64, bool) {
	v, ok := o.get(k)
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	f, err := n.Float64()
	if !isNum || err != nil || f < lo || f > hi {
		o.l.bad("%s: field %q must be a number from %g to %g, got %s", o.where, k, lo, hi, mustJSON(v))
		return 0, false
	}
	return f, true
}

// path reads a path field; a JSON null sets null.
func (o *obj) path(k string, reference bool) (p *path, null bool) {
	v, ok := o.get(k)
	if !ok {
		return nil, false
	}
	if v == nil {
		return nil, true
	}
	s, isStr := v.(string)
	if !isStr {
		o.l.bad("%s: field %q must be a path string or null", o.where, k)
		return nil, false
	}
	p, err := parsePath(s)
	if err != nil {
		o.l.bad("%s: field %q: %v", o.where, k, err)
		return nil, false
	}
	if reference && !p.isReference() {
		o.l.bad("%s: field %q must be a reference path (field names only, e.g. $.a.b), got %q", o.where, k, s)
		return nil, false
	}
	return p, false
}

// notImplemented lists fields Step Functions accepts that this interpreter
// does not run; they are load errors rather than silently ignored.
var notImplemented = map[string]bool{
	"Assign": true, "Arguments": true, "Output": true, "Credentials": true,
	"TimeoutSecondsPath": true, "HeartbeatSecondsPath": true,
	"ItemReader": true, "ItemBatcher": true, "ResultWriter": true, "Label": true,
	"MaxConcurrencyPath": true, "ToleratedFailurePercentagePath": true, "ToleratedFailureCountPath": true,
	"Items": true,
}

// done reports every field nothing asked for.
func (o *obj) done() {
	for _, m := range o.m.members {
		k := m.key
		if o.seen[k] {
			continue
		}
		if notImplemented[k] {
			o.l.bad("%s: field %q is not implemented by the local interpreter", o.where, k)
		} else {
			o.l.bad("%s: field %q is not valid here", o.where, k)
		}
	}
}

type machineKind int

const (
	machineTop machineKind = iota
	machineBranch
	machineProcessor
)

// machine loads a state machine object: the top level, a Map's
// ItemProcessor or a Parallel branch.
func (l *loader) machine(m *object, where string, kind machineKind) *stateMachine {
	label := "the definition"
	if where != "" {
		label = where
	}
	o := l.obj(m, label)
	o.has("Comment")
	sm := &stateMachine{states: map[string]*state{}}
	if kind == machineTop {
		o.has("Version")
		if v, ok := o.get("Version"); ok && v != "1.0" {
			l.bad("%s: Version must be \"1.0\"", label)
		}
		if secs, ok := o.integer("TimeoutSeconds", 1, 99999999); ok {
			sm.timeout = time.Duration(secs) * time.Second
		}
	}
	l.queryLanguage(o)
	if kind == machineProcessor {
		o.has("ProcessorConfig") // read by the Map loader
	}
	sm.startAt = o.str("StartAt", true)
	statesV, ok := o.get("States")
	states, isObj := statesV.(*object)
	if !isObj {
		states = &object{}
	}
	switch {
	case !ok:
		l.bad("%s: missing required field \"States\"", label)
	case !isObj || len(states.members) == 0:
		l.bad("%s: \"States\" must be a non-empty object", label)
	}
	o.done()
	for _, m := range states.members {
		name := m.key
		if l.names[name] {
			l.bad("state name %q is used more than once", name)
		}
		l.names[name] = true
		if len(name) > 80 {
			l.bad("state name %q is longer than 80 characters", name)
		}
		sv, ok := m.val.(*object)
		if !ok {
			l.bad("state %q must be an object", name)
			continue
		}
		if st := l.state(name, sv); st != nil {
			sm.states[name] = st
		}
	}
	if _, ok := states.get(sm.startAt); len(states.members) > 0 && sm.startAt != "" && !ok {
		l.bad("%s: StartAt %q is not a state", label, sm.startAt)
	}
	l.checkTransitions(sm, states, label)
	return sm
}

func (l *loader) queryLanguage(o *obj) {
	if v, ok := o.get("QueryLanguage"); ok {
		switch v {
		case "JSONPath":
		case "JSONata":
			l.bad("%s: QueryLanguage JSONata is not implemented by the local interpreter (JSONPath only)", o.where)
		default:
			l.bad("%s: QueryLanguage must be JSONPath or JSONata", o.where)
		}
	}
}

// checkTransitions reports transitions to missing states and states that
// cannot be reached from StartAt.
func (l *loader) checkTransitions(sm *stateMachine, raw *object, label string) {
	edges := func(st *state) []string {
		var out []string
		if st.next != "" {
			out = append(out, st.next)
		}
		if st.dflt != "" {
			out = append(out, st.dflt)
		}
		for _, r := range st.choices {
			out = append(out, r.next)
		}
		for _, c := range st.catch {
			out = append(out, c.next)
		}
		return out
	}
	for _, m := range raw.members {
		st := sm.states[m.key]
		if st == nil {
			continue
		}
		for _, n := range edges(st) {
			if _, ok := raw.get(n); !ok {
				l.bad("state %q: transition to %q, which is not a state in %s", m.key, n, label)
			}
		}
	}
	if _, ok := sm.states[sm.startAt]; !ok {
		return
	}
	seen := map[string]bool{sm.startAt: true}
	queue := []string{sm.startAt}
	for len(queue) > 0 {
		st := sm.states[queue[0]]
		queue = queue[1:]
		if st == nil {
			continue
		}
		for _, n := range edges(st) {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, m := range raw.members {
		if !seen[m.key] {
			l.bad("state %q is not reachable from StartAt in %s", m.key, label)
		}
	}
}

// state loads one state.
func (l *loader) state(name string, m *object) *state {
	where := fmt.Sprintf("state %q", name)
	o := l.obj(m, where)
	o.has("Comment")
	st := &state{name: name, typ: o.str("Type", true)}
	l.queryLanguage(o)
	switch st.typ {
	case "Pass":
		l.transition(o, st)
		l.inputOutput(o, st)
		l.parameters(o, st, "Parameters")
		l.resultPath(o, st)
		if v, ok := o.get("Result"); ok {
			st.result, st.hasResult = v, true
		}
	case "Task":
		l.transition(o, st)
		l.inputOutput(o, st)
		l.parameters(o, st, "Parameters")
		l.resultSelector(o, st)
		l.resultPath(o, st)
		l.errors(o, st)
		l.task(o, st)
	case "Choice":
		l.inputOutput(o, st)
		l.choice(o, st)
	case "Wait":
		l.transition(o, st)
		l.inputOutput(o, st)
		l.wait(o, st)
	case "Succeed":
		l.inputOutput(o, st)
	case "Fail":
		l.fail(o, st)
	case "Parallel":
		l.transition(o, st)
		l.inputOutput(o, st)
		l.parameters(o, st, "Parameters")
		l.resultSelector(o, st)
		l.resultPath(o, st)
		l.errors(o, st)
		l.parallel(o, st)
	case "Map":
		l.transition(o, st)
		l.inputOutput(o, st)
		l.resultSelector(o, st)
		l.resultPath(o, st)
		l.errors(o, st)
		l.mapState(o, st)
	case "":
		return nil
	default:
		l.bad("%s: unknown Type %q", where, st.typ)
		return nil
	}
	o.done()
	return st
}

// transition reads Next/End: exactly one of them.
func (l *loader) transition(o *obj, st *state) {
	st.next = o.str("Next", false)
	if v, ok := o.get("End"); ok {
		b, isBool := v.(bool)
		if !isBool {
			l.bad("%s: End must be a boolean", o.where)
		}
		st.end = b
	}
	switch {
	case st.next != "" && st.end:
		l.bad("%s: has both Next and End", o.where)
	case st.next == "" && !st.end:
		l.bad("%s: must have Next or \"End\": true", o.where)
	}
}

func (l *loader) inputOutput(o *obj, st *state) {
	st.io.inputPath, st.io.inputNull = o.path("InputPath", false)
	st.io.outputPath, st.io.outputNull = o.path("OutputPath", false)
}

func (l *loader) parameters(o *obj, st *state, field string) {
	if v, ok := o.get(field); ok {
		st.io.parameters = parseTemplate(v, o.where+" "+field, l.bad)
	}
}

func (l *loader) resultSelector(o *obj, st *state) {
	if v, ok := o.get("ResultSelector"); ok {
		if _, isObj := v.(*object); !isObj {
			l.bad("%s: ResultSelector must be an object", o.where)
		}
		st.io.resultSelector = parseTemplate(v, o.where+" ResultSelector", l.bad)
	}
}

func (l *loader) resultPath(o *obj, st *state) {
	st.io.resultPath, st.io.resultNull = o.path("ResultPath", true)
}

// task reads Resource and the timeouts and binds the handler.
func (l *loader) task(o *obj, st *state) {
	st.resource = o.str("Resource", true)
	if t, ok := o.integer("TimeoutSeconds", 1, 99999999); ok {
		st.timeout = t
	}
	if h, ok := o.integer("HeartbeatSeconds", 1, 99999999); ok {
		st.heartbeat = h
		if st.timeout > 0 && h >= st.timeout {
			l.bad("%s: HeartbeatSeconds must be smaller than TimeoutSeconds", o.where)
		}
	}
	if st.resource == "" {
		return
	}
	ref := st.resource // the function's ARN (or lambda:invoke's FunctionName)
	switch {
	case st.resource == "arn:aws:states:::lambda:invoke":
		st.invoke = true
		ref, st.function = l.invokeFunction(o, st)
	case lambdaARN.MatchString(st.resource):
		st.function = lambdaARN.FindStringSubmatch(st.resource)[1]
	case strings.HasPrefix(st.resource, "arn:aws:states:::"):
		l.bad("%s: Resource %q is not implemented by the local interpreter (Lambda functions and arn:aws:states:::lambda:invoke only)", o.where, st.resource)
		return
	default:
		l.bad("%s: Resource %q is not a Lambda function ARN or a supported service integration", o.where, st.resource)
		return
	}
	if st.function == "" {
		return
	}
	st.handler = l.handlers[ref]
	if st.handler == nil {
		st.handler = l.handlers[st.function]
	}
	if st.handler == nil {
		l.bad("%s: no handler is registered for Lambda function %q (%s)", o.where, st.function, ref)
	}
}

var lambdaARN = regexp.MustCompile(`^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(:[A-Za-z0-9_$-]+)?$`)

// invokeFunction checks lambda:invoke's Parameters and returns its
// FunctionName (a name, name:qualifier, a partial or a full ARN) and the
// function name in it.
func (l *loader) invokeFunction(o *obj, st *state) (string, string) {
	p := st.io.parameters
	if p == nil || !p.isObj {
		l.bad("%s: arn:aws:states:::lambda:invoke needs Parameters with FunctionName", o.where)
		return "", ""
	}
	var fn string
	for _, f := range p.obj {
		switch f.field {
		case "FunctionName":
			s, ok := f.sub.static.(string)
			if !ok || f.sub.isObj || f.sub.isArr {
				l.bad("%s: Parameters.FunctionName must be a string", o.where)
				return "", ""
			}
			fn = s
		case "FunctionName.$":
			l.bad("%s: a dynamic FunctionName.$ is not implemented by the local interpreter", o.where)
			return "", ""
		case "Payload", "Payload.$":
		default:
			l.bad("%s: Parameters field %q of lambda:invoke is not implemented by the local interpreter (FunctionName and Payload only)", o.where, f.field)
		}
	}
	if fn == "" {
		l.bad("%s: arn:aws:states:::lambda:invoke needs Parameters.FunctionName", o.where)
		return "", ""
	}
	if m := lambdaARN.FindStringSubmatch(fn); m != nil {
		return fn, m[1]
	}
	name := fn
	if _, after, ok := strings.Cut(fn, ":function:"); ok {
		name = after
	}
	name, _, _ = strings.Cut(name, ":")
	return fn, name
}

// knownErrors are the States.* error names Step Functions defines.
var knownErrors = map[string]bool{
	"States.ALL": true, "States.DataLimitExceeded": true, "States.ExceedToleratedFailureThreshold": true,
	"States.HeartbeatTimeout": true, "States.Http.Socket": true, "States.IntrinsicFailure": true,
	"States.ItemReaderFailed": true, "States.NoChoiceMatched": true, "States.ParameterPathFailure": true,
	"States.Permissions": true, "States.ResultPathMatchFailure": true, "States.ResultWriterFailed": true,
	"States.Runtime": true, "States.Timeout": true, "States.TaskFailed": true, "States.BranchFailed": true,
	"States.QueryEvaluationError": true,
}

// errorEquals reads a Retrier's or Catcher's ErrorEquals.
func (l *loader) errorEquals(o *obj, last bool) []string {
	v, ok := o.get("ErrorEquals")
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) == 0 {
		l.bad("%s: ErrorEquals must be a non-empty array of error names", o.where)
		return nil
	}
	var names []string
	for _, x := range arr {
		s, isStr := x.(string)
		if !isStr || s == "" {
			l.bad("%s: ErrorEquals must contain only non-empty strings", o.where)
			continue
		}
		if strings.HasPrefix(s, "States.") && !knownErrors[s] {
			l.bad("%s: %q is not a Step Functions error name", o.where, s)
		}
		if s == "States.ALL" && (len(arr) != 1 || !last) {
			l.bad("%s: States.ALL must appear alone, in the last element", o.where)
		}
		names = append(names, s)
	}
	return names
}

// retrier is one element of Retry.
type retrier struct {
	errorEquals []string
	interval    float64 // seconds
	maxAttempts int64
	backoff     float64
	maxDelay    float64 // seconds, 0 = none
	fullJitter  bool
}

// catcher is one element of Catch.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *path
	resultNull  bool
}

func (l *loader) errors(o *obj, st *state) {
	if v, ok := o.get("Retry"); ok {
		arr, isArr := v.([]any)
		if !isArr {
			l.bad("%s: Retry must be an array", o.where)
		}
		for i, x := range arr {
			m, isObj := x.(*object)
			if !isObj {
				l.bad("%s: Retry[%d] must be an object", o.where, i)
				continue
			}
			ro := l.obj(m, fmt.Sprintf("%s Retry[%d]", o.where, i))
			ro.has("Comment")
			r := &retrier{errorEquals: l.errorEquals(ro, i == len(arr)-1), interval: 1, maxAttempts: 3, backoff: 2}
			if n, ok := ro.integer("IntervalSeconds", 1, 99999999); ok {
				r.interval = float64(n)
			}
			if n, ok := ro.integer("MaxAttempts", 0, 99999999); ok {
				r.maxAttempts = n
			}
			if f, ok := ro.number("BackoffRate", 1, 1e9); ok {
				r.backoff = f
			}
			if n, ok := ro.integer("MaxDelaySeconds", 1, 31622400); ok {
				r.maxDelay = float64(n)
			}
			switch js := ro.str("JitterStrategy", false); js {
			case "", "NONE":
			case "FULL":
				r.fullJitter = true
			default:
				l.bad("%s: JitterStrategy must be FULL or NONE, got %q", ro.where, js)
			}
			ro.done()
			st.retry = append(st.retry, r)
		}
	}
	if v, ok := o.get("Catch"); ok {
		arr, isArr := v.([]any)
		if !isArr {
			l.bad("%s: Catch must be an array", o.where)
		}
		for i, x := range arr {
			m, isObj := x.(*object)
			if !isObj {
				l.bad("%s: Catch[%d] must be an object", o.where, i)
				continue
			}
			co := l.obj(m, fmt.Sprintf("%s Catch[%d]", o.where, i))
			co.has("Comment")
			c := &catcher{errorEquals: l.errorEquals(co, i == len(arr)-1), next: co.str("Next", true)}
			c.resultPath, c.resultNull = co.path("ResultPath", true)
			co.done()
			st.catch = append(st.catch, c)
		}
	}
}

func (l *loader) wait(o *obj, st *state) {
	n := 0
	if s, ok := o.integer("Seconds", 0, 99999999); ok {
		st.seconds = &s
		n++
	}
	if o.has("SecondsPath") {
		st.secondsPath, _ = o.path("SecondsPath", false)
		n++
	}
	if o.has("Timestamp") {
		ts := o.str("Timestamp", false)
		t, err := parseTimestamp(ts)
		if err != nil {
			l.bad("%s: Timestamp %q is not an RFC 3339 timestamp", o.where, ts)
		}
		st.timestamp = &t
		n++
	}
	if o.has("TimestampPath") {
		st.timestampPath, _ = o.path("TimestampPath", false)
		n++
	}
	if n != 1 {
		l.bad("%s: a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath", o.where)
	}
}

func (l *loader) fail(o *obj, st *state) {
	st.errName = o.str("Error", false)
	st.cause = o.str("Cause", false)
	st.errorDyn = l.dynString(o, "ErrorPath")
	st.causeDyn = l.dynString(o, "CausePath")
	if st.errName != "" && st.errorDyn != nil {
		l.bad("%s: Error and ErrorPath are mutually exclusive", o.where)
	}
	if st.cause != "" && st.causeDyn != nil {
		l.bad("%s: Cause and CausePath are mutually exclusive", o.where)
	}
}

func (l *loader) dynString(o *obj, k string) *dynString {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	s, _ := v.(string)
	switch {
	case strings.HasPrefix(s, "$"):
		p, err := parsePath(s)
		if err != nil {
			l.bad("%s: %s: %v", o.where, k, err)
			return nil
		}
		return &dynString{path: p}
	case strings.HasPrefix(s, "States."):
		c, err := parseIntrinsic(s)
		if err != nil {
			l.bad("%s: %s: %v", o.where, k, err)
			return nil
		}
		return &dynString{call: c}
	}
	l.bad("%s: %s must be a path or an intrinsic function", o.where, k)
	return nil
}

func (l *loader) parallel(o *obj, st *state) {
	v, ok := o.get("Branches")
	arr, isArr := v.([]any)
	if !ok || !isArr || len(arr) == 0 {
		l.bad("%s: Branches must be a non-empty array", o.where)
		return
	}
	for i, b := range arr {
		m, isObj := b.(*object)
		if !isObj {
			l.bad("%s: Branches[%d] must be an object", o.where, i)
			continue
		}
		st.branches = append(st.branches, l.machine(m, fmt.Sprintf("%s Branches[%d]", o.where, i), machineBranch))
	}
}

func (l *loader) mapState(o *obj, st *state) {
	proc, hasProc := o.get("ItemProcessor")
	iter, hasIter := o.get("Iterator")
	switch {
	case hasProc && hasIter:
		l.bad("%s: ItemProcessor and Iterator are mutually exclusive", o.where)
	case !hasProc && !hasIter:
		l.bad("%s: a Map state needs ItemProcessor (or the legacy Iterator)", o.where)
	}
	if hasIter {
		proc = iter
	}
	if m, ok := proc.(*object); ok {
		if pc, ok := m.get("ProcessorConfig"); ok {
			l.processorConfig(pc, o.where)
		}
		st.processor = l.machine(m, o.where+" ItemProcessor", machineProcessor)
	} else if hasProc || hasIter {
		l.bad("%s: ItemProcessor must be an object", o.where)
	}
	if o.has("ItemsPath") {
		st.itemsPath, _ = o.path("ItemsPath", false)
	}
	sel, hasSel := o.get("ItemSelector")
	params, hasParams := o.get("Parameters")
	switch {
	case hasSel && hasParams:
		l.bad("%s: ItemSelector and Parameters are mutually exclusive", o.where)
	case hasSel:
		st.itemSelector = parseTemplate(sel, o.where+" ItemSelector", l.bad)
	case hasParams:
		st.itemSelector = parseTemplate(params, o.where+" Parameters", l.bad)
	}
	if n, ok := o.integer("MaxConcurrency", 0, 1<<31-1); ok {
		st.maxConcurrent = int(n)
	}
	if f, ok := o.number("ToleratedFailurePercentage", 0, 100); ok {
		st.toleratedPct = &f
	}
	if n, ok := o.integer("ToleratedFailureCount", 0, 1<<53); ok {
		st.toleratedCnt = &n
	}
}

func (l *loader) processorConfig(v any, where string) {
	m, ok := v.(*object)
	if !ok {
		l.bad("%s: ProcessorConfig must be an object", where)
		return
	}
	o := l.obj(m, where+" ProcessorConfig")
	switch mode := o.str("Mode", false); mode {
	case "", "INLINE":
	case "DISTRIBUTED":
		l.bad("%s: Distributed Map is not implemented by the local interpreter (INLINE only)", where)
	default:
		l.bad("%s: ProcessorConfig.Mode must be INLINE or DISTRIBUTED, got %q", where, mode)
	}
	if o.has("ExecutionType") {
		l.bad("%s: ProcessorConfig.ExecutionType applies to Distributed Map only", where)
	}
	o.done()
}
