package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RunOptions configure one execution.
type RunOptions struct {
	// Name is the execution's name (1-80 characters: letters, digits, - and
	// _). Default: a UUID.
	Name string
	// Recorder receives the execution's history. Optional.
	Recorder Recorder
}

var executionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// ValidName reports whether name can name an execution: 1 to 80 letters,
// digits, - and _ (a subset of what Step Functions allows, as names are
// also lake keys).
func ValidName(name string) bool { return executionName.MatchString(name) }

// timestamp is the time recorded in executions and their events: UTC, in
// milliseconds, as Step Functions records it.
func (m *Machine) timestamp() time.Time { return m.clock.Now().UTC().Truncate(time.Millisecond) }

// ExecutionARN is the ARN of this machine's execution called name.
func (m *Machine) ExecutionARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", localRegion, localAccount, m.name, name)
}

// Stopped is the cause to cancel a run's context with
// (context.WithCancelCause) to stop it as StopExecution does: the
// execution ends ABORTED with this Error and Cause.
type Stopped struct {
	Err, Cause string
}

func (s *Stopped) Error() string { return "execution stopped: " + s.Err + ": " + s.Cause }

// Run executes the state machine on input (a JSON value; empty means {})
// and returns the execution once it has ended. A failed execution is not
// an error: see Execution.Status, Error and Cause. The error is for input
// that is not JSON, a bad name, and failures to record the history.
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opts RunOptions) (*Execution, error) {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	in, err := decodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input is not JSON: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = m.uuid()
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("asl: execution name %q: 1-80 letters, digits, - or _", name)
	}
	canon, _ := marshalJSON(in)
	x := &execution{
		m:      m,
		rec:    opts.Recorder,
		recCtx: context.WithoutCancel(ctx),
		input:  in,
		info: Execution{
			ExecutionARN:    m.ExecutionARN(name),
			StateMachineARN: m.arn,
			Name:            name,
			Status:          StatusRunning,
			StartDate:       m.timestamp(),
			Input:           canon,
		},
	}
	var prev int64
	x.emit(&prev, "ExecutionStarted", &EventDetails{Input: string(canon), RoleArn: x.roleARN()})
	if len(canon) > MaxPayloadBytes {
		x.finish(&prev, nil, &failure{name: ErrDataLimitExceeded, cause: "The execution input exceeds the maximum number of bytes service limit."}, StatusFailed)
		return x.result()
	}
	return x.run(ctx, m.def.startAt, in, &prev, x.info.StartDate)
}

// NotRedrivableError is returned by Redrive for an execution that cannot
// be redriven (RedriveExecution's ExecutionNotRedrivable).
type NotRedrivableError struct {
	Name, Reason string
}

func (e *NotRedrivableError) Error() string {
	return fmt.Sprintf("asl: execution %s cannot be redriven: %s", e.Name, e.Reason)
}

// Redrive continues an execution of this machine that ended FAILED,
// TIMED_OUT or ABORTED, as RedriveExecution does: from the start of the
// top-level state it was in when it ended, with that state's input, under
// the same name and ARN. prior is the execution as it ended and history its
// events; the new events continue their numbering after an
// ExecutionRedriven event, and the execution's RedriveCount goes up by
// one. A Map or Parallel state it was in runs again whole (Step Functions
// reruns only its unsuccessful iterations or branches).
func (m *Machine) Redrive(ctx context.Context, prior *Execution, history []Event, opts RunOptions) (*Execution, error) {
	switch prior.Status {
	case StatusFailed, StatusTimedOut, StatusAborted:
	default:
		return nil, &NotRedrivableError{Name: prior.Name, Reason: fmt.Sprintf("Execution is %s and cannot be redriven.", prior.Status)}
	}
	if prior.StateMachineARN != m.arn {
		return nil, &NotRedrivableError{Name: prior.Name, Reason: fmt.Sprintf("it is an execution of %s, not of %s", prior.StateMachineARN, m.arn)}
	}
	if len(history) == 0 {
		return nil, &NotRedrivableError{Name: prior.Name, Reason: "its history is empty"}
	}
	start, input := m.def.startAt, json.RawMessage(prior.Input)
	for i := len(history) - 1; i >= 0; i-- {
		ev := history[i]
		if d := ev.Details; d != nil && strings.HasSuffix(ev.Type, "StateEntered") && m.def.states[d.Name] != nil {
			start, input = d.Name, json.RawMessage(d.Input)
			break
		}
	}
	in, err := decodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: redriving %s: the input of state %s is not JSON: %w", prior.Name, start, err)
	}
	execIn, err := decodeJSON(prior.Input)
	if err != nil {
		return nil, fmt.Errorf("asl: redriving %s: its input is not JSON: %w", prior.Name, err)
	}
	now := m.timestamp()
	info := *prior
	info.Status, info.StopDate, info.Output, info.Error, info.Cause = StatusRunning, nil, nil, "", ""
	info.RedriveCount++
	info.RedriveDate = &now
	x := &execution{m: m, rec: opts.Recorder, recCtx: context.WithoutCancel(ctx), input: execIn, info: info}
	prev := history[len(history)-1].ID
	x.nextID = prev
	count := info.RedriveCount
	x.emit(&prev, "ExecutionRedriven", &EventDetails{RedriveCount: &count})
	return x.run(ctx, start, in, &prev, now)
}

// run runs the machine from state start on in until it ends, under the
// machine's TimeoutSeconds counted from since, and records the end.
func (x *execution) run(ctx context.Context, start string, in any, prev *int64, since time.Time) (*Execution, error) {
	m := x.m
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut sync.Once
	var isTimedOut bool
	if m.def.timeout > 0 {
		stop := make(chan struct{})
		defer close(stop)
		expired := m.clock.After(m.def.timeout)
		go func() {
			select {
			case <-expired:
				timedOut.Do(func() { isTimedOut = true })
				cancel()
			case <-stop:
			}
		}()
	}
	out, f := x.runMachine(runCtx, m.def, start, in, prev)
	timedOut.Do(func() {}) // no timeout from here on
	if m.def.timeout > 0 && !m.clock.Now().Before(since.Add(m.def.timeout)) {
		isTimedOut = true
	}
	failed := StatusFailed
	var stopped *Stopped
	switch {
	case isTimedOut:
		f, failed = &failure{name: ErrTimeout, cause: fmt.Sprintf("The execution ran longer than its TimeoutSeconds (%s).", m.def.timeout)}, StatusTimedOut
	case f != nil && f.aborted && errors.As(context.Cause(ctx), &stopped):
		f, failed = &failure{name: stopped.Err, cause: stopped.Cause}, StatusAborted
	case f != nil && f.aborted:
		f, failed = &failure{name: "States.Aborted", cause: fmt.Sprintf("The execution was stopped: %v", context.Cause(ctx))}, StatusAborted
	}
	x.finish(prev, out, f, failed)
	return x.result()
}

// execution is the state of one run.
type execution struct {
	m      *Machine
	rec    Recorder
	recCtx context.Context
	input  any

	mu     sync.Mutex // guards what follows, and the order of Record calls
	info   Execution
	nextID int64
	recErr error
}

func (x *execution) roleARN() string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s-local", localAccount, x.m.name)
}

// emit appends an event after *prev and makes it the new *prev.
func (x *execution) emit(prev *int64, typ string, d *EventDetails) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.nextID++
	ev := Event{ID: x.nextID, PreviousEventID: *prev, Timestamp: x.m.timestamp(), Type: typ, Details: d}
	*prev = ev.ID
	if x.rec != nil && x.recErr == nil {
		info := x.info
		if err := x.rec.Record(x.recCtx, &info, ev); err != nil {
			x.recErr = fmt.Errorf("asl: recording execution %s: %w", x.info.Name, err)
		}
	}
	return ev.ID
}

// lastID is the id of the newest event.
func (x *execution) lastID() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.nextID
}

// finish records the execution's end: its output, or f with status
// failed (FAILED, TIMED_OUT or ABORTED).
func (x *execution) finish(prev *int64, out any, f *failure, failed string) {
	now := x.m.timestamp()
	x.mu.Lock()
	x.info.StopDate = &now
	switch {
	case f == nil:
		b, err := marshalJSON(out)
		if err == nil && len(b) > MaxPayloadBytes {
			f = &failure{name: ErrDataLimitExceeded, cause: "The execution output exceeds the maximum number of bytes service limit."}
		} else {
			x.info.Status, x.info.Output = StatusSucceeded, b
		}
	}
	if f != nil {
		x.info.Status, x.info.Error, x.info.Cause = failed, f.name, f.cause
	}
	info := x.info
	x.mu.Unlock()
	switch info.Status {
	case StatusSucceeded:
		x.emit(prev, "ExecutionSucceeded", &EventDetails{Output: string(info.Output)})
	case StatusTimedOut:
		x.emit(prev, "ExecutionTimedOut", &EventDetails{Error: info.Error, Cause: info.Cause})
	case StatusAborted:
		x.emit(prev, "ExecutionAborted", &EventDetails{Error: info.Error, Cause: info.Cause})
	default:
		x.emit(prev, "ExecutionFailed", &EventDetails{Error: info.Error, Cause: info.Cause})
	}
}

func (x *execution) result() (*Execution, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	info := x.info
	return &info, x.recErr
}

// runMachine runs the states of sm from state start until one ends the
// machine, and returns its output or its failure.
func (x *execution) runMachine(ctx context.Context, sm *stateMachine, start string, input any, prev *int64) (any, *failure) {
	name := start
	for {
		if ctx.Err() != nil {
			return nil, &failure{aborted: true}
		}
		st := sm.states[name]
		out, next, f := x.runState(ctx, st, input, prev)
		if f != nil {
			return nil, f
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// stateCtx is what the context object's State part says.
type stateCtx struct {
	name       string
	entered    time.Time
	enteredID  int64
	retryCount int
	mapIndex   int
	mapValue   any
	inMap      bool
}

// contextObject builds $$ for a state.
func (x *execution) contextObject(sc *stateCtx) any {
	c := objectOf(
		"Execution", objectOf(
			"Id", x.info.ExecutionARN,
			"Input", x.input,
			"StartTime", formatTime(x.info.StartDate),
			"Name", x.info.Name,
			"RoleArn", x.roleARN(),
			"RedriveCount", json.Number(strconv.Itoa(x.info.RedriveCount)),
		),
		"StateMachine", objectOf(
			"Id", x.m.arn,
			"Name", x.m.name,
		),
		"State", objectOf(
			"Name", sc.name,
			"EnteredTime", formatTime(sc.entered),
			"RetryCount", json.Number(strconv.Itoa(sc.retryCount)),
		),
	)
	if sc.inMap {
		c.put("Map", objectOf("Item", objectOf(
			"Index", json.Number(strconv.Itoa(sc.mapIndex)),
			"Value", sc.mapValue,
		)))
	}
	return c
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (x *execution) env(data any, sc *stateCtx) *evalEnv {
	return &evalEnv{data: data, x: x, sc: sc}
}

// runState runs one state and returns its output and the next state's
// name ("" when it ends the machine).
func (x *execution) runState(ctx context.Context, st *state, raw any, prev *int64) (any, string, *failure) {
	sc := &stateCtx{name: st.name, entered: x.m.clock.Now().UTC()}
	sc.enteredID = x.emit(prev, st.typ+"StateEntered", &EventDetails{Name: st.name, Input: mustJSON(raw)})
	var out any
	next := st.next
	var f *failure
	switch st.typ {
	case "Pass":
		out, f = x.pass(st, raw, sc)
	case "Choice":
		out, next, f = x.choice(st, raw, sc)
	case "Wait":
		out, f = x.wait(ctx, st, raw, sc)
	case "Succeed":
		out, f = x.succeed(st, raw, sc)
	case "Fail":
		return nil, "", x.fail(st, raw, sc)
	default: // Task, Map, Parallel
		out, next, f = x.withRetry(ctx, st, raw, sc, prev)
	}
	if f != nil {
		return nil, "", f
	}
	b, err := marshalJSON(out)
	if err == nil && len(b) > MaxPayloadBytes {
		return nil, "", x.stateFailure(sc, &failure{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.name)})
	}
	x.emit(prev, st.typ+"StateExited", &EventDetails{Name: st.name, Output: string(b)})
	return out, next, nil
}

// selectInput applies InputPath.
func (x *execution) selectInput(st *state, raw any, sc *stateCtx) (any, *failure) {
	v, err := selectPath(st.io.inputPath, st.io.inputNull, x.env(raw, sc))
	return v, x.asFailure(sc, err)
}

// effectiveInput applies InputPath then Parameters.
func (x *execution) effectiveInput(st *state, raw any, sc *stateCtx) (any, *failure) {
	v, f := x.selectInput(st, raw, sc)
	if f != nil || st.io.parameters == nil {
		return v, f
	}
	p, err := x.m.apply(st.io.parameters, x.env(v, sc))
	if err != nil {
		return nil, x.asFailure(sc, err)
	}
	if b, _ := marshalJSON(p); len(b) > MaxPayloadBytes {
		return nil, x.stateFailure(sc, &failure{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The state/task '%s' has an input with a size exceeding the maximum number of bytes service limit.", st.name)})
	}
	return p, nil
}

// output applies ResultSelector, ResultPath (on the raw input) and
// OutputPath to a state's result.
func (x *execution) output(st *state, raw, result any, sc *stateCtx) (any, *failure) {
	if st.io.resultSelector != nil {
		r, err := x.m.apply(st.io.resultSelector, x.env(result, sc))
		if err != nil {
			return nil, x.asFailure(sc, err)
		}
		result = r
	}
	v, err := placeResult(&st.io, raw, result)
	if err != nil {
		return nil, x.asFailure(sc, err)
	}
	v, err = selectPath(st.io.outputPath, st.io.outputNull, x.env(v, sc))
	return v, x.asFailure(sc, err)
}

func (x *execution) pass(st *state, raw any, sc *stateCtx) (any, *failure) {
	eff, f := x.effectiveInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	if st.hasResult {
		eff = st.result
	}
	return x.output(st, raw, eff, sc)
}

func (x *execution) succeed(st *state, raw any, sc *stateCtx) (any, *failure) {
	eff, f := x.selectInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	v, err := selectPath(st.io.outputPath, st.io.outputNull, x.env(eff, sc))
	return v, x.asFailure(sc, err)
}

func (x *execution) choice(st *state, raw any, sc *stateCtx) (any, string, *failure) {
	eff, f := x.selectInput(st, raw, sc)
	if f != nil {
		return nil, "", f
	}
	env := x.env(eff, sc)
	next := st.dflt
	for _, r := range st.choices {
		ok, err := x.m.match(r, env)
		if err != nil {
			return nil, "", x.asFailure(sc, err)
		}
		if ok {
			next = r.next
			break
		}
	}
	if next == "" {
		return nil, "", &failure{name: ErrNoChoiceMatched, cause: fmt.Sprintf("No Matches! in state '%s'", st.name)}
	}
	out, err := selectPath(st.io.outputPath, st.io.outputNull, env)
	return out, next, x.asFailure(sc, err)
}

func (x *execution) wait(ctx context.Context, st *state, raw any, sc *stateCtx) (any, *failure) {
	eff, f := x.selectInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	env := x.env(eff, sc)
	var d time.Duration
	switch {
	case st.seconds != nil:
		d = time.Duration(*st.seconds) * time.Second
	case st.timestamp != nil:
		d = st.timestamp.Sub(x.m.clock.Now())
	case st.secondsPath != nil:
		v, ok := env.eval(st.secondsPath)
		n, isNum := v.(json.Number)
		secs, err := n.Int64()
		if !ok || !isNum || err != nil || secs < 0 {
			return nil, x.runtime(sc, fmt.Sprintf("Invalid path '%s': the SecondsPath value must be a non-negative integer, got %s", st.secondsPath.text, mustJSON(v)))
		}
		d = time.Duration(secs) * time.Second
	case st.timestampPath != nil:
		v, ok := env.eval(st.timestampPath)
		s, isStr := v.(string)
		t, err := parseTimestamp(s)
		if !ok || !isStr || err != nil {
			return nil, x.runtime(sc, fmt.Sprintf("Invalid path '%s': the TimestampPath value must be an RFC 3339 timestamp, got %s", st.timestampPath.text, mustJSON(v)))
		}
		d = t.Sub(x.m.clock.Now())
	}
	if d > 0 {
		if err := x.m.clock.Sleep(ctx, d); err != nil {
			return nil, &failure{aborted: true}
		}
	}
	out, err := selectPath(st.io.outputPath, st.io.outputNull, env)
	return out, x.asFailure(sc, err)
}

func (x *execution) fail(st *state, raw any, sc *stateCtx) *failure {
	f := &failure{name: st.errName, cause: st.cause}
	env := x.env(raw, sc)
	for _, d := range []struct {
		dyn *dynString
		dst *string
		fld string
	}{{st.errorDyn, &f.name, "ErrorPath"}, {st.causeDyn, &f.cause, "CausePath"}} {
		if d.dyn == nil {
			continue
		}
		var v any
		var err error
		if d.dyn.path != nil {
			var ok bool
			if v, ok = env.eval(d.dyn.path); !ok {
				err = &pathError{msg: fmt.Sprintf("Invalid path '%s' : No results for path: %s", d.dyn.path.text, d.dyn.path.canonical())}
			}
		} else {
			v, err = x.m.evalCall(d.dyn.call, env)
		}
		if err != nil {
			return x.asFailure(sc, err)
		}
		s, ok := v.(string)
		if !ok {
			return x.runtime(sc, fmt.Sprintf("The %s value must be a string, got %s", d.fld, mustJSON(v)))
		}
		*d.dst = s
	}
	return f
}

// asFailure turns a data-flow error into the state failure Step Functions
// reports for it.
func (x *execution) asFailure(sc *stateCtx, err error) *failure {
	if err == nil {
		return nil
	}
	var pe *pathError
	var ie *intrinsicError
	var re *resultPathError
	switch {
	case errors.As(err, &ie):
		return x.stateFailure(sc, &failure{name: ErrIntrinsicFailure, cause: ie.msg})
	case errors.As(err, &re):
		return x.stateFailure(sc, &failure{name: ErrResultPathMatchFailure, cause: re.msg})
	case errors.As(err, &pe):
		return x.runtime(sc, pe.msg)
	}
	return x.runtime(sc, err.Error())
}

func (x *execution) runtime(sc *stateCtx, msg string) *failure {
	return x.stateFailure(sc, &failure{name: ErrRuntime, cause: msg})
}

// stateFailure prefixes a cause the way Step Functions does for errors it
// raises itself while running a state.
func (x *execution) stateFailure(sc *stateCtx, f *failure) *failure {
	f.cause = fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", sc.name, sc.enteredID, f.cause)
	return f
}
