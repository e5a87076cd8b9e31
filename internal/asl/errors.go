package asl

import (
	"context"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Error names that Step Functions defines and this interpreter raises.
const (
	ErrALL                     = "States.ALL"
	ErrTimeout                 = "States.Timeout"
	ErrHeartbeatTimeout        = "States.HeartbeatTimeout"
	ErrTaskFailed              = "States.TaskFailed"
	ErrRuntime                 = "States.Runtime"
	ErrDataLimitExceeded       = "States.DataLimitExceeded"
	ErrNoChoiceMatched         = "States.NoChoiceMatched"
	ErrIntrinsicFailure        = "States.IntrinsicFailure"
	ErrResultPathMatchFailure  = "States.ResultPathMatchFailure"
	ErrExceedToleratedFailures = "States.ExceedToleratedFailureThreshold"
)

// failure is a state's error: its name (what ErrorEquals matches) and
// cause. aborted marks work stopped because a sibling branch failed or
// the execution ended; it is never retried or caught.
type failure struct {
	name, cause string
	aborted     bool
}

// ErrorName is the Error that a Go handler's err surfaces as, mirroring
// aws-lambda-go: the name of err's dynamic type (of the pointed-to type
// for a pointer), or the errorType of a messages.InvokeResponse_Error. A
// wrapped error keeps its wrapper's name (fmt.Errorf gives "wrapError"),
// as in Lambda.
func ErrorName(err error) string {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// lambdaCause is the Cause Step Functions reports for a failed Lambda
// function: the JSON error payload of the Go runtime.
func lambdaCause(err error) string {
	msg := err.Error()
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		msg = ive.Message
	}
	return mustJSON(objectOf("errorMessage", msg, "errorType", ErrorName(err)))
}

// matches reports whether an ErrorEquals list matches f. States.ALL
// matches every error but the terminal States.Runtime and
// States.DataLimitExceeded; States.TaskFailed matches the same errors
// except States.Timeout (and States.HeartbeatTimeout, a kind of it),
// whatever state raised them (a Parallel's or Map's too), as the
// error-handling page of the Step Functions guide says; States.Timeout
// also matches States.HeartbeatTimeout.
func (f *failure) matches(names []string) bool {
	for _, n := range names {
		switch {
		case n == f.name:
			return true
		case n == ErrALL:
			if !f.terminal() {
				return true
			}
		case n == ErrTaskFailed:
			if !f.terminal() && f.name != ErrTimeout && f.name != ErrHeartbeatTimeout {
				return true
			}
		case n == ErrTimeout:
			if f.name == ErrHeartbeatTimeout {
				return true
			}
		}
	}
	return false
}

// terminal reports whether f is an error no wildcard matches.
func (f *failure) terminal() bool { return f.name == ErrRuntime || f.name == ErrDataLimitExceeded }

// handleable reports whether Retry and Catch may see f: States.Runtime
// always fails the execution.
func (f *failure) handleable() bool { return !f.aborted && f.name != ErrRuntime }

// delay is how long to wait before retry number n (0-based) of r.
func (x *execution) delay(r *retrier, n int) time.Duration {
	secs := r.interval * math.Pow(r.backoff, float64(n))
	if r.maxDelay > 0 {
		secs = min(secs, r.maxDelay)
	}
	if r.fullJitter {
		secs *= x.m.randFloat()
	}
	return time.Duration(secs * float64(time.Second))
}

// withRetry runs a Task, Map or Parallel state's attempts under its
// Retry and Catch fields. Retry counters start at zero on each visit.
func (x *execution) withRetry(ctx context.Context, st *state, raw any, sc *stateCtx, prev *int64) (any, string, *failure) {
	counts := make([]int64, len(st.retry))
	for {
		var out any
		var f *failure
		switch st.typ {
		case "Task":
			out, f = x.task(ctx, st, raw, sc, prev)
		case "Map":
			out, f = x.mapState(ctx, st, raw, sc, prev)
		case "Parallel":
			out, f = x.parallel(ctx, st, raw, sc, prev)
		}
		if f == nil {
			return out, st.next, nil
		}
		if !f.handleable() {
			return nil, "", f
		}
		if i := slices.IndexFunc(st.retry, func(r *retrier) bool { return f.matches(r.errorEquals) }); i >= 0 && counts[i] < st.retry[i].maxAttempts {
			d := x.delay(st.retry[i], int(counts[i]))
			counts[i]++
			sc.retryCount++
			if err := x.m.clock.Sleep(ctx, d); err != nil {
				return nil, "", &failure{aborted: true}
			}
			continue
		}
		for _, c := range st.catch {
			if !f.matches(c.errorEquals) {
				continue
			}
			errObj := objectOf("Error", f.name, "Cause", f.cause)
			out, err := placeResult(&ioSpec{resultPath: c.resultPath, resultNull: c.resultNull}, raw, errObj)
			if err != nil {
				return nil, "", x.asFailure(sc, err)
			}
			return out, c.next, nil
		}
		return nil, "", f
	}
}
