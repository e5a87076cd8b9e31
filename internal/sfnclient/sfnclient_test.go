package sfnclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/execview"
	"github.com/medallionlake/lake/internal/sfnapi"
	"github.com/medallionlake/lake/internal/sfnclient"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var creds = credentials.NewStaticCredentialsProvider("testing", "testing", "")

// TestMoto runs the client against moto_server's Step Functions and
// CloudFormation: the state machine is found through a stack's output,
// an execution started, waited for until the wait is given up (moto's
// executions stay RUNNING), listed, its history read and rendered, and
// stopped. moto_server has no RedriveExecution (see TestServedAPI).
func TestMoto(t *testing.T) {
	ctx := context.Background()
	endpoint := testenv.Moto(t)
	region := testenv.MotoRegion()
	cfn := cloudformation.New(cloudformation.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds})
	template := `{"Resources":{"Pipeline":{"Type":"AWS::StepFunctions::StateMachine","Properties":{
		"StateMachineName":"lake-pipeline","RoleArn":"arn:aws:iam::123456789012:role/pipeline",
		"DefinitionString":"{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}"}}},
		"Outputs":{"PipelineArn":{"Value":{"Ref":"Pipeline"}}}}`
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("lake"), TemplateBody: aws.String(template)}); err != nil {
		testenv.Unavailable(t, "moto_server CloudFormation", err)
	}

	c, err := sfnclient.New(ctx, sfnclient.Config{Stack: "lake", Region: region, Endpoint: endpoint, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.StateMachineARN, ":stateMachine:lake-pipeline") {
		t.Fatalf("state machine from the stack: %q", c.StateMachineARN)
	}
	e, err := c.Start(ctx, "run-1", []byte(`{"source":"manual"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "run-1" || e.Status != asl.StatusRunning || string(e.Input) != `{"source":"manual"}` {
		t.Fatalf("started %+v", e)
	}

	// Ctrl-C while waiting: the wait ends, the execution goes on.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(wctx, "run-1", sfnclient.WaitOptions{First: 50 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "goes on") {
		t.Fatalf("Wait after its context ended: %v, want the context's error saying the execution goes on", err)
	}
	if e, err = c.Describe(ctx, "run-1"); err != nil || e.Status != asl.StatusRunning {
		t.Fatalf("after the wait was given up: %+v %v, want still RUNNING", e, err)
	}

	list, err := c.List(ctx, 0)
	if err != nil || len(list) != 1 || list[0].Name != "run-1" {
		t.Fatalf("List = %+v %v", list, err)
	}
	events, err := c.History(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Type != "ExecutionStarted" || events[0].Details == nil || events[0].Details.RoleArn == "" {
		t.Fatalf("history %+v, want moto's events starting with ExecutionStarted and its details", events)
	}
	var b bytes.Buffer
	if err := execview.History(&b, e, events); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "A State") {
		t.Fatalf("rendered moto history lacks its state:\n%s", b.String())
	}

	if _, err := c.Stop(ctx, "run-1", "Operator", "stopped by the test"); err != nil {
		t.Fatal(err)
	}
	if e, err = c.Describe(ctx, e.ExecutionARN); err != nil || e.Status != asl.StatusAborted {
		t.Fatalf("after Stop: %+v %v, want ABORTED", e, err)
	}
	if _, err := sfnclient.New(ctx, sfnclient.Config{Stack: "missing", Region: region, Endpoint: endpoint, Credentials: creds}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing stack: %v, want an error naming it", err)
	}
}

// TestServedAPI runs the client against the API `lake serve --api`
// serves: an execution waited for to its end, a failed one redriven, a
// running one stopped; and a history read through the API renders exactly
// as the history stored in the lake does.
func TestServedAPI(t *testing.T) {
	ctx := context.Background()
	lake, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	execs := execstore.New(lake, execstore.Options{})
	clock := asl.NewFakeClock(time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC))
	calls := 0
	handlers := map[string]asl.Handler{
		"flaky": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			calls++
			if calls%3 != 0 { // fails twice, then works
				return nil, errors.New("not yet")
			}
			return in, nil
		},
		"block": func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	def := `{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"arn:aws:lambda:local:000000000000:function:flaky",
		"Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}],"End":true}}}`
	m, err := asl.Load([]byte(def), asl.Options{Name: "flaky", Handlers: handlers, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	blocking, err := asl.Load([]byte(strings.ReplaceAll(def, "function:flaky", "function:block")), asl.Options{Name: "blocking", Handlers: handlers})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sfnapi.New(ctx, sfnapi.Options{Lake: lake, Executions: execs, Builtin: []sfnapi.Builtin{{Machine: m, Definition: def}, {Machine: blocking}},
		Load: func(string, []byte) (*asl.Machine, error) { return nil, errors.New("not used") }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer srv.Close()
	defer hs.Close()
	c, err := sfnclient.New(ctx, sfnclient.Config{StateMachineARN: m.ARN(), Endpoint: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	fast := sfnclient.WaitOptions{First: 10 * time.Millisecond, Longest: 50 * time.Millisecond}

	e, err := c.Start(ctx, "first", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if e, err = c.Wait(ctx, e.Name, fast); err != nil || e.Status != asl.StatusFailed {
		t.Fatalf("first run: %+v %v, want FAILED after its retry", e, err)
	}
	if _, err := c.Redrive(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if e, err = c.Wait(ctx, "first", fast); err != nil || e.Status != asl.StatusSucceeded || e.RedriveCount != 1 || string(e.Output) != `{"n":1}` {
		t.Fatalf("after the redrive: %+v %v, want SUCCEEDED, redriven once, with the input as output", e, err)
	}

	remote, err := c.History(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	local, localEvents, err := execs.Load(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	var viaAPI, stored bytes.Buffer
	if err := execview.History(&viaAPI, e, remote); err != nil {
		t.Fatal(err)
	}
	if err := execview.History(&stored, local, localEvents); err != nil {
		t.Fatal(err)
	}
	if viaAPI.String() != stored.String() {
		t.Fatalf("the history read through the API renders differently from the stored one:\n%s\nstored:\n%s", viaAPI.String(), stored.String())
	}
	for _, want := range []string{"failed after 1 retry", "-- redrive 1", "ok"} {
		if !strings.Contains(viaAPI.String(), want) {
			t.Errorf("rendered history lacks %q:\n%s", want, viaAPI.String())
		}
	}

	b, err := sfnclient.New(ctx, sfnclient.Config{StateMachineARN: blocking.ARN(), Endpoint: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, "stuck", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stop(ctx, "stuck", "", ""); err != nil {
		t.Fatal(err)
	}
	if e, err = b.Wait(ctx, "stuck", fast); err != nil || e.Status != asl.StatusAborted {
		t.Fatalf("stopped: %+v %v, want ABORTED", e, err)
	}
	if list, err := c.List(ctx, 0); err != nil || len(list) != 1 || list[0].Name != "first" {
		t.Fatalf("List of the flaky machine: %+v %v, want only its execution", list, err)
	}
}
