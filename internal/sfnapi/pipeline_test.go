package sfnapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/sfnapi"
	"github.com/medallionlake/lake/internal/testenv"
)

// TestPipelineEndToEnd drives the pipeline's state machine through the
// served API with the AWS SDK's sfn client, over a real PostgreSQL and a
// lake: the ingest execution, one execution per bronze object with the
// Object Created event EventBridge would send, the executions' list and
// histories, and a failing object's execution redriven.
func TestPipelineEndToEnd(t *testing.T) {
	ctx := context.Background()
	source := testenv.Postgres(t)
	db, err := pgx.Connect(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	seeded, err := seed.Run(ctx, db, seed.Options{Rows: 1500, Defects: 0.1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := contract.LoadDir(testenv.RepoRoot() + "/schemas")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // past ingest's margin
	lake := fileLake(t)
	p := pipeline.New(pipeline.Config{Lake: lake, Tables: tables, Source: source, Catalog: localcatalog.New(lake), Ingest: ingest.Options{Margin: 10 * time.Millisecond}})
	runner, err := localrun.New(p, lake, localrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := serve(t, lake, runner.Executions(), runner.LoadMachine, sfnapi.Builtin{Machine: runner.Machine(), Definition: runner.Definition()})
	c := a.client

	machines, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(machines.StateMachines) != 1 || aws.ToString(machines.StateMachines[0].Name) != localrun.PipelineName {
		t.Fatalf("ListStateMachines = %+v, want the pipeline", machines.StateMachines)
	}
	arn := aws.ToString(machines.StateMachines[0].StateMachineArn)
	described, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if def := aws.ToString(described.Definition); !strings.Contains(def, `"StartAt": "Dispatch"`) || strings.Contains(def, "${") {
		t.Fatalf("DescribeStateMachine definition does not look like the substituted pipeline:\n%.300s", def)
	}

	run := func(name, input string) *sfn.DescribeExecutionOutput {
		t.Helper()
		out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(input)})
		if err != nil {
			t.Fatalf("StartExecution %s: %v", name, err)
		}
		return waitDone(t, c, aws.ToString(out.ExecutionArn))
	}
	if d := run("ingest-1", `{"source":"manual","parts":2}`); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("ingest execution: %s %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	objs, err := runner.Pending(ctx)
	if err != nil || len(objs) == 0 {
		t.Fatalf("bronze objects after the ingest: %v, %v", objs, err)
	}
	for i, obj := range objs {
		ev, err := runner.ObjectEvent(obj)
		if err != nil {
			t.Fatal(err)
		}
		if d := run("object-"+string(rune('a'+i)), string(ev)); d.Status != types.ExecutionStatusSucceeded {
			t.Fatalf("execution for %s: %s %s: %s", obj.Key, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
	}
	layers, err := localrun.Counts(ctx, lake, p.Iceberg(), tables)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, l := range layers {
		rows[l.Name] = l.Rows
	}
	if rows["silver.orders"]+rows["discarded.orders"] != seeded.Rows || rows["bronze"] != 0 {
		t.Fatalf("rows per layer %v, want the %d seeded rows in silver and discarded and none in bronze", rows, seeded.Rows)
	}

	// ListExecutions, paged by the SDK's paginator.
	var names []string
	pages := sfn.NewListExecutionsPaginator(c, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), MaxResults: 1})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Executions {
			names = append(names, aws.ToString(e.Name))
		}
	}
	if len(names) != 1+len(objs) {
		t.Fatalf("ListExecutions = %v, want %d executions", names, 1+len(objs))
	}

	// The ingest's history, paged, in AWS's shapes.
	var events []types.HistoryEvent
	hp := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":ingest-1"), MaxResults: 7})
	for hp.HasMorePages() {
		page, err := hp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page.Events...)
	}
	seen := map[types.HistoryEventType]bool{}
	for i, ev := range events {
		seen[ev.Type] = true
		if ev.Id != int64(i+1) || ev.Timestamp == nil || ev.Timestamp.Before(time.Now().Add(-time.Hour)) {
			t.Fatalf("event %d: id %d at %v", i, ev.Id, ev.Timestamp)
		}
		switch ev.Type {
		case types.HistoryEventTypeExecutionStarted:
			if d := ev.ExecutionStartedEventDetails; d == nil || !json.Valid([]byte(aws.ToString(d.Input))) || aws.ToString(d.RoleArn) == "" {
				t.Fatalf("ExecutionStarted details %+v", d)
			}
		case types.HistoryEventTypeTaskScheduled:
			if d := ev.TaskScheduledEventDetails; d == nil || aws.ToString(d.Resource) != "invoke" || aws.ToString(d.ResourceType) != "lambda" || !strings.Contains(aws.ToString(d.Parameters), ":function:lake-") {
				t.Fatalf("TaskScheduled details %+v", d)
			}
		case types.HistoryEventTypeMapStateStarted:
			if d := ev.MapStateStartedEventDetails; d == nil || d.Length < 1 {
				t.Fatalf("MapStateStarted details %+v", d)
			}
		case types.HistoryEventTypeMapIterationStarted:
			if d := ev.MapIterationStartedEventDetails; d == nil || aws.ToString(d.Name) == "" {
				t.Fatalf("MapIterationStarted details %+v", d)
			}
		case types.HistoryEventTypeTaskStateEntered, types.HistoryEventTypeChoiceStateEntered:
			if d := ev.StateEnteredEventDetails; d == nil || aws.ToString(d.Name) == "" || d.InputDetails == nil {
				t.Fatalf("%s details %+v", ev.Type, d)
			}
		}
	}
	for _, want := range []types.HistoryEventType{"ExecutionStarted", "ChoiceStateEntered", "TaskStateEntered", "TaskScheduled", "TaskSucceeded",
		"MapStateEntered", "MapStateStarted", "MapIterationStarted", "MapIterationSucceeded", "MapStateSucceeded", "ExecutionSucceeded"} {
		if !seen[want] {
			t.Errorf("the ingest's history has no %s event", want)
		}
	}

	// An object for a table with no contract fails; redriving it runs the
	// failed state again (it fails again: still no contract).
	bad, err := lake.Put(ctx, "bronze/landing/nosuch/part-0.parquet", strings.NewReader("PAR1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := runner.ObjectEvent(bad)
	if err != nil {
		t.Fatal(err)
	}
	d := run("bad-object", string(ev))
	if d.Status != types.ExecutionStatusFailed || !strings.Contains(aws.ToString(d.Cause), "nosuch") {
		t.Fatalf("bad object: %s %s: %s, want FAILED naming the table", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if _, err := c.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: d.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	d = waitDone(t, c, aws.ToString(d.ExecutionArn))
	if d.Status != types.ExecutionStatusFailed || aws.ToInt32(d.RedriveCount) != 1 {
		t.Fatalf("redriven bad object: %s, redriveCount %d; want FAILED again and 1", d.Status, aws.ToInt32(d.RedriveCount))
	}
}
