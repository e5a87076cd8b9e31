package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/sfnclient"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

// TestAWSCommands drives `lake run --aws`, `lake executions --aws`,
// `lake stop --aws` and `lake redrive --aws` against the API `lake serve
// --api` serves, over a real PostgreSQL and lake.
func TestAWSCommands(t *testing.T) {
	ctx := context.Background()
	source := testenv.Postgres(t)
	dir := t.TempDir()
	lake := "file://" + dir
	if _, _, err := lakeCmd(t, "seed", lake, source, "--rows", "800", "--defects", "0.1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // ingest holds its bound a second behind the present

	loc, err := openLocal(ctx, &globals{lake: lake, source: source, schemas: "../../schemas"}, localrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := serveAPI(ctx, loc, "127.0.0.1:0", false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	lakeAWS := func(name string, args ...string) (string, error) {
		t.Helper()
		out, _, err := lakeCmd(t, name, lake, source, append([]string{"--aws", "--endpoint", url}, args...)...)
		return out, err
	}

	out, err := lakeAWS("run", "--format", "json", "--name", "ingest-1")
	if err != nil {
		t.Fatalf("lake run --aws: %v\n%s", err, out)
	}
	var sum runSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("lake run --aws printed %q: %v", out, err)
	}
	if len(sum.Executions) != 1 || sum.Executions[0].Status != "SUCCEEDED" || sum.Executions[0].Name != "ingest-1" || len(sum.Layers) == 0 {
		t.Fatalf("lake run --aws summary %+v, want ingest-1 SUCCEEDED and the layers", sum)
	}
	objs, err := loc.runner.Pending(ctx)
	if err != nil || len(objs) == 0 {
		t.Fatalf("objects waiting after the ingest: %v %v", objs, err)
	}
	if out, err := lakeAWS("run", "--object", objs[0].Key, "--name", "object-1"); err != nil || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("lake run --aws --object: %v\n%s", err, out)
	}

	out, err = lakeAWS("executions")
	if err != nil || !strings.Contains(out, "ingest-1") || !strings.Contains(out, "object-1") {
		t.Fatalf("lake executions --aws: %v\n%s", err, out)
	}
	viaAPI, err := lakeAWS("executions", "object-1")
	if err != nil {
		t.Fatal(err)
	}
	local, _, err := lakeCmd(t, "executions", lake, source, "object-1")
	if err != nil {
		t.Fatal(err)
	}
	if viaAPI != local {
		t.Fatalf("lake executions --aws renders the history differently from lake executions:\n%s\nlocal:\n%s", viaAPI, local)
	}
	for _, want := range []string{"Validate", "Route", "Crawl", "SUCCEEDED"} {
		if !strings.Contains(viaAPI, want) {
			t.Errorf("history lacks %q:\n%s", want, viaAPI)
		}
	}

	// A failing object: run --aws fails naming the error; redrive runs the
	// failed state again.
	bad := filepath.Join(dir, "bronze", "landing", "nosuch")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "x.parquet"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = lakeAWS("run", "--object", "bronze/landing/nosuch/x.parquet", "--name", "bad-1")
	if err == nil || !strings.Contains(out, "UnknownTableError") {
		t.Fatalf("lake run --aws of a bad object: %v\n%s, want a failure naming UnknownTableError", err, out)
	}
	if out, err := lakeAWS("redrive", "--wait", "bad-1"); err == nil || !strings.Contains(out, "redrove bad-1") {
		t.Fatalf("lake redrive --aws --wait: %v\n%s, want the redrive and the execution failing again", err, out)
	}
	out, err = lakeAWS("executions", "--format", "json", "bad-1")
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Execution struct {
			RedriveCount int `json:"redriveCount"`
		} `json:"execution"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.Execution.RedriveCount != 1 {
		t.Fatalf("bad-1 after the redrive: %s (%v), want redriveCount 1", out, err)
	}

	// Stop: a state machine that waits ten minutes, created through the API.
	c := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		APIOptions: []func(*middleware.Stack) error{sfnclient.NoHostPrefix}})
	created, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("waits"), RoleArn: aws.String("arn:aws:iam::000000000000:role/r"),
		Definition: aws.String(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	waits := aws.ToString(created.StateMachineArn)
	if _, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: created.StateMachineArn, Name: aws.String("long")}); err != nil {
		t.Fatal(err)
	}
	if out, err := lakeAWS("stop", "--state-machine", waits, "--error", "Operator", "--cause", "not needed", "long"); err != nil || !strings.Contains(out, "stopped long") {
		t.Fatalf("lake stop --aws: %v\n%s", err, out)
	}
	out, err = lakeAWS("executions", "--state-machine", waits, "long")
	if err != nil || !strings.Contains(out, "ABORTED") || !strings.Contains(out, "Operator") {
		t.Fatalf("the stopped execution: %v\n%s, want ABORTED with the error given", err, out)
	}

	if _, _, err := lakeCmd(t, "stop", lake, source, "long"); err == nil || !strings.Contains(err.Error(), "--aws") {
		t.Fatalf("lake stop without --aws: %v, want an error saying to add --aws", err)
	}
}

// TestRunMarksAbandonedExecutions leaves an execution RUNNING with its
// lease held by a process of this host that no longer exists (as after a
// kill -9) and checks that `lake run` marks it ABORTED with the reason
// when it starts.
func TestRunMarksAbandonedExecutions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lake := "file://" + dir
	st, err := storeurl.Open(ctx, lake)
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Skipf("no PID namespace to compare (%v): only the lease's expiry tells here", err)
	}
	now := time.Now().UTC()
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	put(execstore.LeasePrefix+"dead-1.json", execstore.Lease{Execution: "dead-1", Owner: execstore.Owner{Host: host, PID: gone.Process.Pid, PIDNS: ns, ID: "gone"},
		Renewed: now, Expires: now.Add(time.Hour)})
	put(execstore.Prefix+"dead-1/execution.json", asl.Execution{Name: "dead-1", Status: asl.StatusRunning, StartDate: now, Input: json.RawMessage(`{}`)})

	_, stderr, err := lakeCmd(t, "run", lake, "")
	if err != nil {
		t.Fatalf("lake run: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "dead-1 ABORTED") || !strings.Contains(stderr, "no longer exists") {
		t.Fatalf("lake run did not report the abandoned execution:\n%s", stderr)
	}
	out, _, err := lakeCmd(t, "executions", lake, "", "dead-1")
	if err != nil || !strings.Contains(out, "ABORTED") || !strings.Contains(out, execstore.AbandonedError) || !strings.Contains(out, "lake run found it") {
		t.Fatalf("lake executions dead-1: %v\n%s", err, out)
	}
}
