// Package sfnapi serves the AWS Step Functions API over the local ASL
// interpreter, so that the unmodified AWS SDKs and CLI (and `lake ... --aws
// --endpoint`) can drive local executions: the AWS JSON 1.0 protocol
// (POST /, X-Amz-Target: AWSStepFunctions.<Operation>, a JSON body), for
// CreateStateMachine, ListStateMachines, DescribeStateMachine,
// StartExecution, StartSyncExecution, DescribeExecution, ListExecutions,
// GetExecutionHistory, StopExecution and RedriveExecution.
//
// Executions are recorded in the lake by an execstore.Store, the same as
// `lake run` and `lake serve` record theirs, and state machines created
// through the API are kept under _meta/statemachines/. Errors come in
// AWS's shape ({"__type": "ExecutionDoesNotExist", "message": ...} and the
// X-Amzn-ErrorType header) with HTTP 400; a request that is refused starts
// nothing. There is no authentication: `lake serve --api` listens on
// loopback unless told otherwise.
//
// Imported by cmd/lake (lake serve --api).
package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// MachinesPrefix is where state machines created through the API are
// kept: <MachinesPrefix><name>.json.
const MachinesPrefix = layout.StateMachinesPrefix

// maxBody bounds a request body: a definition may be 1 MiB, an input
// 256 KiB.
const maxBody = 2 << 20

// Builtin is a state machine served from the start, such as the
// pipeline's.
type Builtin struct {
	Machine    *asl.Machine
	Definition string // as DescribeStateMachine returns it
}

// Options configure a Server.
type Options struct {
	// Lake keeps the state machines created through the API.
	Lake store.Store
	// Executions records every execution the server starts; executions
	// started by others in the same lake are listed and described too.
	Executions *execstore.Store
	// Load binds a definition created through the API to Go handlers,
	// under the given state machine name (localrun's Runner.LoadMachine).
	Load func(name string, definition []byte) (*asl.Machine, error)
	// Builtin are served from the start and cannot be replaced.
	Builtin []Builtin
	// Log receives one line per execution started and ended (nil: none).
	Log io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server answers Step Functions API requests. Create it with New; it is
// an http.Handler.
type Server struct {
	opts Options
	ctx  context.Context // executions run under it
	stop context.CancelCauseFunc

	mu       sync.Mutex
	machines map[string]*machine // by name
	running  map[string]*run     // by execution name
	wg       sync.WaitGroup
}

// machine is a state machine the server knows.
type machine struct {
	m          *asl.Machine
	Name       string    `json:"name"`
	ARN        string    `json:"stateMachineArn"`
	Definition string    `json:"definition"`
	RoleARN    string    `json:"roleArn"`
	Type       string    `json:"type"`
	Created    time.Time `json:"creationDate"`
	builtin    bool
}

// run is an execution running in this server.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	input  string
	arn    string
}

// New returns a Server with opts' builtin state machines and those kept in
// the lake.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	runCtx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	s := &Server{opts: opts, ctx: runCtx, stop: stop, machines: map[string]*machine{}, running: map[string]*run{}}
	for _, b := range opts.Builtin {
		s.machines[b.Machine.Name()] = &machine{m: b.Machine, Name: b.Machine.Name(), ARN: b.Machine.ARN(), Definition: b.Definition,
			RoleARN: "arn:aws:iam::000000000000:role/" + b.Machine.Name() + "-local", Type: "STANDARD", Created: opts.Now().UTC(), builtin: true}
	}
	if err := s.loadMachines(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the executions still running (they end ABORTED) and waits
// for them.
func (s *Server) Close() {
	s.stop(&asl.Stopped{Err: "Lake.ServerStopped", Cause: "The Step Functions API that ran this execution (lake serve --api) stopped."})
	s.wg.Wait()
}

// Shutdown lets the executions running end until ctx is done, then stops
// the rest as Close does.
func (s *Server) Shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.Close()
	}
}

// apiError is an error in AWS's shape.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func badRequest(typ, format string, a ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, a...), Status: http.StatusBadRequest}
}

// operations maps each served operation to its handler.
var operations = map[string]func(s *Server, ctx context.Context, body []byte) (any, error){
	"CreateStateMachine":   (*Server).createStateMachine,
	"ListStateMachines":    (*Server).listStateMachines,
	"DescribeStateMachine": (*Server).describeStateMachine,
	"StartExecution":       (*Server).startExecution,
	"StartSyncExecution":   (*Server).startSyncExecution,
	"DescribeExecution":    (*Server).describeExecution,
	"ListExecutions":       (*Server).listExecutions,
	"GetExecutionHistory":  (*Server).getExecutionHistory,
	"StopExecution":        (*Server).stopExecution,
	"RedriveExecution":     (*Server).redriveExecution,
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := s.handle(r)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	var ae *apiError
	switch {
	case err == nil:
		_ = json.NewEncoder(w).Encode(out)
		return
	case !errors.As(err, &ae):
		fmt.Fprintf(s.opts.Log, "sfnapi: %s: %v\n", r.Header.Get("X-Amz-Target"), err)
		ae = &apiError{Type: "InternalServerError", Message: err.Error(), Status: http.StatusInternalServerError}
	}
	w.Header().Set("X-Amzn-ErrorType", ae.Type)
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.Type, "message": ae.Message})
}

func (s *Server) handle(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, badRequest("UnknownOperationException", "the Step Functions API takes POST requests, not %s", r.Method)
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	op := operations[name]
	if !ok || op == nil {
		return nil, badRequest("UnknownOperationException", "unknown operation %q (X-Amz-Target)", target)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("SerializationException", "reading the request body: %v", err)
	}
	if len(body) > maxBody {
		return nil, badRequest("ValidationException", "the request body is larger than %d bytes", maxBody)
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return op(s, r.Context(), body)
}

// decode reads a request body into v: malformed JSON, or members of the
// wrong JSON type, are SerializationExceptions; members the local API does
// not use are ignored, as Step Functions ignores them.
func decode(body []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(body)))
	if err := d.Decode(v); err != nil {
		return badRequest("SerializationException", "the request body is not the operation's JSON: %v", err)
	}
	if d.More() {
		return badRequest("SerializationException", "unexpected data after the request's JSON")
	}
	return nil
}
