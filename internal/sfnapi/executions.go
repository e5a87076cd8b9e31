package sfnapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
)

// maxInput is Step Functions' limit on an execution's input (256 KiB).
const maxInput = 262144

type startInput struct {
	StateMachineARN string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     string  `json:"traceHeader"`
}

// started is what StartExecution and RedriveExecution learn once the
// execution's first event is recorded.
type started struct {
	exec asl.Execution
	err  error
}

// notify records to the execution store and reports the first event.
type notify struct {
	rec   asl.Recorder
	first chan started
	sent  bool
}

func (n *notify) Record(ctx context.Context, exec *asl.Execution, ev asl.Event) error {
	err := n.rec.Record(ctx, exec, ev)
	if !n.sent {
		n.sent = true
		n.first <- started{exec: *exec, err: err}
	}
	return err
}

// begin checks a StartExecution request and starts the execution; it
// returns once the execution has started, with the channel closed when it
// ends.
func (s *Server) begin(body []byte, express bool) (*asl.Execution, *run, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	sm, err := s.machine(in.StateMachineARN)
	if err != nil {
		return nil, nil, err
	}
	if express && sm.Type != "EXPRESS" {
		return nil, nil, badRequest("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine: %s is %s (StartSyncExecution runs EXPRESS state machines)", sm.ARN, sm.Type)
	}
	if in.Name == "" {
		in.Name = newRequestID()
	}
	if !asl.ValidName(in.Name) {
		return nil, nil, badRequest("InvalidName", "Invalid Name: '%s' (1 to 80 letters, digits, - and _)", in.Name)
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > maxInput {
		return nil, nil, badRequest("ValidationException", "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to %d", maxInput)
	}
	if !json.Valid([]byte(input)) {
		return nil, nil, badRequest("InvalidExecutionInput", "Invalid State Machine Execution Input: 'the input is not JSON'")
	}
	arn := sm.m.ExecutionARN(in.Name)

	s.mu.Lock()
	if r := s.running[in.Name]; r != nil {
		s.mu.Unlock()
		if r.arn == arn && r.input == input && !express { // the same request again, while it runs
			e, _, err := s.opts.Executions.Load(context.Background(), in.Name)
			if err != nil || e.Status == asl.StatusRunning {
				return e, r, err
			}
		}
		return nil, nil, alreadyExists(arn)
	}
	if _, _, err := s.opts.Executions.Load(context.Background(), in.Name); !errors.Is(err, execstore.ErrNoExecution) {
		s.mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, alreadyExists(arn)
	}
	ctx, cancel := context.WithCancelCause(s.ctx)
	r := &run{cancel: cancel, done: make(chan struct{}), input: input, arn: arn}
	s.running[in.Name] = r
	s.wg.Add(1)
	s.mu.Unlock()

	rec := &notify{rec: s.opts.Executions, first: make(chan started, 1)}
	go s.execute(in.Name, r, func() (*asl.Execution, error) {
		return sm.m.Run(ctx, json.RawMessage(input), asl.RunOptions{Name: in.Name, Recorder: rec})
	}, rec)
	st := <-rec.first
	if st.err != nil {
		cancel(st.err) // not recorded: not started
		return nil, nil, st.err
	}
	return &st.exec, r, nil
}

func alreadyExists(arn string) error {
	return badRequest("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
}

// execute runs an execution to its end and forgets it.
func (s *Server) execute(name string, r *run, runIt func() (*asl.Execution, error), rec *notify) {
	defer s.wg.Done()
	defer close(r.done)
	defer func() {
		s.mu.Lock()
		delete(s.running, name)
		s.mu.Unlock()
	}()
	e, err := runIt()
	if err != nil && !rec.sent { // it never started: tell begin
		rec.sent = true
		rec.first <- started{err: err}
	}
	switch {
	case err != nil:
		fmt.Fprintf(s.opts.Log, "sfnapi: execution %s: %v\n", name, err)
	case e.Error != "":
		fmt.Fprintf(s.opts.Log, "sfnapi: execution %s %s: %s: %s\n", name, e.Status, e.Error, e.Cause)
	default:
		fmt.Fprintf(s.opts.Log, "sfnapi: execution %s %s\n", name, e.Status)
	}
}

func (s *Server) startExecution(_ context.Context, body []byte) (any, error) {
	e, _, err := s.begin(body, false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"executionArn": e.ExecutionARN, "startDate": epoch(e.StartDate)}, nil
}

func (s *Server) startSyncExecution(ctx context.Context, body []byte) (any, error) {
	e, r, err := s.begin(body, true)
	if err != nil {
		return nil, err
	}
	select {
	case <-r.done:
	case <-ctx.Done(): // the caller went away; the execution goes on
		return nil, ctx.Err()
	}
	e, _, err = s.opts.Executions.Load(ctx, e.Name)
	if err != nil {
		return nil, err
	}
	out := describe(e)
	delete(out, "redriveCount")
	return out, nil
}

// executionName reads the execution name out of an execution ARN.
func executionName(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" {
		return "", badRequest("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn)
	}
	return parts[7], nil
}

// execution finds an execution by ARN, with its history.
func (s *Server) execution(ctx context.Context, arn string) (*asl.Execution, []asl.Event, error) {
	name, err := executionName(arn)
	if err != nil {
		return nil, nil, err
	}
	e, events, err := s.opts.Executions.Load(ctx, name)
	if errors.Is(err, execstore.ErrNoExecution) || err == nil && e.ExecutionARN != arn {
		return nil, nil, badRequest("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return e, events, err
}

type executionARNInput struct {
	ExecutionARN string `json:"executionArn"`
}

func (s *Server) describeExecution(ctx context.Context, body []byte) (any, error) {
	var in executionARNInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, _, err := s.execution(ctx, in.ExecutionARN)
	if err != nil {
		return nil, err
	}
	return describe(e), nil
}

// describe is DescribeExecution's answer for e.
func describe(e *asl.Execution) map[string]any {
	out := map[string]any{
		"executionArn": e.ExecutionARN, "stateMachineArn": e.StateMachineARN, "name": e.Name,
		"status": e.Status, "startDate": epoch(e.StartDate),
		"input": string(e.Input), "inputDetails": map[string]bool{"included": true},
		"redriveCount": e.RedriveCount,
	}
	if e.StopDate != nil {
		out["stopDate"] = epoch(*e.StopDate)
	}
	if e.Output != nil {
		out["output"], out["outputDetails"] = string(e.Output), map[string]bool{"included": true}
	}
	if e.Error != "" {
		out["error"], out["cause"] = e.Error, e.Cause
	}
	if e.RedriveDate != nil {
		out["redriveDate"] = epoch(*e.RedriveDate)
	}
	switch e.Status {
	case asl.StatusFailed, asl.StatusTimedOut, asl.StatusAborted:
		out["redriveStatus"] = "REDRIVABLE"
	default:
		out["redriveStatus"] = "NOT_REDRIVABLE"
		out["redriveStatusReason"] = fmt.Sprintf("Execution is %s and cannot be redriven", e.Status)
	}
	return out
}

func (s *Server) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		StateMachineARN string `json:"stateMachineArn"`
		StatusFilter    string `json:"statusFilter"`
		RedriveFilter   string `json:"redriveFilter"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sm, err := s.machine(in.StateMachineARN)
	if err != nil {
		return nil, err
	}
	all, err := s.opts.Executions.List(ctx)
	if err != nil {
		return nil, err
	}
	var mine []asl.Execution
	for _, e := range all {
		redriven := e.RedriveCount > 0
		if e.StateMachineARN == sm.ARN && (in.StatusFilter == "" || e.Status == in.StatusFilter) &&
			(in.RedriveFilter == "" || (in.RedriveFilter == "REDRIVEN") == redriven) {
			mine = append(mine, e)
		}
	}
	items, next, err := page(mine, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, len(items))
	for i, e := range items {
		item := map[string]any{"executionArn": e.ExecutionARN, "stateMachineArn": e.StateMachineARN, "name": e.Name,
			"status": e.Status, "startDate": epoch(e.StartDate), "redriveCount": e.RedriveCount}
		if e.StopDate != nil {
			item["stopDate"] = epoch(*e.StopDate)
		}
		if e.RedriveDate != nil {
			item["redriveDate"] = epoch(*e.RedriveDate)
		}
		list[i] = item
	}
	return withToken(map[string]any{"executions": list}, next), nil
}

func (s *Server) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		ExecutionARN         string `json:"executionArn"`
		ReverseOrder         bool   `json:"reverseOrder"`
		IncludeExecutionData *bool  `json:"includeExecutionData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, events, err := s.execution(ctx, in.ExecutionARN)
	if err != nil {
		return nil, err
	}
	if in.ReverseOrder {
		events = reversed(events)
	}
	items, next, err := page(events, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	includeData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	list := make([]json.RawMessage, len(items))
	for i, ev := range items {
		if list[i], err = wireEvent(ev, includeData); err != nil {
			return nil, err
		}
	}
	return withToken(map[string]any{"events": list}, next), nil
}

func reversed(events []asl.Event) []asl.Event {
	out := make([]asl.Event, len(events))
	for i, ev := range events {
		out[len(events)-1-i] = ev
	}
	return out
}

// withDetails are the event types whose HistoryEvent carries details in
// Step Functions; the interpreter's details of other types are left out.
var withDetails = map[string]bool{
	"ActivityFailed": true, "ActivityScheduleFailed": true, "ActivityScheduled": true, "ActivityStarted": true,
	"ActivitySucceeded": true, "ActivityTimedOut": true, "EvaluationFailed": true,
	"ExecutionAborted": true, "ExecutionFailed": true, "ExecutionRedriven": true, "ExecutionStarted": true,
	"ExecutionSucceeded": true, "ExecutionTimedOut": true,
	"LambdaFunctionFailed": true, "LambdaFunctionScheduleFailed": true, "LambdaFunctionScheduled": true,
	"LambdaFunctionStartFailed": true, "LambdaFunctionSucceeded": true, "LambdaFunctionTimedOut": true,
	"MapIterationAborted": true, "MapIterationFailed": true, "MapIterationStarted": true, "MapIterationSucceeded": true,
	"MapRunFailed": true, "MapRunRedriven": true, "MapRunStarted": true, "MapStateStarted": true,
	"TaskFailed": true, "TaskScheduled": true, "TaskStartFailed": true, "TaskStarted": true, "TaskSubmitFailed": true,
	"TaskSubmitted": true, "TaskSucceeded": true, "TaskTimedOut": true,
}

// wireEvent renders a history event as GetExecutionHistory does: the
// timestamp in epoch seconds, details only where AWS has them, with
// inputDetails and outputDetails, input and output left out unless
// includeData.
func wireEvent(ev asl.Event, includeData bool) (json.RawMessage, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	ts, _ := json.Marshal(epoch(ev.Timestamp))
	m["timestamp"] = ts
	for k, v := range m {
		if !strings.HasSuffix(k, "EventDetails") {
			continue
		}
		if !withDetails[ev.Type] && !strings.HasSuffix(ev.Type, "StateEntered") && !strings.HasSuffix(ev.Type, "StateExited") {
			delete(m, k)
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, err
		}
		for _, field := range []string{"input", "output"} {
			if _, ok := d[field]; !ok {
				continue
			}
			if includeData {
				d[field+"Details"] = map[string]bool{"truncated": false}
			} else {
				delete(d, field)
			}
		}
		if m[k], err = json.Marshal(d); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

func (s *Server) stopExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		executionARNInput
		Error string `json:"error"`
		Cause string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, _, err := s.execution(ctx, in.ExecutionARN)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.running[e.Name]
	s.mu.Unlock()
	switch {
	case r != nil:
		r.cancel(&asl.Stopped{Err: in.Error, Cause: in.Cause})
		<-r.done
		if e, _, err = s.opts.Executions.Load(ctx, e.Name); err != nil {
			return nil, err
		}
	case e.Status == asl.StatusRunning:
		return nil, badRequest("ValidationException", "Execution %s runs in another process, which this API cannot stop", e.ExecutionARN)
	}
	return map[string]any{"stopDate": epochPtr(e.StopDate)}, nil
}

func (s *Server) redriveExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		executionARNInput
		ClientToken string `json:"clientToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	prior, history, err := s.execution(ctx, in.ExecutionARN)
	if err != nil {
		return nil, err
	}
	sm, err := s.machine(prior.StateMachineARN)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if r := s.running[prior.Name]; r != nil && prior.Status != asl.StatusRunning {
		s.mu.Unlock()
		<-r.done // it has ended and is being put away
		s.mu.Lock()
	}
	if s.running[prior.Name] != nil {
		s.mu.Unlock()
		return nil, badRequest("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven.")
	}
	rctx, cancel := context.WithCancelCause(s.ctx)
	r := &run{cancel: cancel, done: make(chan struct{}), input: string(prior.Input), arn: prior.ExecutionARN}
	s.running[prior.Name] = r
	s.wg.Add(1)
	s.mu.Unlock()
	rec := &notify{rec: s.opts.Executions, first: make(chan started, 1)}
	go s.execute(prior.Name, r, func() (*asl.Execution, error) {
		return sm.m.Redrive(rctx, prior, history, asl.RunOptions{Recorder: rec})
	}, rec)
	st := <-rec.first
	var nr *asl.NotRedrivableError
	switch {
	case errors.As(st.err, &nr):
		return nil, badRequest("ExecutionNotRedrivable", "%s", nr.Reason)
	case st.err != nil:
		return nil, st.err
	}
	return map[string]any{"redriveDate": epochPtr(st.exec.RedriveDate)}, nil
}

// newRequestID is a random version 4 UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
