package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/sfnclient"
)

// awsFlags are the flags of the --aws variants of run, executions, redrive
// and stop: which deployed state machine, and where.
type awsFlags struct {
	on                                    bool
	stack, stateMachine, endpoint, region string
}

func addAWSFlags(fs *flag.FlagSet) *awsFlags {
	a := &awsFlags{}
	fs.BoolVar(&a.on, "aws", false, "work on the deployed state machine through the Step Functions API instead of the local interpreter")
	fs.StringVar(&a.stack, "stack", envOr("LAKE_STACK", ""), "with --aws: CloudFormation stack whose PipelineArn output names the state machine (env LAKE_STACK)")
	fs.StringVar(&a.stateMachine, "state-machine", envOr("LAKE_STATE_MACHINE_ARN", ""), "with --aws: the state machine's ARN, instead of --stack (env LAKE_STATE_MACHINE_ARN)")
	fs.StringVar(&a.endpoint, "endpoint", envOr("LAKE_SFN_ENDPOINT", ""), "with --aws: Step Functions and CloudFormation endpoint, e.g. http://127.0.0.1:8083 for `lake serve --api` (env LAKE_SFN_ENDPOINT)")
	fs.StringVar(&a.region, "region", envOr("AWS_REGION", ""), "with --aws: AWS region (env AWS_REGION; default: the AWS configuration's)")
	return a
}

// client connects to the state machine the flags name; with only an
// --endpoint, to the pipeline that `lake serve --api` serves.
func (a *awsFlags) client(ctx context.Context) (*sfnclient.Client, error) {
	cfg := sfnclient.Config{StateMachineARN: a.stateMachine, Stack: a.stack, Endpoint: a.endpoint, Region: a.region}
	if cfg.StateMachineARN == "" && cfg.Stack == "" && cfg.Endpoint != "" {
		cfg.Name = localrun.PipelineName
	}
	return sfnclient.New(ctx, cfg)
}

// requireAWS refuses a command that works only on Step Functions.
func (a *awsFlags) requireAWS(command string) error {
	if a.on {
		return nil
	}
	return fmt.Errorf("lake %s works on Step Functions executions: add --aws (and --endpoint http://127.0.0.1:8083 for those of `lake serve --api`)", command)
}

// executionsAWS is `lake executions --aws [NAME]`.
func executionsAWS(ctx context.Context, a *awsFlags, name, format string, limit int, stdout io.Writer) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	if name == "" {
		list, err := c.List(ctx, limit)
		if err != nil {
			return err
		}
		return showList(stdout, format, list)
	}
	exec, err := c.Describe(ctx, name)
	if err != nil {
		return err
	}
	events, err := c.History(ctx, name)
	if err != nil {
		return err
	}
	return showHistory(stdout, format, exec, events)
}

// waitAWS waits for an execution, printing where to look if the wait is
// given up (Ctrl-C).
func waitAWS(ctx context.Context, c *sfnclient.Client, name string, stderr io.Writer) (*asl.Execution, error) {
	e, err := c.Wait(ctx, name, sfnclient.WaitOptions{})
	if err != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "lake: no longer waiting; the execution goes on: `lake executions --aws %s`, `lake stop --aws %s`\n", name, name)
	}
	return e, err
}

func init() {
	register(command{name: "redrive", summary: "redrive a failed Step Functions execution from the state that failed (--aws)", run: runRedrive})
	register(command{name: "stop", summary: "stop a running Step Functions execution (--aws)", run: runStop})
}

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var wait *bool
	c, name, err := executionCommand(ctx, "redrive", "--aws [--stack S | --state-machine ARN] [--endpoint URL] [--wait] NAME", args, stderr, func(fs *flag.FlagSet) {
		wait = fs.Bool("wait", false, "wait for the redriven execution to end; exit non-zero unless it succeeds")
	})
	if err != nil {
		return err
	}
	at, err := c.Redrive(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "redrove %s at %s\n", name, at.UTC().Format(time.RFC3339))
	if !*wait {
		return nil
	}
	e, err := waitAWS(ctx, c, name, stderr)
	if err != nil {
		return err
	}
	return ended(stdout, e)
}

func runStop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var errName, cause *string
	c, name, err := executionCommand(ctx, "stop", "--aws [--stack S | --state-machine ARN] [--endpoint URL] [--error E] [--cause C] NAME", args, stderr, func(fs *flag.FlagSet) {
		errName = fs.String("error", "", "the error to stop it with (shown by DescribeExecution)")
		cause = fs.String("cause", "", "the cause to stop it with")
	})
	if err != nil {
		return err
	}
	at, err := c.Stop(ctx, name, *errName, *cause)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stopped %s at %s\n", name, at.UTC().Format(time.RFC3339))
	return nil
}

// executionCommand parses the flags of a command that acts on one Step
// Functions execution (more adds the command's own) and connects; it
// returns the client and the execution's name or ARN.
func executionCommand(ctx context.Context, command, usage string, args []string, stderr io.Writer, more func(*flag.FlagSet)) (*sfnclient.Client, string, error) {
	fs, _ := newFlagSet(command, usage, stderr)
	a := addAWSFlags(fs)
	more(fs)
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if err := a.requireAWS(command); err != nil {
		return nil, "", err
	}
	if fs.NArg() != 1 {
		return nil, "", fmt.Errorf("want one execution name or ARN, got %q", fs.Args())
	}
	c, err := a.client(ctx)
	return c, fs.Arg(0), err
}

// ended prints how an execution ended and fails unless it succeeded.
func ended(w io.Writer, e *asl.Execution) error {
	fmt.Fprintf(w, "%s %s\n", e.Name, e.Status)
	if e.Status != asl.StatusSucceeded {
		return fmt.Errorf("execution %s %s: %s: %s; see `lake executions --aws %s`", e.Name, e.Status, e.Error, e.Cause, e.Name)
	}
	return nil
}
