package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden execution histories in testdata/golden")

// TestGoldenHistories runs the testdata definitions and compares their
// histories, event by event, with testdata/golden/<name>.history.json.
func TestGoldenHistories(t *testing.T) {
	fails := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, &SourceUnavailableError{Host: "db"}
	}
	tests := []struct {
		name     string
		input    string
		handlers map[string]Handler
	}{
		{"resultpath", `{"comment":"c","details":"d","who":"AWS Step Functions"}`, map[string]Handler{"HelloFunction": constant(`"Hello, AWS Step Functions!"`)}},
		{"choice", `{"type":"Private","value":22}`, nil},
		{"map", `{"detail":{"delivery-partner":"UQS","shipped":[{"prod":"R31"},{"prod":"S39"}]}}`, map[string]Handler{"Echo": echo}},
		{"retry-catch", `{"table":"orders"}`, map[string]Handler{"Fails": fails}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := os.ReadFile(filepath.Join("testdata/valid", tt.name+".asl.json"))
			if err != nil {
				t.Fatal(err)
			}
			_, events := runDef(t, string(def), tt.handlers, tt.input)
			got, err := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/golden", tt.name+".history.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenHistories -update to create it)", err)
			}
			gotLines := strings.Split(string(got), "\n")
			wantLines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			for i := range min(len(gotLines), len(wantLines)) {
				if gotLines[i] != wantLines[i] {
					t.Fatalf("%s line %d:\ngot  %s\nwant %s", golden, i+1, gotLines[i], wantLines[i])
				}
			}
			if len(gotLines) != len(wantLines) {
				t.Fatalf("%s: got %d lines, want %d", golden, len(gotLines), len(wantLines))
			}
		})
	}
}

// TestEventJSONRoundTrip checks that events read back as written.
func TestEventJSONRoundTrip(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/map.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	_, events := runDef(t, string(def), map[string]Handler{"Echo": echo}, `{"detail":{"delivery-partner":"UQS","shipped":[1,2]}}`)
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	var back []Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the events:\n%s\n%s", b, b2)
	}
}
