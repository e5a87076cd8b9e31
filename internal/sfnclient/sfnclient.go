// Package sfnclient runs and inspects executions of a deployed state
// machine through the AWS Step Functions API: start one and wait for it,
// list executions, read one's history, redrive or stop one. The state
// machine is named by its ARN or found in a CloudFormation stack's
// outputs (DescribeStacks, the PipelineArn output of template.yaml).
//
// The same code talks to AWS, to moto_server and to the API that `lake
// serve --api` serves (Config.Endpoint). Executions and history events
// come back as asl.Execution and asl.Event, the shapes the local
// interpreter records, so both render through internal/execview.
//
// Imported by cmd/lake (the --aws variants of run, executions, redrive
// and stop).
package sfnclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/medallionlake/lake/internal/asl"
)

// StackOutput is the output of template.yaml's stack that holds the
// state machine's ARN.
const StackOutput = "PipelineArn"

// Config says which state machine to use and where.
type Config struct {
	// StateMachineARN names the state machine; if empty, Stack does, or
	// else Name.
	StateMachineARN string
	// Stack is a CloudFormation stack whose PipelineArn output names the
	// state machine.
	Stack string
	// Name is the state machine's name, looked up with ListStateMachines
	// (`lake serve --api` serves the pipeline as lake-pipeline).
	Name string
	// Region is the AWS region; empty: the SDK's default chain
	// (AWS_REGION, the shared config), or us-east-1 with an Endpoint.
	Region string
	// Endpoint replaces the AWS endpoints of Step Functions and
	// CloudFormation (moto_server, `lake serve --api`).
	Endpoint string
	// Credentials replace the SDK's default chain. With an Endpoint and
	// neither AWS_ACCESS_KEY_ID nor AWS_PROFILE set, placeholder ones are
	// used: local endpoints do not check them.
	Credentials aws.CredentialsProvider
}

// Client talks to one state machine.
type Client struct {
	sfn *sfn.Client
	// StateMachineARN is the state machine's ARN.
	StateMachineARN string
}

// New connects and finds the state machine.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.StateMachineARN == "" && cfg.Stack == "" && cfg.Name == "" {
		return nil, errors.New("sfnclient: name the state machine: --state-machine ARN (LAKE_STATE_MACHINE_ARN) or --stack NAME (LAKE_STACK)")
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	switch {
	case cfg.Credentials != nil:
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	case cfg.Endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sfnclient: AWS configuration: %w", err)
	}
	if cfg.Endpoint != "" && awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	endpoint := func(base **string) {
		if cfg.Endpoint != "" {
			*base = aws.String(cfg.Endpoint)
		}
	}
	c := &Client{
		sfn: sfn.NewFromConfig(awsCfg, func(o *sfn.Options) {
			endpoint(&o.BaseEndpoint)
			if cfg.Endpoint != "" {
				o.APIOptions = append(o.APIOptions, NoHostPrefix)
			}
		}),
		StateMachineARN: cfg.StateMachineARN,
	}
	switch {
	case c.StateMachineARN != "":
	case cfg.Stack != "":
		cfn := cloudformation.NewFromConfig(awsCfg, func(o *cloudformation.Options) { endpoint(&o.BaseEndpoint) })
		if c.StateMachineARN, err = stackOutput(ctx, cfn, cfg.Stack); err != nil {
			return nil, err
		}
	default:
		if c.StateMachineARN, err = c.named(ctx, cfg.Name); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// named finds the ARN of the state machine called name.
func (c *Client) named(ctx context.Context, name string) (string, error) {
	pages := sfn.NewListStateMachinesPaginator(c.sfn, &sfn.ListStateMachinesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("sfnclient: listing state machines: %w", err)
		}
		for _, sm := range page.StateMachines {
			if aws.ToString(sm.Name) == name {
				return aws.ToString(sm.StateMachineArn), nil
			}
		}
	}
	return "", fmt.Errorf("sfnclient: no state machine is called %s: name one with --state-machine ARN or --stack NAME", name)
}

// NoHostPrefix is an SDK API option that turns off endpoint host
// prefixes: with a custom endpoint such as http://127.0.0.1:8083, the SDK
// would otherwise send StartSyncExecution to sync-127.0.0.1.
func NoHostPrefix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("NoHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

// stackOutput reads the PipelineArn output of stack.
func stackOutput(ctx context.Context, cfn *cloudformation.Client, stack string) (string, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return "", fmt.Errorf("sfnclient: describing stack %s: %w", stack, err)
	}
	for _, s := range out.Stacks {
		for _, o := range s.Outputs {
			if aws.ToString(o.OutputKey) == StackOutput && aws.ToString(o.OutputValue) != "" {
				return aws.ToString(o.OutputValue), nil
			}
		}
	}
	return "", fmt.Errorf("sfnclient: stack %s has no %s output (is it template.yaml's stack?)", stack, StackOutput)
}

// ExecutionARN returns the ARN of the state machine's execution name; an
// ARN is returned as it is.
func (c *Client) ExecutionARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return strings.Replace(c.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Start starts an execution on input (JSON; none gives {}); name may be
// empty (Step Functions then picks one).
func (c *Client) Start(ctx context.Context, name string, input []byte) (*asl.Execution, error) {
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(c.StateMachineARN)}
	if len(input) > 0 {
		in.Input = aws.String(string(input))
	}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := c.sfn.StartExecution(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("sfnclient: starting an execution of %s: %w", c.StateMachineARN, err)
	}
	return c.Describe(ctx, aws.ToString(out.ExecutionArn))
}

// Describe returns an execution (by name or ARN).
func (c *Client) Describe(ctx context.Context, execution string) (*asl.Execution, error) {
	out, err := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(c.ExecutionARN(execution))})
	if err != nil {
		return nil, fmt.Errorf("sfnclient: describing %s: %w", execution, err)
	}
	e := &asl.Execution{
		ExecutionARN: aws.ToString(out.ExecutionArn), StateMachineARN: aws.ToString(out.StateMachineArn),
		Name: aws.ToString(out.Name), Status: string(out.Status), StartDate: aws.ToTime(out.StartDate), StopDate: out.StopDate,
		Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause), RedriveDate: out.RedriveDate,
	}
	if out.RedriveCount != nil {
		e.RedriveCount = int(*out.RedriveCount)
	}
	e.Input = rawJSON(out.Input)
	e.Output = rawJSON(out.Output)
	return e, nil
}

// rawJSON keeps s when it is JSON (Step Functions may leave input or
// output out, or moto may give text that is not JSON).
func rawJSON(s *string) json.RawMessage {
	if s == nil || !json.Valid([]byte(*s)) {
		return nil
	}
	return json.RawMessage(*s)
}

// WaitOptions set how Wait polls: the first interval, growing by half each
// time up to the longest.
type WaitOptions struct {
	First, Longest time.Duration
}

// Wait polls DescribeExecution until the execution has ended and returns
// it. When ctx ends first (Ctrl-C), it stops waiting and returns ctx's
// error; the execution goes on.
func (c *Client) Wait(ctx context.Context, execution string, opts WaitOptions) (*asl.Execution, error) {
	if opts.First <= 0 {
		opts.First = time.Second
	}
	if opts.Longest < opts.First {
		opts.Longest = max(10*time.Second, opts.First)
	}
	interval := opts.First
	for {
		e, err := c.Describe(ctx, execution)
		if err != nil {
			return nil, err
		}
		if e.Status != asl.StatusRunning && e.Status != "PENDING_REDRIVE" {
			return e, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return e, fmt.Errorf("sfnclient: stopped waiting for %s, which goes on: %w", e.Name, context.Cause(ctx))
		case <-t.C:
		}
		interval = min(interval*3/2, opts.Longest)
	}
}

// List returns the state machine's executions, newest first, at most
// limit of them (0: all), reading every page.
func (c *Client) List(ctx context.Context, limit int) ([]asl.Execution, error) {
	var out []asl.Execution
	pages := sfn.NewListExecutionsPaginator(c.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(c.StateMachineARN)})
	for pages.HasMorePages() && (limit <= 0 || len(out) < limit) {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("sfnclient: listing the executions of %s: %w", c.StateMachineARN, err)
		}
		for _, it := range page.Executions {
			e := asl.Execution{ExecutionARN: aws.ToString(it.ExecutionArn), StateMachineARN: aws.ToString(it.StateMachineArn),
				Name: aws.ToString(it.Name), Status: string(it.Status), StartDate: aws.ToTime(it.StartDate), StopDate: it.StopDate, RedriveDate: it.RedriveDate}
			if it.RedriveCount != nil {
				e.RedriveCount = int(*it.RedriveCount)
			}
			out = append(out, e)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// History returns an execution's whole history, reading every page.
func (c *Client) History(ctx context.Context, execution string) ([]asl.Event, error) {
	var out []asl.Event
	pages := sfn.NewGetExecutionHistoryPaginator(c.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(c.ExecutionARN(execution))})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("sfnclient: reading the history of %s: %w", execution, err)
		}
		for _, ev := range page.Events {
			e, err := event(ev)
			if err != nil {
				return nil, fmt.Errorf("sfnclient: event %d of %s: %w", ev.Id, execution, err)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// event converts a history event: its one *EventDetails member becomes
// asl.EventDetails, whose fields have the same names.
func event(ev types.HistoryEvent) (asl.Event, error) {
	out := asl.Event{ID: ev.Id, PreviousEventID: ev.PreviousEventId, Timestamp: aws.ToTime(ev.Timestamp), Type: string(ev.Type)}
	v := reflect.ValueOf(ev)
	for i := range v.NumField() {
		f := v.Field(i)
		if !strings.HasSuffix(v.Type().Field(i).Name, "EventDetails") || f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		// encoding/json matches field names without regard to case:
		// the SDK's Name, Input, Error ... fill asl's name, input, error.
		b, err := json.Marshal(f.Interface())
		if err != nil {
			return out, err
		}
		out.Details = &asl.EventDetails{}
		if err := json.Unmarshal(b, out.Details); err != nil {
			return out, err
		}
		break
	}
	return out, nil
}

// Redrive redrives a failed, timed-out or aborted execution and returns
// when the redrive started.
func (c *Client) Redrive(ctx context.Context, execution string) (time.Time, error) {
	out, err := c.sfn.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(c.ExecutionARN(execution))})
	if err != nil {
		return time.Time{}, fmt.Errorf("sfnclient: redriving %s: %w", execution, err)
	}
	return aws.ToTime(out.RedriveDate), nil
}

// Stop stops a running execution with an error and cause (both
// optional) and returns when it stopped.
func (c *Client) Stop(ctx context.Context, execution, errName, cause string) (time.Time, error) {
	in := &sfn.StopExecutionInput{ExecutionArn: aws.String(c.ExecutionARN(execution))}
	if errName != "" {
		in.Error = aws.String(errName)
	}
	if cause != "" {
		in.Cause = aws.String(cause)
	}
	out, err := c.sfn.StopExecution(ctx, in)
	if err != nil {
		return time.Time{}, fmt.Errorf("sfnclient: stopping %s: %w", execution, err)
	}
	return aws.ToTime(out.StopDate), nil
}
