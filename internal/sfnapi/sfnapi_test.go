package sfnapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/sfnapi"
	"github.com/medallionlake/lake/internal/sfnclient"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// api is a served API over a lake, with an SDK client for it.
type api struct {
	url    string
	lake   store.Store
	execs  *execstore.Store
	server *sfnapi.Server
	client *sfn.Client
}

// serve starts the API; load binds created definitions (nil: to the
// handlers given).
func serve(t *testing.T, lake store.Store, execs *execstore.Store, load func(string, []byte) (*asl.Machine, error), builtin ...sfnapi.Builtin) *api {
	t.Helper()
	s, err := sfnapi.New(context.Background(), sfnapi.Options{Lake: lake, Executions: execs, Load: load, Builtin: builtin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return &api{url: srv.URL, lake: lake, execs: execs, server: s, client: newClient(srv.URL)}
}

// newClient is the unmodified SDK client, pointed at url, with the
// endpoint host prefix off (StartSyncExecution would otherwise call
// sync-127.0.0.1).
func newClient(url string) *sfn.Client {
	return sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: credentials.NewStaticCredentialsProvider("key", "secret", ""),
		APIOptions: []func(*middleware.Stack) error{sfnclient.NoHostPrefix}})
}

func fileLake(t *testing.T) store.Store {
	t.Helper()
	lake, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lake
}

// handlers are the Go functions the definitions of these tests call.
var handlers = map[string]asl.Handler{
	"echo": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil },
	"block": func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	},
}

func loadWith(h map[string]asl.Handler) func(string, []byte) (*asl.Machine, error) {
	return func(name string, def []byte) (*asl.Machine, error) {
		return asl.Load(def, asl.Options{Name: name, Handlers: h})
	}
}

const echoDef = `{"StartAt":"Echo","States":{"Echo":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:echo","End":true}}}`

// raw posts body to the API with target and returns the status, the error
// type (X-Amzn-ErrorType and the body's __type, which must agree) and the
// body.
func (a *api) raw(t *testing.T, target, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var shape struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &shape)
	if h := resp.Header.Get("X-Amzn-ErrorType"); h != shape.Type {
		t.Fatalf("X-Amzn-ErrorType %q but __type %q in %s", h, shape.Type, b)
	}
	if shape.Type != "" && shape.Message == "" {
		t.Fatalf("error %s without a message: %s", shape.Type, b)
	}
	return resp.StatusCode, shape.Type, string(b)
}

// TestBadRequests sends what the API must refuse: each gets an HTTP 400
// in AWS's error shape, and nothing is started or stored.
func TestBadRequests(t *testing.T) {
	lake := fileLake(t)
	a := serve(t, lake, execstore.New(lake, execstore.Options{}), loadWith(handlers))
	ctx := context.Background()
	created, err := a.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("echo"), Definition: aws.String(echoDef), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.StateMachineArn)
	start := func(fields string) string { return `{"stateMachineArn":"` + arn + `"` + fields + `}` }
	tests := []struct {
		description, target, body, want string
	}{
		{"unknown target", "AWSStepFunctions.DeleteEverything", `{}`, "UnknownOperationException"},
		{"no target", "", `{}`, "UnknownOperationException"},
		{"another service's target", "AmazonS3.ListBuckets", `{}`, "UnknownOperationException"},
		{"malformed body", "AWSStepFunctions.StartExecution", `{"stateMachineArn":`, "SerializationException"},
		{"a member of the wrong type", "AWSStepFunctions.StartExecution", `{"stateMachineArn":42}`, "SerializationException"},
		{"oversized input", "AWSStepFunctions.StartExecution", start(`,"input":` + mustJSON(`{"x":"`+strings.Repeat("x", 262144)+`"}`)), "ValidationException"},
		{"input that is not JSON", "AWSStepFunctions.StartExecution", start(`,"input":"{not json"`), "InvalidExecutionInput"},
		{"hostile execution name", "AWSStepFunctions.StartExecution", start(`,"name":"../../_meta/x"`), "InvalidName"},
		{"execution name with spaces", "AWSStepFunctions.StartExecution", start(`,"name":"a b"`), "InvalidName"},
		{"execution name too long", "AWSStepFunctions.StartExecution", start(`,"name":"` + strings.Repeat("n", 81) + `"`), "InvalidName"},
		{"unknown state machine", "AWSStepFunctions.StartExecution", `{"stateMachineArn":"arn:aws:states:local:000000000000:stateMachine:nope"}`, "StateMachineDoesNotExist"},
		{"unknown execution", "AWSStepFunctions.DescribeExecution", `{"executionArn":"arn:aws:states:local:000000000000:execution:echo:nope"}`, "ExecutionDoesNotExist"},
		{"not an execution ARN", "AWSStepFunctions.DescribeExecution", `{"executionArn":"nope"}`, "InvalidArn"},
		{"invalid definition", "AWSStepFunctions.CreateStateMachine", `{"name":"bad","roleArn":"arn:aws:iam::0:role/r","definition":"{\"StartAt\":\"X\",\"States\":{}}"}`, "InvalidDefinition"},
		{"hostile state machine name", "AWSStepFunctions.CreateStateMachine", `{"name":"../x","roleArn":"arn:aws:iam::0:role/r","definition":` + mustJSON(echoDef) + `}`, "InvalidName"},
		{"bad page token", "AWSStepFunctions.ListStateMachines", `{"nextToken":"!!"}`, "InvalidToken"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			status, typ, body := a.raw(t, tt.target, tt.body)
			if status != http.StatusBadRequest || typ != tt.want {
				t.Fatalf("HTTP %d %s (%s), want 400 %s", status, typ, body, tt.want)
			}
		})
	}
	if _, err := lake.Stat(ctx, sfnapi.MachinesPrefix+"bad.json"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused state machine was stored: %v", err)
	}
	list, err := a.execs.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("executions after refused requests: %v %v, want none", list, err)
	}

	// The SDK sees the typed errors.
	_, err = a.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":nope")})
	if e := new(types.ExecutionDoesNotExist); !errors.As(err, &e) {
		t.Errorf("DescribeExecution of a missing execution: %v, want *types.ExecutionDoesNotExist", err)
	}
	_, err = a.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{}`), RoleArn: aws.String("arn:aws:iam::0:role/r")})
	if e := new(types.InvalidDefinition); !errors.As(err, &e) || !strings.Contains(e.ErrorMessage(), "StartAt") {
		t.Errorf("CreateStateMachine of a bad definition: %v, want *types.InvalidDefinition naming the problem", err)
	}
	out, err := a.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("once"), Input: aws.String(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, a.client, aws.ToString(out.ExecutionArn))
	_, err = a.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("once"), Input: aws.String(`{"a":1}`)})
	if e := new(types.ExecutionAlreadyExists); !errors.As(err, &e) {
		t.Errorf("StartExecution with a used name: %v, want *types.ExecutionAlreadyExists", err)
	}
	_, err = a.client.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(arn)})
	if e := new(types.StateMachineTypeNotSupported); !errors.As(err, &e) {
		t.Errorf("StartSyncExecution of a STANDARD state machine: %v, want *types.StateMachineTypeNotSupported", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitDone polls DescribeExecution until the execution ends.
func waitDone(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still RUNNING after 2 minutes", arn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncStopRedrive covers StartSyncExecution, StopExecution and
// RedriveExecution.
func TestSyncStopRedrive(t *testing.T) {
	lake := fileLake(t)
	calls := 0
	h := map[string]asl.Handler{
		"echo":  handlers["echo"],
		"block": handlers["block"],
		"flaky": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			calls++
			if calls == 1 {
				return nil, errors.New("first call fails")
			}
			return in, nil
		},
	}
	a := serve(t, lake, execstore.New(lake, execstore.Options{}), loadWith(h))
	ctx := context.Background()
	create := func(name, typ, def string) string {
		out, err := a.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def),
			RoleArn: aws.String("arn:aws:iam::000000000000:role/r"), Type: types.StateMachineType(typ)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.StateMachineArn)
	}

	express := create("express", "EXPRESS", echoDef)
	sync, err := a.client.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(express), Input: aws.String(`{"z":1,"a":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if sync.Status != types.SyncExecutionStatusSucceeded || aws.ToString(sync.Output) != `{"z":1,"a":2}` {
		t.Fatalf("StartSyncExecution = %s %s, want SUCCEEDED with the input echoed in order", sync.Status, aws.ToString(sync.Output))
	}

	blocking := create("blocking", "STANDARD", strings.ReplaceAll(echoDef, "function:echo", "function:block"))
	started, err := a.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(blocking), Name: aws.String("stopme")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: started.ExecutionArn, Error: aws.String("Operator"), Cause: aws.String("not needed")}); err != nil {
		t.Fatal(err)
	}
	if d := waitDone(t, a.client, aws.ToString(started.ExecutionArn)); d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator" {
		t.Fatalf("stopped execution: %s %s, want ABORTED Operator", d.Status, aws.ToString(d.Error))
	}

	flaky := create("flaky", "STANDARD", strings.ReplaceAll(echoDef, "function:echo", "function:flaky"))
	run, err := a.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(flaky), Input: aws.String(`{"k":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := waitDone(t, a.client, aws.ToString(run.ExecutionArn)); d.Status != types.ExecutionStatusFailed || d.RedriveStatus != types.ExecutionRedriveStatusRedrivable {
		t.Fatalf("flaky execution: %s, redrive status %s; want FAILED and REDRIVABLE", d.Status, d.RedriveStatus)
	}
	if _, err := a.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: run.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	d := waitDone(t, a.client, aws.ToString(run.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || aws.ToInt32(d.RedriveCount) != 1 || aws.ToString(d.Output) != `{"k":"v"}` {
		t.Fatalf("redriven execution: %s, redriveCount %d, output %s; want SUCCEEDED, 1, the input", d.Status, aws.ToInt32(d.RedriveCount), aws.ToString(d.Output))
	}
	_, err = a.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: run.ExecutionArn})
	if e := new(types.ExecutionNotRedrivable); !errors.As(err, &e) {
		t.Fatalf("redriving a SUCCEEDED execution: %v, want *types.ExecutionNotRedrivable", err)
	}
	hist, err := a.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: run.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var redriven *types.HistoryEvent
	for i, ev := range hist.Events {
		if ev.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i, ev.Id)
		}
		if ev.Type == types.HistoryEventTypeExecutionRedriven {
			redriven = &hist.Events[i]
		}
	}
	if redriven == nil || redriven.ExecutionRedrivenEventDetails == nil || aws.ToInt32(redriven.ExecutionRedrivenEventDetails.RedriveCount) != 1 {
		t.Fatalf("history has no ExecutionRedriven event with redriveCount 1: %+v", redriven)
	}
}

// TestShutdown gives running executions a grace period, then stops them
// with a cause that says why.
func TestShutdown(t *testing.T) {
	lake := fileLake(t)
	execs := execstore.New(lake, execstore.Options{})
	a := serve(t, lake, execs, loadWith(handlers))
	ctx := context.Background()
	created, err := a.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("blocking"), RoleArn: aws.String("arn:aws:iam::0:role/r"),
		Definition: aws.String(strings.ReplaceAll(echoDef, "function:echo", "function:block"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: created.StateMachineArn, Name: aws.String("late")}); err != nil {
		t.Fatal(err)
	}
	grace, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	a.server.Shutdown(grace)
	e, _, err := execs.Load(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != asl.StatusAborted || e.Error != "Lake.ServerStopped" {
		t.Fatalf("after the shutdown: %s %s: %s, want ABORTED Lake.ServerStopped", e.Status, e.Error, e.Cause)
	}
}
