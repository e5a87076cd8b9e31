package asl

import (
	"os"
	"strings"
	"testing"
)

// The examples below reproduce the Step Functions developer guide's pages
// on input and output processing (InputPath, Parameters, ResultSelector,
// ResultPath, OutputPath): their inputs, state fields and outputs.

func TestDataFlowDocExamples(t *testing.T) {
	hello := map[string]Handler{"HelloFunction": constant(`"Hello, AWS Step Functions!"`)}
	helloInput := `{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions"}`
	task := func(fields string) string {
		return `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:HelloFunction"` + fields + `,"End":true}}}`
	}
	pass := func(fields string) string {
		return `{"StartAt":"S","States":{"S":{"Type":"Pass"` + fields + `,"End":true}}}`
	}
	tests := []struct {
		description string
		def         string
		handlers    map[string]Handler
		input       string
		want        string
	}{
		{
			"InputPath selects part of the input",
			pass(`,"InputPath":"$.dataset2"`), nil,
			`{"comment":"Example for InputPath.","dataset1":{"val1":1,"val2":2,"val3":3},"dataset2":{"val1":"a","val2":"b","val3":"c"}}`,
			`{"val1":"a","val2":"b","val3":"c"}`,
		},
		{
			"Parameters with static values and paths",
			pass(`,"Parameters":{"comment":"Selecting what I care about.","MyDetails":{"size.$":"$.product.details.size","exists.$":"$.product.availability","StaticValue":"foo"}}`), nil,
			`{"comment":"Example for Parameters.","product":{"details":{"color":"blue","size":"small","material":"cotton"},"availability":"in stock","sku":"2317","cost":"$23"}}`,
			`{"comment":"Selecting what I care about.","MyDetails":{"size":"small","exists":"in stock","StaticValue":"foo"}}`,
		},
		{
			"ResultPath places the result in the input",
			task(`,"ResultPath":"$.taskresult"`), hello, helloInput,
			`{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions","taskresult":"Hello, AWS Step Functions!"}`,
		},
		{
			"ResultPath $ replaces the input with the result",
			task(`,"ResultPath":"$"`), hello, helloInput,
			`"Hello, AWS Step Functions!"`,
		},
		{
			"ResultPath null discards the result and keeps the input",
			task(`,"ResultPath":null`), hello, helloInput,
			helloInput,
		},
		{
			"ResultPath overwrites an existing field",
			task(`,"ResultPath":"$.details"`), hello, helloInput,
			`{"comment":"This is a test of the input and output of a Task state.","details":"Hello, AWS Step Functions!","who":"AWS Step Functions"}`,
		},
		{
			"InputPath, ResultPath and OutputPath together",
			task(`,"InputPath":"$.lambda","ResultPath":"$.data.lambdaresult","OutputPath":"$.data"`), hello,
			`{"comment":"An input comment.","data":{"val1":23,"val2":17},"extra":"foo","lambda":{"who":"AWS Step Functions"}}`,
			`{"val1":23,"val2":17,"lambdaresult":"Hello, AWS Step Functions!"}`,
		},
		{
			"ResultSelector picks from the task result",
			task(`,"ResultSelector":{"ClusterId.$":"$.output.ClusterId","ResourceType.$":"$.resourceType"},"ResultPath":"$.EMROutput"`),
			map[string]Handler{"HelloFunction": constant(`{"resourceType":"elasticmapreduce","resource":"createCluster.sync","output":{"SdkHttpMetadata":{"HttpHeaders":{"Content-Length":"1112"},"HttpStatusCode":200},"SdkResponseMetadata":{"RequestId":"6b3c93d6"},"ClusterId":"AKIAIOSFODNN7EXAMPLE"}}`)},
			`{"comment":"cluster"}`,
			`{"comment":"cluster","EMROutput":{"ClusterId":"AKIAIOSFODNN7EXAMPLE","ResourceType":"elasticmapreduce"}}`,
		},
		{
			"InputPath null gives {}",
			pass(`,"InputPath":null,"Parameters":{"empty.$":"$"}`), nil, `{"a":1}`, `{"empty":{}}`,
		},
		{
			"OutputPath null gives {}",
			pass(`,"OutputPath":null`), nil, `{"a":1}`, `{}`,
		},
		{
			"Pass Result with ResultPath",
			pass(`,"Result":{"x-datum":0.381018,"y-datum":622.2269926397355},"ResultPath":"$.coords"`), nil,
			`{"georefOf":"Home"}`,
			`{"georefOf":"Home","coords":{"x-datum":0.381018,"y-datum":622.2269926397355}}`,
		},
		{
			"ResultPath applies to the raw input, not the InputPath selection",
			pass(`,"InputPath":"$.a","ResultPath":"$.b"`), nil, `{"a":{"x":1},"c":2}`, `{"a":{"x":1},"c":2,"b":{"x":1}}`,
		},
		{
			"ResultPath creates missing objects",
			pass(`,"Result":1,"ResultPath":"$.a.b.c"`), nil, `{"a":{"z":0}}`, `{"a":{"z":0,"b":{"c":1}}}`,
		},
		{
			"context object",
			pass(`,"Parameters":{"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","input.$":"$$.Execution.Input","start.$":"$$.Execution.StartTime","state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retries.$":"$$.State.RetryCount","sm.$":"$$.StateMachine.Id","smName.$":"$$.StateMachine.Name"}`), nil,
			`{"k":"v"}`,
			`{"id":"arn:aws:states:local:000000000000:execution:test:exec","name":"exec","input":{"k":"v"},"start":"2024-03-01T12:00:00.000Z","state":"S","entered":"2024-03-01T12:00:00.000Z","retries":0,"sm":"arn:aws:states:local:000000000000:stateMachine:test","smName":"test"}`,
		},
		{
			"indefinite paths select lists",
			pass(`,"Parameters":{"all.$":"$.items[*].id","some.$":"$.items[0,2].id","slice.$":"$.items[1:].id","deep.$":"$..id"}`), nil,
			`{"items":[{"id":1},{"id":2},{"id":3}]}`,
			`{"all":[1,2,3],"some":[1,3],"slice":[2,3],"deep":[1,2,3]}`,
		},
		{
			"numbers keep their exact text",
			pass(``), nil, `{"big":12345678901234567890,"dec":0.10}`, `{"big":12345678901234567890,"dec":0.10}`,
		},
		{
			"payload templates reach into arrays",
			pass(`,"Parameters":{"list":[{"v.$":"$.a"},"static"]}`), nil, `{"a":1}`, `{"list":[{"v":1},"static"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			ex, _ := runDef(t, tt.def, tt.handlers, tt.input)
			wantOutput(t, ex, tt.want)
		})
	}
}

// TestDataFlowErrors checks the errors that paths and ResultPath raise,
// and that States.Runtime cannot be caught.
func TestDataFlowErrors(t *testing.T) {
	tests := []struct {
		description string
		def         string
		input       string
		errName     string
		cause       string
	}{
		{
			"InputPath with no match",
			`{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":"$.missing","End":true}}}`, `{}`,
			ErrRuntime, "An error occurred while executing the state 'S' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']",
		},
		{
			"OutputPath with no match",
			`{"StartAt":"S","States":{"S":{"Type":"Pass","OutputPath":"$.a.b","End":true}}}`, `{"a":{}}`,
			ErrRuntime, "Invalid path '$.a.b' : No results for path: $['a']['b']",
		},
		{
			"Parameters path with no match",
			`{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}}}`, `{"a":1}`,
			ErrRuntime, `The JSONPath '$.nope' specified for the field 'x.$' could not be found in the input '{"a":1}'`,
		},
		{
			"ResultPath into a non-object",
			`{"StartAt":"S","States":{"S":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}`, `{"a":"text"}`,
			ErrResultPathMatchFailure, "Unable to apply ResultPath '$.a.b'",
		},
		{
			"States.Runtime is not caught by States.ALL",
			`{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:fn","InputPath":"$.missing","Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`, `{}`,
			ErrRuntime, "Invalid path '$.missing'",
		},
		{
			"Choice Variable missing",
			`{"StartAt":"S","States":{"S":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEquals":"a","Next":"T"}],"Default":"T"},"T":{"Type":"Succeed"}}}`, `{}`,
			ErrRuntime, "Invalid path '$.x': The choice state's condition path references an invalid value.",
		},
		{
			"ItemsPath not an array",
			`{"StartAt":"S","States":{"S":{"Type":"Map","ItemsPath":"$.a","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`, `{"a":{}}`,
			ErrRuntime, "not an array",
		},
		{
			"intrinsic failure",
			`{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"x.$":"States.ArrayGetItem($.a, 5)"},"End":true}}}`, `{"a":[1]}`,
			ErrIntrinsicFailure, "index 5 is out of bounds",
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			ex, _ := runDef(t, tt.def, map[string]Handler{"fn": echo}, tt.input)
			wantFailure(t, ex, tt.errName, tt.cause)
		})
	}
}

func TestPayloadLimit(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxPayloadBytes) + `"`
	tests := []struct {
		description string
		def         string
		errName     string
	}{
		{"task result", `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:big","End":true}}}`, ErrDataLimitExceeded},
		{"not caught by States.ALL", `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:big","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`, ErrDataLimitExceeded},
		{"state output", `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"a.$":"States.Array($.s, $.s)"},"End":true}}}`, ErrDataLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			ex, _ := runDef(t, tt.def, map[string]Handler{"big": constant(big)}, `{"s":"`+strings.Repeat("y", MaxPayloadBytes/2)+`"}`)
			wantFailure(t, ex, tt.errName, "exceeding the maximum number of bytes service limit")
		})
	}
	t.Run("caught by name", func(t *testing.T) {
		def := `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:big","Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"ResultPath":null,"Next":"C"}],"End":true},"C":{"Type":"Succeed"}}}`
		ex, _ := runDef(t, def, map[string]Handler{"big": constant(big)}, `{}`)
		wantOutput(t, ex, `{}`)
	})
}

func TestResultPathDocDefinition(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/resultpath.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := runDef(t, string(def), map[string]Handler{"HelloFunction": constant(`"Hello, AWS Step Functions!"`)}, `{"comment":"c","details":"d","who":"AWS Step Functions"}`)
	wantOutput(t, ex, `{"comment":"c","details":"d","who":"AWS Step Functions","taskresult":"Hello, AWS Step Functions!"}`)
}
