package asl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRejects(t *testing.T) {
	task := `"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:fn"`
	tests := []struct {
		description string
		def         string
		want        string
	}{
		{"not JSON", `{`, "not valid JSON"},
		{"missing StartAt", `{"States":{"A":{"Type":"Succeed"}}}`, `missing required field "StartAt"`},
		{"StartAt not a state", `{"StartAt":"B","States":{"A":{"Type":"Succeed"}}}`, `StartAt "B" is not a state`},
		{"missing States", `{"StartAt":"A"}`, `missing required field "States"`},
		{"unknown Next", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, `transition to "B", which is not a state`},
		{"unreachable state", `{"StartAt":"A","States":{"A":{"Type":"Succeed"},"B":{"Type":"Succeed"}}}`, `state "B" is not reachable`},
		{"neither Next nor End", `{"StartAt":"A","States":{"A":{"Type":"Pass"}}}`, `must have Next or "End": true`},
		{"both Next and End", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A","End":true}}}`, "has both Next and End"},
		{"End on Succeed", `{"StartAt":"A","States":{"A":{"Type":"Succeed","End":true}}}`, `field "End" is not valid here`},
		{"Next on Choice", `{"StartAt":"A","States":{"A":{"Type":"Choice","Next":"A","Choices":[{"Variable":"$.x","IsNull":true,"Next":"A"}]}}}`, `field "Next" is not valid here`},
		{"Choice without Choices", `{"StartAt":"A","States":{"A":{"Type":"Choice","Default":"B"},"B":{"Type":"Succeed"}}}`, "Choices must be a non-empty array"},
		{"Choice rule with two operators", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsNull":true,"IsString":true,"Next":"B"}]},"B":{"Type":"Succeed"}}}`, "exactly one operator"},
		{"nested rule with Next", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.x","IsNull":true,"Next":"B"},"Next":"B"}]},"B":{"Type":"Succeed"}}}`, "Next is only allowed in top-level"},
		{"wrong comparison value type", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":"1","Next":"B"}]},"B":{"Type":"Succeed"}}}`, "NumericEquals needs a number value"},
		{"ResultPath on Fail", `{"StartAt":"A","States":{"A":{"Type":"Fail","ResultPath":"$.x"}}}`, `field "ResultPath" is not valid here`},
		{"InputPath on Fail", `{"StartAt":"A","States":{"A":{"Type":"Fail","InputPath":"$.x"}}}`, `field "InputPath" is not valid here`},
		{"ResultSelector on Pass", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultSelector":{},"End":true}}}`, `field "ResultSelector" is not valid here`},
		{"unknown state type", `{"StartAt":"A","States":{"A":{"Type":"Sleep","End":true}}}`, `unknown Type "Sleep"`},
		{"unknown field", `{"StartAt":"A","States":{"A":{"Type":"Pass","Foo":1,"End":true}}}`, `field "Foo" is not valid here`},
		{"Assign not implemented", `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"End":true}}}`, `field "Assign" is not implemented`},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, "JSONata is not implemented"},
		{"bad path", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"x","End":true}}}`, "must start with $"},
		{"script path", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.a[(@.length-1)]","End":true}}}`, "script expressions [(...)] are not implemented"},
		{"bad filter", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"$.a[?(@.b >)]","End":true}}}`, "filter expression"},
		{"ResultPath not a reference path", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`, "must be a reference path"},
		{"ResultPath with a filter", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.a[?(@.b)]","End":true}}}`, "must be a reference path"},
		{"bad Parameters path", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"x"},"End":true}}}`, "must be a JSONPath or an intrinsic"},
		{"unknown intrinsic", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope(1)"},"End":true}}}`, `unknown function "States.Nope"`},
		{"intrinsic arity", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.MathAdd(1)"},"End":true}}}`, "States.MathAdd takes 2 arguments"},
		{"Retry not an array", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":{},"End":true}}}`, "Retry must be an array"},
		{"MaxAttempts negative", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":-1}],"End":true}}}`, `field "MaxAttempts" must be an integer`},
		{"BackoffRate below 1", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"],"BackoffRate":0.5}],"End":true}}}`, `field "BackoffRate" must be a number from 1`},
		{"IntervalSeconds string", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":"1"}],"End":true}}}`, `field "IntervalSeconds" must be an integer`},
		{"bad JitterStrategy", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"],"JitterStrategy":"HALF"}],"End":true}}}`, "JitterStrategy must be FULL or NONE"},
		{"empty ErrorEquals", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":[]}],"End":true}}}`, "ErrorEquals must be a non-empty array"},
		{"States.ALL not alone", `{"StartAt":"A","States":{"A":{` + task + `,"Catch":[{"ErrorEquals":["States.ALL","X"],"Next":"A"}],"End":true}}}`, "States.ALL must appear alone"},
		{"States.ALL not last", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],"End":true}}}`, "States.ALL must appear alone"},
		{"unknown States error", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.Nope"]}],"End":true}}}`, `"States.Nope" is not a Step Functions error name`},
		{"Catch without Next", `{"StartAt":"A","States":{"A":{` + task + `,"Catch":[{"ErrorEquals":["X"]}],"End":true}}}`, `missing required field "Next"`},
		{"Catch to unknown state", `{"StartAt":"A","States":{"A":{` + task + `,"Catch":[{"ErrorEquals":["X"],"Next":"Nope"}],"End":true}}}`, `transition to "Nope"`},
		{"HeartbeatSeconds not below TimeoutSeconds", `{"StartAt":"A","States":{"A":{` + task + `,"TimeoutSeconds":5,"HeartbeatSeconds":5,"End":true}}}`, "HeartbeatSeconds must be smaller"},
		{"no handler", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:missing","End":true}}}`, `no handler is registered for Lambda function "missing"`},
		{"other service integration", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`, "is not implemented by the local interpreter"},
		{"Resource not an ARN", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"fn","End":true}}}`, "is not a Lambda function ARN"},
		{"lambda:invoke without FunctionName", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"Payload.$":"$"},"End":true}}}`, "needs Parameters.FunctionName"},
		{"lambda:invoke unsupported parameter", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"fn","InvocationType":"Event"},"End":true}}}`, `"InvocationType" of lambda:invoke is not implemented`},
		{"Wait with two durations", `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`, "exactly one of Seconds"},
		{"Wait bad Timestamp", `{"StartAt":"A","States":{"A":{"Type":"Wait","Timestamp":"yesterday","End":true}}}`, "is not an RFC 3339 timestamp"},
		{"Parallel without Branches", `{"StartAt":"A","States":{"A":{"Type":"Parallel","End":true}}}`, "Branches must be a non-empty array"},
		{"branch Next outside the branch", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","Next":"A"}}}],"End":true}}}`, `transition to "A", which is not a state in state "A" Branches[0]`},
		{"duplicate state names", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}],"End":true}}}`, `state name "A" is used more than once`},
		{"Map without ItemProcessor", `{"StartAt":"A","States":{"A":{"Type":"Map","End":true}}}`, "needs ItemProcessor"},
		{"Distributed Map", `{"StartAt":"A","States":{"A":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"B","States":{"B":{"Type":"Succeed"}}},"End":true}}}`, "Distributed Map is not implemented"},
		{"ItemReader", `{"StartAt":"A","States":{"A":{"Type":"Map","ItemReader":{},"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}},"End":true}}}`, `field "ItemReader" is not implemented`},
		{"ItemSelector and Parameters", `{"StartAt":"A","States":{"A":{"Type":"Map","ItemSelector":{},"Parameters":{},"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}},"End":true}}}`, "mutually exclusive"},
		{"ProcessorConfig in a Parallel branch", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"ProcessorConfig":{},"StartAt":"B","States":{"B":{"Type":"Succeed"}}}],"End":true}}}`, `field "ProcessorConfig" is not valid here`},
		{"ToleratedFailurePercentage above 100", `{"StartAt":"A","States":{"A":{"Type":"Map","ToleratedFailurePercentage":101,"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Succeed"}}},"End":true}}}`, "must be a number from 0 to 100"},
		{"Fail Error and ErrorPath", `{"StartAt":"A","States":{"A":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}`, "Error and ErrorPath are mutually exclusive"},
	}
	handlers := map[string]Handler{"fn": echo}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			_, err := Load([]byte(tt.def), Options{Handlers: handlers})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load error = %v, want a *LoadError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v\nwant it to mention %q", err, tt.want)
			}
		})
	}
}

// TestLoadValid loads every definition in testdata/valid (which
// scripts/check-asl.sh also runs through asl-validator).
func TestLoadValid(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.asl.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/valid definitions: %v", err)
	}
	handlers := map[string]Handler{}
	for _, f := range []string{"HelloFunction", "Echo", "Fails", "Ingest"} {
		handlers[f] = echo
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(def, Options{Handlers: handlers}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		description string
		def         string
		subs        map[string]string
		want        string
		wantErr     string
	}{
		{"replaces", `{"R":"${FnArn}","S":"${FnArn}"}`, map[string]string{"FnArn": "arn:x"}, `{"R":"arn:x","S":"arn:x"}`, ""},
		{"escape stays literal", `{"R":"${!Literal}"}`, nil, `{"R":"${Literal}"}`, ""},
		{"unknown placeholder", `{"R":"${Missing}"}`, map[string]string{}, "", "placeholder ${Missing} has no substitution"},
		{"unused substitution", `{"R":"x"}`, map[string]string{"Extra": "y"}, "", `substitution "Extra" is not used`},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			got, err := Substitute(tt.def, tt.subs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err=%v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoadBindsHandlers(t *testing.T) {
	tests := []struct {
		description string
		resource    string
		params      string
	}{
		{"function ARN", "arn:aws:lambda:us-east-1:123456789012:function:fn", ""},
		{"function ARN with alias", "arn:aws:lambda:us-east-1:123456789012:function:fn:live", ""},
		{"lambda:invoke by name", "arn:aws:states:::lambda:invoke", `,"Parameters":{"FunctionName":"fn","Payload.$":"$"}`},
		{"lambda:invoke by ARN", "arn:aws:states:::lambda:invoke", `,"Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST","Payload.$":"$"}`},
		{"lambda:invoke by partial ARN", "arn:aws:states:::lambda:invoke", `,"Parameters":{"FunctionName":"123456789012:function:fn","Payload.$":"$"}`},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			def := `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"` + tt.resource + `"` + tt.params + `,"End":true}}}`
			if _, err := Load([]byte(def), Options{Handlers: map[string]Handler{"fn": echo}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoadRejectsInvalidTestdata loads the definitions that
// scripts/check-asl.sh shows asl-validator rejecting: the interpreter
// refuses them too.
func TestLoadRejectsInvalidTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.asl.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/invalid definitions: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var le *LoadError
			if _, err := Load(def, Options{Handlers: map[string]Handler{"Echo": echo}}); !errors.As(err, &le) {
				t.Fatalf("Load error = %v, want a *LoadError", err)
			}
		})
	}
}
