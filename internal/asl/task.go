package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

type heartbeatKey struct{}

// heartbeat is what a running task's Heartbeat calls update.
type heartbeat struct {
	clock   Clock
	every   time.Duration // HeartbeatSeconds; 0 = none
	mu      sync.Mutex
	last    time.Time
	expired bool
}

// idle reports how long the task has gone without a heartbeat and whether
// that is too long; a heartbeat that comes too late does not count.
func (hb *heartbeat) idle() (time.Duration, bool) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	d := hb.clock.Now().Sub(hb.last)
	if hb.every > 0 && d >= hb.every {
		hb.expired = true
	}
	return d, hb.expired
}

// Heartbeat tells the interpreter that the task running with ctx is still
// making progress, resetting its HeartbeatSeconds timer (as
// SendTaskHeartbeat does in AWS). It does nothing outside a task or when
// the state sets no HeartbeatSeconds.
func Heartbeat(ctx context.Context) {
	if hb, ok := ctx.Value(heartbeatKey{}).(*heartbeat); ok {
		if _, expired := hb.idle(); expired {
			return
		}
		hb.mu.Lock()
		hb.last = hb.clock.Now()
		hb.mu.Unlock()
	}
}

// taskEvents names the history events of a Task state: Lambda* for a
// function ARN, Task* for the lambda:invoke integration.
type taskEvents struct {
	scheduled, started, succeeded, failed, timedOut string
}

var (
	lambdaEvents = taskEvents{"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
	invokeEvents = taskEvents{"TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"}
)

// task runs one attempt of a Task state.
func (x *execution) task(ctx context.Context, st *state, raw any, sc *stateCtx, prev *int64) (any, *failure) {
	eff, f := x.effectiveInput(st, raw, sc)
	if f != nil {
		return nil, f
	}
	payload := eff
	evs := lambdaEvents
	scheduled := &EventDetails{Resource: st.resource, TimeoutInSeconds: st.timeout, HeartbeatInSeconds: st.heartbeat}
	// LambdaFunctionStarted carries no details, and the others no resource.
	detail := func(d EventDetails) *EventDetails {
		if d == (EventDetails{}) {
			return nil
		}
		return &d
	}
	if st.invoke {
		evs = invokeEvents
		payload = &object{}
		if o, ok := eff.(*object); ok {
			if p, ok := o.get("Payload"); ok {
				payload = p
			}
		}
		scheduled = &EventDetails{ResourceType: "lambda", Resource: "invoke", Region: localRegion, Parameters: mustJSON(eff), TimeoutInSeconds: st.timeout, HeartbeatInSeconds: st.heartbeat}
		detail = func(d EventDetails) *EventDetails { d.ResourceType, d.Resource = "lambda", "invoke"; return &d }
	}
	in, err := marshalJSON(payload)
	if err != nil {
		return nil, x.runtime(sc, err.Error())
	}
	if !st.invoke {
		scheduled.Input = string(in)
	}
	x.emit(prev, evs.scheduled, scheduled)
	x.emit(prev, evs.started, detail(EventDetails{}))

	res, f := x.invoke(ctx, st, in)
	if f != nil {
		if f.aborted {
			return nil, f
		}
		typ := evs.failed
		if f.name == ErrTimeout || f.name == ErrHeartbeatTimeout {
			typ = evs.timedOut
		}
		x.emit(prev, typ, detail(EventDetails{Error: f.name, Cause: f.cause}))
		return nil, f
	}
	result, err := decodeJSON(res)
	if err != nil {
		f := &failure{name: ErrRuntime, cause: fmt.Sprintf("The task returned invalid JSON: %v", err)}
		x.emit(prev, evs.failed, detail(EventDetails{Error: f.name, Cause: f.cause}))
		return nil, x.stateFailure(sc, f)
	}
	var out string
	if st.invoke {
		result = x.invokeEnvelope(result)
		out = mustJSON(result)
	} else {
		var b bytes.Buffer
		_ = json.Compact(&b, res) // res is valid JSON: it decoded
		out = b.String()
	}
	if len(out) > MaxPayloadBytes {
		f := &failure{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.name)}
		x.emit(prev, evs.failed, detail(EventDetails{Error: f.name, Cause: f.cause}))
		return nil, x.stateFailure(sc, f)
	}
	x.emit(prev, evs.succeeded, detail(EventDetails{Output: out}))
	return x.output(st, raw, result, sc)
}

// invokeEnvelope wraps a function's result as lambda:invoke returns it.
func (x *execution) invokeEnvelope(payload any) any {
	reqID := x.m.uuid()
	return objectOf(
		"ExecutedVersion", "$LATEST",
		"Payload", payload,
		"SdkHttpMetadata", objectOf(
			"AllHttpHeaders", objectOf(
				"X-Amz-Executed-Version", []any{"$LATEST"},
				"x-amzn-RequestId", []any{reqID},
				"Content-Type", []any{"application/json"},
			),
			"HttpHeaders", objectOf(
				"Content-Type", "application/json",
				"X-Amz-Executed-Version", "$LATEST",
				"x-amzn-RequestId", reqID,
			),
			"HttpStatusCode", json.Number("200"),
		),
		"SdkResponseMetadata", objectOf("RequestId", reqID),
		"StatusCode", json.Number("200"),
	)
}

// invoke calls the handler under the state's TimeoutSeconds and
// HeartbeatSeconds. A handler that panics fails like a Lambda function
// that panics.
func (x *execution) invoke(ctx context.Context, st *state, in []byte) (json.RawMessage, *failure) {
	clock := x.m.clock
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hbEvery := time.Duration(st.heartbeat) * time.Second
	hb := &heartbeat{clock: clock, every: hbEvery, last: clock.Now()}
	hctx = context.WithValue(hctx, heartbeatKey{}, hb)

	// Arm the timers before the handler runs: it may move a fake clock.
	var deadline time.Time
	var timeoutC, beatC <-chan time.Time
	if st.timeout > 0 {
		deadline = clock.Now().Add(time.Duration(st.timeout) * time.Second)
		timeoutC = clock.After(time.Duration(st.timeout) * time.Second)
	}
	if st.heartbeat > 0 {
		beatC = clock.After(hbEvery)
	}
	type reply struct {
		out json.RawMessage
		err error
	}
	done := make(chan reply, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- reply{err: panicError(p)}
			}
		}()
		out, err := st.handler(hctx, in)
		done <- reply{out, err}
	}()

	timedOut := func() *failure {
		return &failure{name: ErrTimeout, cause: fmt.Sprintf("The task did not finish within its TimeoutSeconds (%d).", st.timeout)}
	}
	noHeartbeat := func() *failure {
		return &failure{name: ErrHeartbeatTimeout, cause: fmt.Sprintf("The task sent no heartbeat for %d seconds (HeartbeatSeconds).", st.heartbeat)}
	}
	for {
		select {
		case r := <-done:
			if !deadline.IsZero() && !clock.Now().Before(deadline) {
				return nil, timedOut()
			}
			if _, expired := hb.idle(); expired {
				return nil, noHeartbeat()
			}
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, &failure{aborted: true}
				}
				return nil, &failure{name: ErrorName(r.err), cause: lambdaCause(r.err)}
			}
			if len(r.out) == 0 {
				r.out = json.RawMessage("null")
			}
			return r.out, nil
		case <-timeoutC:
			return nil, timedOut()
		case <-beatC:
			idle, expired := hb.idle()
			if expired {
				return nil, noHeartbeat()
			}
			beatC = clock.After(hbEvery - idle)
		case <-ctx.Done():
			return nil, &failure{aborted: true}
		}
	}
}

// panicError is a recovered panic as aws-lambda-go reports one: the
// panic value's type name and its text.
func panicError(p any) error {
	name := "nil"
	if t := reflect.TypeOf(p); t != nil {
		name = t.Name()
		if t.Kind() == reflect.Pointer {
			name = t.Elem().Name()
		}
	}
	return messages.InvokeResponse_Error{Message: fmt.Sprint(p), Type: name}
}
