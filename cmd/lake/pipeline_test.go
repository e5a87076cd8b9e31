package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/testenv"
)

// TestMain points the default lake (LAKE_URL) of commands that tests run
// without --lake at a temporary folder instead of ./lake in the package.
// With LAKE_TEST_AS_LAKE=1 the test binary is the lake command, for tests
// that need several processes (lakeProcess).
func TestMain(m *testing.M) {
	if os.Getenv("LAKE_TEST_AS_LAKE") == "1" {
		os.Exit(runMain())
	}
	dir, err := os.MkdirTemp("", "lake-cmd-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("LAKE_URL", "file://"+dir)
	testenv.Main(m)
}

// lakeCmd runs one lake command as the binary would, with the global flags
// pointing at lake, the repository's contracts and source.
func lakeCmd(t *testing.T, name, lake, source string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--lake", lake, "--schemas", "../../schemas", "--source", source}, args...)
	err = commands[name].run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestCommandsEndToEnd drives the command line as the README does: seed,
// ingest, run, executions; then a run with an object that fails.
func TestCommandsEndToEnd(t *testing.T) {
	source := testenv.Postgres(t)
	dir := t.TempDir()
	lake := "file://" + dir

	out, _, err := lakeCmd(t, "seed", lake, source, "--rows", "2000", "--defects", "0.1")
	if err != nil {
		t.Fatalf("lake seed: %v", err)
	}
	var seeded struct {
		Rows    int64            `json:"rows"`
		Defects map[string]int64 `json:"defects"`
	}
	if err := json.Unmarshal([]byte(out), &seeded); err != nil || seeded.Rows != 2000 {
		t.Fatalf("lake seed printed %q (%v), want a JSON summary of 2000 rows", out, err)
	}
	time.Sleep(1100 * time.Millisecond) // ingest holds its bound a second behind the present

	out, _, err = lakeCmd(t, "ingest", lake, source)
	if err != nil {
		t.Fatalf("lake ingest: %v", err)
	}
	var ingested struct {
		Results []struct {
			Table     string `json:"table"`
			Rows      int64  `json:"rows"`
			Objects   []struct{ Key string }
			Watermark json.RawMessage `json:"watermark"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &ingested); err != nil || len(ingested.Results) != 1 {
		t.Fatalf("lake ingest printed %q (%v)", out, err)
	}
	if r := ingested.Results[0]; r.Table != "orders" || r.Rows != 2000 || len(r.Objects) == 0 || len(r.Watermark) == 0 {
		t.Errorf("lake ingest result = %+v, want orders, 2000 rows, objects and a new watermark", r)
	}
	if strings.Contains(out, "password") {
		t.Errorf("lake ingest printed something about a password: %s", out)
	}

	out, _, err = lakeCmd(t, "run", lake, source, "--format", "json")
	if err != nil {
		t.Fatalf("lake run: %v", err)
	}
	var sum runSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("lake run printed %q: %v", out, err)
	}
	rows := map[string]int64{}
	for _, l := range sum.Layers {
		rows[l.Name] = l.Rows
	}
	var defects int64
	for _, n := range seeded.Defects {
		defects += n
	}
	if sum.Failed != 0 || rows["silver.orders"]+rows["discarded.orders"] != 2000 || rows["discarded.orders"] != defects || rows["bronze"] != 0 {
		t.Errorf("lake run: %d failed, layers %v; want none failed, 2000 rows in silver+discarded, %d discarded", sum.Failed, rows, defects)
	}

	// An object for a table without a contract: the run fails, naming it.
	bad := filepath.Join(dir, "bronze", "landing", "nosuch")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "x.parquet"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = lakeCmd(t, "run", lake, source)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 executions failed") {
		t.Fatalf("lake run with a bad object: err %v, want 1 of 2 executions failed", err)
	}
	if !strings.Contains(out, "UnknownTableError") {
		t.Errorf("lake run summary does not name the error:\n%s", out)
	}
	var name string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "FAILED") {
			name = strings.Fields(line)[0]
		}
	}
	out, _, err = lakeCmd(t, "executions", lake, source, name)
	if err != nil {
		t.Fatalf("lake executions %s: %v", name, err)
	}
	for _, want := range []string{"FAILED", "Validate", "RecordFailure", "UnknownTableError", "nosuch"} {
		if !strings.Contains(out, want) {
			t.Errorf("lake executions %s lacks %q:\n%s", name, want, out)
		}
	}
}

// TestIngestErrorNames: `lake ingest` names a failure as the ingest Lambda
// would report it (pipeline.WorkflowError), here a source that refuses
// connections.
func TestIngestErrorNames(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	out, _, err := lakeCmd(t, "ingest", "file://"+t.TempDir(), "postgres://lake:pw@"+addr+"/shop?connect_timeout=2")
	var sum struct {
		Failures []struct {
			Table     string `json:"table"`
			ErrorType string `json:"error_type"`
		} `json:"failures"`
	}
	if jerr := json.Unmarshal([]byte(out), &sum); jerr != nil || len(sum.Failures) == 0 {
		t.Fatalf("lake ingest printed %q (%v, %v), want a summary with failures", out, err, jerr)
	}
	for _, f := range sum.Failures {
		if f.ErrorType != "SourceUnavailableError" {
			t.Errorf("table %s failed with %q, want SourceUnavailableError, the name the state machine retries", f.Table, f.ErrorType)
		}
	}
}
