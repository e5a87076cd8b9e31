package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/dq"
)

const validateFixture = "../../internal/dq/testdata/orders_small.parquet"

func TestValidateJSON(t *testing.T) {
	var out, errb bytes.Buffer
	// flags after the file work too
	err := runValidate(context.Background(), []string{validateFixture, "--rules", "../../schemas/orders.dqdl", "--format", "json"}, &out, &errb)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, errb.String())
	}
	var res dq.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not a Result: %v\n%s", err, out.String())
	}
	if got, want := res.AggregatedMetrics.TotalRowsProcessed, int64(10); got != want {
		t.Errorf("TotalRowsProcessed=%d, want %d", got, want)
	}
	if !strings.Contains(out.String(), `"TotalRowsFailed": `) {
		t.Errorf("output lacks TotalRowsFailed:\n%s", out.String())
	}
	if res.Verdict != dq.Split {
		t.Errorf("verdict=%s, want SPLIT", res.Verdict)
	}
}

func TestValidateTable(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runValidate(context.Background(), []string{"--rules", "../../schemas/orders.dqdl", validateFixture}, &out, &errb); err != nil {
		t.Fatalf("validate: %v", err)
	}
	for _, want := range []string{"OUTCOME", `IsUnique "order_id"`, "TotalRowsFailed: ", "Verdict: SPLIT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.dqdl")
	if err := os.WriteFile(bad, []byte("Rules = [\n  IsComplete \"a\",\n  Nonsense \"b\"\n]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notParquet := filepath.Join(dir, "x.parquet")
	if err := os.WriteFile(notParquet, []byte("order_id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"load error names line and column", []string{"--rules", bad, validateFixture}, `bad.dqdl: dqdl: 3:3: unsupported rule type "Nonsense"`},
		{"no rules flag", []string{validateFixture}, "need --rules"},
		{"bad format", []string{"--rules", bad, "--format", "xml", validateFixture}, "--format must be table or json"},
		{"not parquet", []string{"--rules", "../../schemas/orders.dqdl", notParquet}, "unreadable Parquet"},
		{"bad memory size", []string{"--rules", "../../schemas/orders.dqdl", "--dq-memory", "lots", validateFixture}, "such as 256MiB or 1GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runValidate(context.Background(), tt.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err=%v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestValidateMemoryBudget: the budget comes from --dq-memory or
// LAKE_DQ_MEMORY, and a small one gives the same results.
func TestValidateMemoryBudget(t *testing.T) {
	validate := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := runValidate(context.Background(), append([]string{"--rules", "../../schemas/orders.dqdl", "--format", "json", validateFixture}, args...), &out, &errb)
		return out.String(), err
	}
	want, err := validate()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := validate("--dq-memory", "1MiB"); err != nil || got != want {
		t.Errorf("with --dq-memory 1MiB: err=%v, output differs: %v", err, got != want)
	}
	t.Setenv("LAKE_DQ_MEMORY", "2MiB")
	if got, err := validate(); err != nil || got != want {
		t.Errorf("with LAKE_DQ_MEMORY=2MiB: err=%v, output differs: %v", err, got != want)
	}
	t.Setenv("LAKE_DQ_MEMORY", "12")
	if _, err := validate(); err == nil || !strings.Contains(err.Error(), "LAKE_DQ_MEMORY") {
		t.Errorf("with LAKE_DQ_MEMORY=12: err=%v, want it to name LAKE_DQ_MEMORY", err)
	}
}
