package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunDefinition(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	input := write("input.json", `{"type":"Private","value":22}`)
	event := write("event.json", `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"local-lake"},"object":{"key":"bronze/landing/nosuch/x.parquet","etag":"e","size":1}}}`)
	tests := []struct {
		description string
		def         string
		wantOut     string
		wantErr     []string
	}{
		{"prints the output alone", "../../internal/asl/testdata/valid/choice.asl.json", "\"twenties\"\n", nil},
		{"a failed execution names its Error and Cause", write("fail.asl.json", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Broken","Cause":"on purpose"}}}`), "",
			[]string{"FAILED", "Error: Broken", "Cause: on purpose"}},
		{"a definition AWS would reject does not load", write("bad.asl.json", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`), "",
			[]string{`transition to "B"`}},
		{"the pipeline's tasks are bound to their placeholders", "../../statemachine/pipeline.asl.json", "",
			[]string{"FAILED", "Error: UnknownTableError", "nosuch"}},
		{"a Task without a handler does not load", write("task.asl.json", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:nobody","End":true}}}`), "",
			[]string{`no handler is registered for Lambda function "nobody"`}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			in := input
			if strings.HasSuffix(tt.def, "pipeline.asl.json") {
				in = event
			}
			args := []string{"--lake", "file://" + t.TempDir(), "--schemas", "../../schemas", "--definition", tt.def, "--input", in}
			err := runCommand(context.Background(), args, &stdout, &stderr)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err=%v, stderr:\n%s", err, stderr.String())
				}
				if got := stdout.String(); got != tt.wantOut {
					t.Fatalf("stdout=%q, want %q", got, tt.wantOut)
				}
				if !strings.Contains(stderr.String(), "ExecutionSucceeded") {
					t.Fatalf("stderr lacks the execution's log:\n%s", stderr.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("err=nil, want one mentioning %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err=%v, want it to mention %q", err, w)
				}
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout=%q, want nothing on failure", stdout.String())
			}
		})
	}
}
