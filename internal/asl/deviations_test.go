package asl

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// The tests in this file pin the behaviours where the interpreter once
// differed from Step Functions (issue 12, deviations 1 to 7), and the
// decisions docs/asl.md records for the cases the documentation leaves
// open. Inputs and expected outputs come from the examples of the Step
// Functions developer guide and the States Language specification where
// they have one.

// passValue runs a Pass state whose Parameters set v to expr and returns
// the execution.
func passValue(t *testing.T, expr, input string) *Execution {
	t.Helper()
	def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"v.$":` + mustJSON(expr) + `},"OutputPath":"$.v","End":true}}}`
	ex, _ := runDef(t, def, nil, input)
	return ex
}

// TestFormatTemplateFromPath is deviation 1: the template of
// States.Format may be a path (the guide's own example).
func TestFormatTemplateFromPath(t *testing.T) {
	input := `{"name":"Arnav","template":"Hello, my name is {}."}`
	for _, expr := range []string{`States.Format('Hello, my name is {}.', $.name)`, `States.Format($.template, $.name)`} {
		t.Run(expr, func(t *testing.T) {
			wantOutput(t, passValue(t, expr, input), `"Hello, my name is Arnav."`)
		})
	}
	t.Run("a template that is not a string", func(t *testing.T) {
		wantFailure(t, passValue(t, `States.Format($.n, 1)`, `{"n":5}`), ErrIntrinsicFailure, "the template (first argument) must be a string, got a number")
	})
}

// TestIntrinsicRounding is deviation 2: non-integer numbers given to
// States.MathAdd, ArrayRange and ArrayPartition are rounded to the nearest
// integer, halves up as Java's Math.round.
func TestIntrinsicRounding(t *testing.T) {
	tests := []struct {
		expr, input, want string
	}{
		{`States.MathAdd($.value1, $.step)`, `{"value1":111,"step":-1}`, `110`}, // the guide's example
		{`States.MathAdd(2.0, 3)`, `{}`, `5`},
		{`States.MathAdd($.a, $.b)`, `{"a":1.5,"b":1.2}`, `3`},
		{`States.MathAdd(-1.5, 0)`, `{}`, `-1`},
		{`States.MathAdd(1e2, 0)`, `{}`, `100`},
		{`States.ArrayRange(1, 9, 2)`, `{}`, `[1,3,5,7,9]`}, // the guide's example
		{`States.ArrayRange(1.0, 9.4, 2.0)`, `{}`, `[1,3,5,7,9]`},
		{`States.ArrayRange(0.5, 2.5, 1)`, `{}`, `[1,2,3]`},
		{`States.ArrayPartition($.inputArray, 4)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `[[1,2,3,4],[5,6,7,8],[9]]`}, // the guide's example
		{`States.ArrayPartition($.inputArray, 4.0)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `[[1,2,3,4],[5,6,7,8],[9]]`},
		{`States.ArrayPartition($.inputArray, 3.5)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `[[1,2,3,4],[5,6,7,8],[9]]`},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.input, func(t *testing.T) {
			wantOutput(t, passValue(t, tt.expr, tt.input), tt.want)
		})
	}
	t.Run("a string is still refused", func(t *testing.T) {
		wantFailure(t, passValue(t, `States.MathAdd('1', 2)`, `{}`), ErrIntrinsicFailure, "argument 1 must be a number, got a string")
	})
	t.Run("a step that rounds to 0 is refused", func(t *testing.T) {
		wantFailure(t, passValue(t, `States.ArrayRange(1, 3, 0.4)`, `{}`), ErrIntrinsicFailure, "the step must not be 0")
	})
}

// TestTaskFailedMatchesAnyError is deviation 3: States.TaskFailed matches
// every error but States.Timeout, whatever state raised it.
func TestTaskFailedMatchesAnyError(t *testing.T) {
	parallel := func(fail string) string {
		return `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
			{"StartAt":"Boom","States":{"Boom":` + fail + `}}],
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.error","Next":"Handled"}],"End":true},
			"Handled":{"Type":"Pass","End":true}}}`
	}
	t.Run("a Parallel whose branch fails with a custom error", func(t *testing.T) {
		ex, _ := runDef(t, parallel(`{"Type":"Fail","Error":"CustomError","Cause":"boom"}`), nil, `{"in":1}`)
		wantOutput(t, ex, `{"in":1,"error":{"Error":"CustomError","Cause":"boom"}}`)
	})
	t.Run("a Map item that fails with States.NoChoiceMatched", func(t *testing.T) {
		def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"C","States":{
			"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":1,"Next":"D"}]},"D":{"Type":"Succeed"}}},
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.error","Next":"Handled"}],"End":true},
			"Handled":{"Type":"Pass","End":true}}}`
		ex, _ := runDef(t, def, nil, `{"items":[1,2]}`)
		wantOutput(t, ex, `{"items":[1,2],"error":{"Error":"States.NoChoiceMatched","Cause":"No Matches! in state 'C'"}}`)
	})
	t.Run("but not States.Timeout", func(t *testing.T) {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","TimeoutSeconds":1,
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Handled"}],"End":true},"Handled":{"Type":"Pass","End":true}}}`
		var clock *FakeClock
		m, clock := testMachine(t, def, map[string]Handler{"slow": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			clock.Advance(2e9)
			return json.RawMessage(`{}`), nil
		}})
		ex, _ := runMachine(t, m, `{}`)
		wantFailure(t, ex, ErrTimeout, "TimeoutSeconds")
	})
	t.Run("nor the terminal States.DataLimitExceeded", func(t *testing.T) {
		big := `"` + strings.Repeat("x", MaxPayloadBytes) + `"`
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:big",
			"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Handled"}],"End":true},"Handled":{"Type":"Pass","End":true}}}`
		ex, _ := runDef(t, def, map[string]Handler{"big": constant(big)}, `{}`)
		wantFailure(t, ex, ErrDataLimitExceeded, "size exceeding")
	})
}

// TestResultPathIndexes is deviation 4: a ResultPath may index arrays,
// as in the specification's reference path examples.
func TestResultPathIndexes(t *testing.T) {
	tests := []struct {
		description, resultPath, input, want string
	}{
		{"an element of an array", `$.a[0]`, `{"a":[1,2],"b":3}`, `{"a":["R",2],"b":3}`},
		{"the last element", `$.a[-1]`, `{"a":[1,2]}`, `{"a":[1,"R"]}`},
		{"the specification's $['store'][0]['book']", `$['store'][0]['book']`, `{"store":[{"book":1,"pen":2}]}`, `{"store":[{"book":"R","pen":2}]}`},
		{"a new field in an element", `$.ledgers.branch[0].pending.count`, `{"ledgers":{"branch":[{"id":7}]}}`, `{"ledgers":{"branch":[{"id":7,"pending":{"count":"R"}}]}}`},
		{"nested arrays", `$.m[1][0]`, `{"m":[[1],[2,3]]}`, `{"m":[[1],["R",3]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":"R","ResultPath":` + mustJSON(tt.resultPath) + `,"End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			wantExactOutput(t, ex, tt.want)
		})
	}
	for _, tt := range []struct{ resultPath, input, cause string }{
		{`$.a[2]`, `{"a":[1,2]}`, "index [2] is out of bounds for an array of 2 elements"},
		{`$.a[0]`, `{"b":1}`, `field "a" does not exist, so it has no element [0]`},
		{`$.a[0]`, `{"a":{"0":1}}`, "cannot set element [0] of an object"},
	} {
		t.Run("fails: "+tt.resultPath+" on "+tt.input, func(t *testing.T) {
			def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":"R","ResultPath":` + mustJSON(tt.resultPath) + `,"End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			wantFailure(t, ex, ErrResultPathMatchFailure, tt.cause)
		})
	}
}

// TestFormatObjects is deviation 5: States.Format renders objects and
// arrays in Java's notation, as Step Functions does.
func TestFormatObjects(t *testing.T) {
	tests := []struct {
		input, want string
	}{
		{`{"v":{"a":1,"b":[1,2]}}`, `"x={a=1, b=[1, 2]}"`},
		{`{"v":{"b":"text","a":null,"c":{"d":true}}}`, `"x={b=text, a=null, c={d=true}}"`},
		{`{"v":["s",1.50,[],{}]}`, `"x=[s, 1.50, [], {}]"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			wantOutput(t, passValue(t, `States.Format('x={}', $.v)`, tt.input), tt.want)
		})
	}
}

// TestPathFilters is deviation 6: JSONPath filter expressions.
func TestPathFilters(t *testing.T) {
	store := `{"store":{"book":[
		{"category":"reference","author":"Nigel Rees","title":"Sayings of the Century","price":8.95},
		{"category":"fiction","author":"Evelyn Waugh","title":"Sword of Honour","price":12.99},
		{"category":"fiction","author":"Herman Melville","title":"Moby Dick","isbn":"0-553-21311-3","price":8.99},
		{"category":"fiction","author":"J. R. R. Tolkien","title":"The Lord of the Rings","isbn":"0-395-19395-8","price":22.99}],
		"bicycle":{"color":"red","price":19.95}},"expensive":10}`
	tests := []struct {
		path, input, want string
	}{
		{`$.a[?(@.k > 1)]`, `{"a":[{"k":1},{"k":2},{"k":3},{"j":9}]}`, `[{"k":2},{"k":3}]`},
		{`$.store.book[?(@.isbn)].title`, store, `["Moby Dick","The Lord of the Rings"]`},
		{`$.store.book[?(@.price < 10)].title`, store, `["Sayings of the Century","Moby Dick"]`},
		{`$.store.book[?(@.price <= $['expensive'])].price`, store, `[8.95,8.99]`},
		{`$.store.book[?(@.category == 'fiction' && @.price > 20)].author`, store, `["J. R. R. Tolkien"]`},
		{`$.store.book[?(@.category != 'fiction' || @.price == 8.99)].title`, store, `["Sayings of the Century","Moby Dick"]`},
		{`$.store.book[?(!(@.price > 10))].price`, store, `[8.95,8.99]`},
		{`$.store.book[?(@.author =~ /.*REES/i)].author`, store, `["Nigel Rees"]`},
		{`$.store.book[?(@.title in ['Moby Dick', 'Sword of Honour'])].price`, store, `[12.99,8.99]`},
		{`$.store.book[?(@.title nin ['Moby Dick', 'Sword of Honour'])].price`, store, `[8.95,22.99]`},
		{`$..book[?(@.price > 20)].title`, store, `["The Lord of the Rings"]`},
		{`$.store[?(@.bicycle.color == "red")].bicycle.price`, store, `[19.95]`},
		{`$.a[?(@ > 1)]`, `{"a":[1,2,3,"4"]}`, `[2,3]`},
		{`$.a[?(@.k == null)]`, `{"a":[{"k":null},{"k":0},{}]}`, `[{"k":null}]`},
		{`$.a[?(@.k)]`, `{"a":[{"k":false},{"j":1}]}`, `[{"k":false}]`},
		{`$.a[?(@['x y'] == 'z')].n`, `{"a":[{"x y":"z","n":1},{"x y":"w","n":2}]}`, `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			def := `{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":` + mustJSON(tt.path) + `,"End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			wantExactOutput(t, ex, tt.want)
		})
	}
}

// TestKeyOrder is deviation 7: object members keep their document order
// in inputs, outputs, Parameters (also the order in which its fields are
// evaluated), intrinsics, wildcards and ResultPath.
func TestKeyOrder(t *testing.T) {
	t.Run("the input reaches the output unchanged", func(t *testing.T) {
		in := `{"zeta":1,"alpha":{"y":2,"x":[{"b":1,"a":2}]},"mid":"m"}`
		ex, _ := runDef(t, `{"StartAt":"S","States":{"S":{"Type":"Pass","End":true}}}`, nil, in)
		wantExactOutput(t, ex, in)
		if string(ex.Input) != in {
			t.Fatalf("execution input=%s, want %s", ex.Input, in)
		}
	})
	t.Run("the specification's Payload Template example", func(t *testing.T) {
		def := `{"StartAt":"X","States":{"X":{"Type":"Pass","Parameters":{"flagged":true,"parts":{"first.$":"$.vals[0]","last3.$":"$.vals[-3:]"},
			"weekday.$":"$.DayOfWeek","formattedOutput.$":"States.Format('Today is {}', $.DayOfWeek)"},"End":true}}}`
		ex, _ := runDef(t, def, nil, `{"flagged":7,"vals":[0,10,20,30,40,50],"DayOfWeek":"TUESDAY"}`)
		wantExactOutput(t, ex, `{"flagged":true,"parts":{"first":0,"last3":[30,40,50]},"weekday":"TUESDAY","formattedOutput":"Today is TUESDAY"}`)
	})
	t.Run("Parameters fields are evaluated in document order", func(t *testing.T) {
		def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"zz.$":"$.missingZ","aa.$":"$.missingA"},"End":true}}}`
		ex, _ := runDef(t, def, nil, `{}`)
		wantFailure(t, ex, ErrRuntime, "The JSONPath '$.missingZ' specified for the field 'zz.$'")
	})
	t.Run("States.JsonToString, the specification's example", func(t *testing.T) {
		ex := passValue(t, `States.JsonToString($.someJson)`, `{"someJson":{"name":"Foo","year":2020},"zebra":"stripe"}`)
		wantExactOutput(t, ex, `"{\"name\":\"Foo\",\"year\":2020}"`)
		ex = passValue(t, `States.JsonToString($.o)`, `{"o":{"year":2020,"name":"Foo"}}`)
		wantExactOutput(t, ex, `"{\"year\":2020,\"name\":\"Foo\"}"`)
	})
	t.Run("States.JsonMerge, the specification's example", func(t *testing.T) {
		ex := passValue(t, `States.JsonMerge($.json1, $.json2, false)`, `{"json1":{"a":{"a1":1,"a2":2},"b":2},"json2":{"a":{"a3":1,"a4":2},"c":3}}`)
		wantExactOutput(t, ex, `{"a":{"a3":1,"a4":2},"b":2,"c":3}`)
		ex = passValue(t, `States.JsonMerge($.x, $.y, false)`, `{"x":{"z":1,"b":2},"y":{"c":3,"z":4}}`)
		wantExactOutput(t, ex, `{"z":4,"b":2,"c":3}`)
	})
	t.Run("wildcards visit members in document order", func(t *testing.T) {
		def := `{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":"$.o.*","End":true}}}`
		ex, _ := runDef(t, def, nil, `{"o":{"z":1,"a":2,"m":3}}`)
		wantExactOutput(t, ex, `[1,2,3]`)
		def = `{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":"$..id","End":true}}}`
		ex, _ = runDef(t, def, nil, `{"z":{"id":1},"a":{"id":2,"k":{"id":3}}}`)
		wantExactOutput(t, ex, `[1,2,3]`)
	})
	t.Run("ResultPath replaces a field in place and appends a new one", func(t *testing.T) {
		def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":9,"ResultPath":"$.b","Next":"T"},"T":{"Type":"Pass","Result":8,"ResultPath":"$.new","End":true}}}`
		ex, _ := runDef(t, def, nil, `{"c":1,"b":2,"a":3}`)
		wantExactOutput(t, ex, `{"c":1,"b":9,"a":3,"new":8}`)
	})
	t.Run("a task gets its input in document order", func(t *testing.T) {
		var mu sync.Mutex
		var got []string
		rec := func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			got = append(got, string(in))
			mu.Unlock()
			return json.RawMessage(`{"y":1,"x":2}`), nil
		}
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:rec",
			"Parameters":{"second.$":"$.b","first.$":"$.a"},"ResultSelector":{"yy.$":"$.y","xx.$":"$.x"},"ResultPath":"$.r","End":true}}}`
		ex, _ := runDef(t, def, map[string]Handler{"rec": rec}, `{"b":2,"a":1}`)
		wantExactOutput(t, ex, `{"b":2,"a":1,"r":{"yy":1,"xx":2}}`)
		if len(got) != 1 || got[0] != `{"second":2,"first":1}` {
			t.Fatalf("task input=%v, want [{\"second\":2,\"first\":1}]", got)
		}
	})
}

// TestUnclearCases pins the decisions docs/asl.md records for what the
// documentation leaves open.
func TestUnclearCases(t *testing.T) {
	t.Run("Base64Decode is MIME-lenient", func(t *testing.T) {
		for _, in := range []string{"RGF0YSB0byBlbmNvZGU=", "RGF0YSB0\r\nbyBlbmNvZGU=", "RGF0YSB0byBlbmNvZGU", "RGF0YSB0byBl bmNvZGU=trailing"} {
			wantOutput(t, passValue(t, `States.Base64Decode($.b)`, `{"b":`+mustJSON(in)+`}`), `"Data to encode"`)
		}
		wantFailure(t, passValue(t, `States.Base64Decode('RGF0Y')`, `{}`), ErrIntrinsicFailure, "not Base64")
	})
	t.Run("Base64 functions take at most 10,000 characters", func(t *testing.T) {
		long := `{"s":"` + strings.Repeat("A", 10001) + `"}`
		wantFailure(t, passValue(t, `States.Base64Encode($.s)`, long), ErrIntrinsicFailure, "more than 10000 characters")
		wantFailure(t, passValue(t, `States.Base64Decode($.s)`, long), ErrIntrinsicFailure, "more than 10000 characters")
	})
	t.Run("StringToJson of an empty string is null", func(t *testing.T) {
		wantExactOutput(t, passValue(t, `States.StringToJson('')`, `{}`), `null`)
		wantExactOutput(t, passValue(t, `States.StringToJson($.s)`, `{"s":"  "}`), `null`)
		wantFailure(t, passValue(t, `States.StringToJson('{')`, `{}`), ErrIntrinsicFailure, "States.StringToJson")
	})
	t.Run("Is* operators other than IsPresent fail on a missing variable", func(t *testing.T) {
		for _, op := range []string{"IsNull", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp"} {
			def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.missing","` + op + `":false,"Next":"D"}],"Default":"D"},"D":{"Type":"Succeed"}}}`
			ex, _ := runDef(t, def, nil, `{}`)
			wantFailure(t, ex, ErrRuntime, "Invalid path '$.missing'")
		}
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.missing","IsPresent":false,"Next":"D"}]},"D":{"Type":"Succeed"}}}`
		ex, _ := runDef(t, def, nil, `{}`)
		wantOutput(t, ex, `{}`)
	})
}
