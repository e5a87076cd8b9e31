package pipeline_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/testenv"
)

// runtimeAPI is a Lambda Runtime API server that hands out one invocation
// and captures what the function posts back.
type runtimeAPI struct {
	payload []byte
	served  bool
	result  chan posted
}

type posted struct {
	path string
	body []byte
}

func (r *runtimeAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/2018-06-01/runtime/invocation/next":
		if r.served {
			// no second invocation: wait until the test kills the process
			select {
			case <-req.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		r.served = true
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", "4102444800000")
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:lake-validate")
		w.Write(r.payload)
	case req.Method == http.MethodPost:
		b, _ := io.ReadAll(req.Body)
		r.result <- posted{req.URL.Path, b}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, req)
	}
}

// checkErrorMetric checks that out, a function's stdout, holds a valid EMF
// event counting one error of task, of the error type errType.
func checkErrorMetric(t *testing.T, out, task, errType string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil || ev[pipeline.MetricErrors] == nil {
			continue
		}
		if err := metrics.Validate([]byte(line)); err != nil {
			t.Fatalf("stdout: %s: %v", line, err)
		}
		if ev[pipeline.DimensionTask] != task || ev[pipeline.MetricErrors] != 1.0 || !strings.HasSuffix(ev["error_type"].(string), "."+errType) {
			t.Errorf("error metric %s, want Errors 1 of task %s with an error_type ending in .%s", line, task, errType)
		}
		return
	}
	t.Errorf("stdout has no EMF event counting the error:\n%s", out)
}

// TestLambdaErrorType runs a real task binary against a Runtime API
// server and checks that the errorType aws-lambda-go reports for a
// workflow error is its Go type name: the name the state machine's
// ErrorEquals matches.
func TestLambdaErrorType(t *testing.T) {
	bins := map[string]string{}
	bin := func(task string) string {
		t.Helper()
		if b, ok := bins[task]; ok {
			return b
		}
		b := filepath.Join(t.TempDir(), task, "bootstrap")
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", b, "./tasks/"+task)
		build.Dir = testenv.RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./tasks/%s: %v\n%s", task, err, out)
		}
		bins[task] = b
		return b
	}
	tests := []struct {
		name, task, payload, wantType, wantMsg string
	}{
		{"table without a contract", "validate", `{"bucket": "lake-bucket", "key": "bronze/landing/nosuch/part-00000.parquet", "etag": "abc", "size": 10}`, "UnknownTableError", "nosuch"},
		{"key outside the landing prefix", "validate", `{"bucket": "lake-bucket", "key": "silver/staging/orders/x.parquet", "etag": "abc", "size": 10}`, "ObjectKeyError", "silver/staging/orders/x.parquet"},
		{"misspelt field", "validate", `{"bucket": "lake-bucket", "kye": "bronze/landing/orders/x.parquet"}`, "BadInputError", `unknown field "kye"`},
		{"a maintenance with a failed table", "maintain", `{"finish": {"results": [{"table": "orders", "kind": "silver", "absent": true}, {"table": "orders", "kind": "current", "error": {"Error": "StoreUnavailableError", "Cause": "connection reset"}}]}}`, "FailedError", "silver.orders_current: StoreUnavailableError: connection reset"},
		{"a maintenance of an unknown kind", "maintain", `{"plan": {"kinds": ["gold"]}}`, "BadInputError", `kind of table "gold"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := bin(tt.task)
			payload := []byte(tt.payload)
			api := &runtimeAPI{payload: payload, result: make(chan posted, 1)}
			srv := httptest.NewServer(api)
			defer srv.Close()

			cmd := exec.Command(bin)
			cmd.Env = []string{
				"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
				"LAKE_URL=file://" + t.TempDir(),
				"LAKE_METRICS_NAMESPACE=MedallionLake/test",
				"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
				"HOME=" + t.TempDir(),
			}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var got posted
			select {
			case got = <-api.result:
			case <-time.After(30 * time.Second):
				t.Fatalf("no response from the function; stderr:\n%s", stderr.String())
			}
			if want := "/2018-06-01/runtime/invocation/req-1/error"; got.path != want {
				t.Fatalf("posted to %s (%s), want %s", got.path, got.body, want)
			}
			var resp struct {
				Type    string `json:"errorType"`
				Message string `json:"errorMessage"`
			}
			if err := json.Unmarshal(got.body, &resp); err != nil {
				t.Fatalf("error payload %s: %v", got.body, err)
			}
			if resp.Type != tt.wantType {
				t.Errorf("errorType = %q, want %q (message %q)", resp.Type, tt.wantType, resp.Message)
			}
			if !strings.Contains(resp.Message, tt.wantMsg) {
				t.Errorf("errorMessage = %q, want it to name %q", resp.Message, tt.wantMsg)
			}
			// The failed call published its metrics on stdout, in EMF.
			cmd.Process.Kill()
			cmd.Wait()
			checkErrorMetric(t, stdout.String(), tt.task, tt.wantType)
		})
	}
}
