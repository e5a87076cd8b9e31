package asl

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestMapDocExample(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/map.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	input := `{"ship-date":"2016-03-14T01:59:00Z","detail":{"delivery-partner":"UQS","shipped":[
		{"prod":"R31","dest-code":9511,"quantity":1344},
		{"prod":"S39","dest-code":9511,"quantity":40},
		{"prod":"R31","dest-code":9833,"quantity":12}]}}`
	ex, _ := runDef(t, string(def), map[string]Handler{"Echo": echo}, input)
	wantOutput(t, ex, `{"ship-date":"2016-03-14T01:59:00Z","detail":{"delivery-partner":"UQS","shipped":[
		{"parcel":{"prod":"R31","dest-code":9511,"quantity":1344},"index":0,"courier":"UQS"},
		{"parcel":{"prod":"S39","dest-code":9511,"quantity":40},"index":1,"courier":"UQS"},
		{"parcel":{"prod":"R31","dest-code":9833,"quantity":12},"index":2,"courier":"UQS"}]}}`)
}

func TestMap(t *testing.T) {
	proc := `"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`
	tests := []struct {
		description string
		fields      string
		input       string
		want        string
	}{
		{"context index and value (the guide's example)", `"ItemSelector":{"ContextIndex.$":"$$.Map.Item.Index","ContextValue.$":"$$.Map.Item.Value"},` + proc,
			`[{"who":"bob"},{"who":"meg"},{"who":"joe"}]`,
			`[{"ContextIndex":0,"ContextValue":{"who":"bob"}},{"ContextIndex":1,"ContextValue":{"who":"meg"}},{"ContextIndex":2,"ContextValue":{"who":"joe"}}]`},
		{"legacy Iterator and Parameters", `"Parameters":{"v.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`,
			`[1,2]`, `[{"v":1},{"v":2}]`},
		{"empty array", proc, `[]`, `[]`},
		{"ResultSelector and OutputPath", `"ItemsPath":"$.items",` + proc + `,"ResultSelector":{"n.$":"States.ArrayLength($)"},"ResultPath":"$.count","OutputPath":"$.count"`,
			`{"items":[1,2,3]}`, `{"n":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map",` + tt.fields + `,"End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			wantOutput(t, ex, tt.want)
		})
	}
}

// TestMapConcurrency checks that at most MaxConcurrency iterations run at
// once and that results keep item order whatever order they finish in.
func TestMapConcurrency(t *testing.T) {
	for _, limit := range []int{0, 1, 3} {
		t.Run("MaxConcurrency "+strconv.Itoa(limit), func(t *testing.T) {
			var running, peak atomic.Int32
			slow := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				var i int
				_ = json.Unmarshal(in, &i)
				time.Sleep(time.Duration(10-i) * time.Millisecond) // later items finish first
				return json.RawMessage(strconv.Itoa(i * 10)), nil
			}
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":` + strconv.Itoa(limit) + `,"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","End":true}}},"End":true}}}`
			m, err := Load([]byte(def), Options{Handlers: map[string]Handler{"slow": slow}})
			if err != nil {
				t.Fatal(err)
			}
			ex, _ := runMachine(t, m, `[0,1,2,3,4,5,6,7,8,9]`)
			wantOutput(t, ex, `[0,10,20,30,40,50,60,70,80,90]`)
			p := int(peak.Load())
			if limit > 0 && p > limit {
				t.Fatalf("peak concurrency %d, want at most %d", p, limit)
			}
			if limit == 0 && p < 2 {
				t.Fatalf("peak concurrency %d with no limit, want several at once", p)
			}
		})
	}
}

func TestMapFailures(t *testing.T) {
	// Items that are strings fail; numbers succeed.
	check := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		if in[0] == '"' {
			return nil, &SourceUnavailableError{Host: string(in)}
		}
		return in, nil
	}
	tests := []struct {
		description string
		fields      string
		input       string
		wantOut     string
		wantErr     string
	}{
		{"any failure fails the Map with the item's error", ``, `[1,"a",3]`, "", "SourceUnavailableError"},
		{"within ToleratedFailureCount", `,"ToleratedFailureCount":1`, `[1,"a",3]`,
			`[1,{"Error":"SourceUnavailableError","Cause":"{\"errorMessage\":\"source \\\"a\\\" is unavailable\",\"errorType\":\"SourceUnavailableError\"}"},3]`, ""},
		{"beyond ToleratedFailureCount", `,"ToleratedFailureCount":1`, `[1,"a","b"]`, "", ErrExceedToleratedFailures},
		{"within ToleratedFailurePercentage", `,"ToleratedFailurePercentage":50`, `[1,"a",3,4]`, "", ""},
		{"beyond ToleratedFailurePercentage", `,"ToleratedFailurePercentage":50`, `[1,"a","b","c"]`, "", ErrExceedToleratedFailures},
		{"ToleratedFailurePercentage 0 tolerates none", `,"ToleratedFailurePercentage":0`, `[1,"a"]`, "", ErrExceedToleratedFailures},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1` + tt.fields + `,"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:check","End":true}}},"End":true}}}`
			ex, events := runDef(t, def, map[string]Handler{"check": check}, tt.input)
			switch {
			case tt.wantErr != "":
				wantFailure(t, ex, tt.wantErr, "")
				if types := eventTypes(events); types[len(types)-2] != "MapStateFailed" {
					t.Fatalf("events %v, want MapStateFailed before ExecutionFailed", types)
				}
			case tt.wantOut != "":
				wantOutput(t, ex, tt.wantOut)
			default:
				if ex.Status != StatusSucceeded {
					t.Fatalf("status=%s %s, want SUCCEEDED", ex.Status, ex.Error)
				}
			}
		})
	}
}

func TestParallel(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/parallel-wait.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	m, clock := testMachine(t, string(def), nil)
	ex, _ := runMachine(t, m, `{"delay":5,"until":"2024-03-01T12:02:00Z"}`)
	wantOutput(t, ex, `{"delay":5,"until":"2024-03-01T12:02:00Z"}`)
	// The fake clock adds up every Sleep: 10s + 5s in one branch; the
	// other waits until 12:01 and 12:02, from whatever the clock says then.
	if got := clock.Now(); got.Before(t0.Add(2 * time.Minute)) {
		t.Fatalf("clock at %v, want at least 12:02", got)
	}
}

func TestParallelBranchFailure(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
		{"StartAt":"Slow","States":{"Slow":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:block","End":true}}},
		{"StartAt":"Boom","States":{"Boom":{"Type":"Fail","Error":"BranchError","Cause":"boom"}}}],
		"Catch":[{"ErrorEquals":["BranchError"],"ResultPath":"$.error","Next":"Handled"}],"End":true},
		"Handled":{"Type":"Pass","End":true}}}`
	block := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done() // stopped when the other branch fails
		return nil, ctx.Err()
	}
	ex, _ := runDef(t, def, map[string]Handler{"block": block}, `{"in":1}`)
	wantOutput(t, ex, `{"in":1,"error":{"Error":"BranchError","Cause":"boom"}}`)
}
