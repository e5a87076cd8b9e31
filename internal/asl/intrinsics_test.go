package asl

import (
	"regexp"
	"testing"
)

// TestIntrinsics reproduces the examples of the developer guide's page on
// intrinsic functions.
func TestIntrinsics(t *testing.T) {
	tests := []struct {
		expr  string
		input string
		want  string
	}{
		{`States.Format('Hello, my name is {}.', $.name)`, `{"name":"Arnav"}`, `"Hello, my name is Arnav."`},
		{`States.Format('{} {} {} {}', $.s, $.n, $.b, $.z)`, `{"s":"a","n":1.5,"b":true,"z":null}`, `"a 1.5 true null"`},
		{`States.Format('escaped \{\} and \' quote {}', 'x')`, `{}`, `"escaped {} and ' quote x"`},
		{`States.StringToJson($.someString)`, `{"someString":"{\"number\": 20}"}`, `{"number":20}`},
		{`States.JsonToString($.someJson)`, `{"someJson":{"name":"Foo","year":2020}}`, `"{\"name\":\"Foo\",\"year\":2020}"`},
		{`States.Array($.Id)`, `{"Id":123456}`, `[123456]`},
		{`States.Array('a', 1, true, null)`, `{}`, `["a",1,true,null]`},
		{`States.ArrayPartition($.inputArray, 4)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `[[1,2,3,4],[5,6,7,8],[9]]`},
		{`States.ArrayContains($.inputArray, $.lookingFor)`, `{"inputArray":[1,2,3,4,5,6,7,8,9],"lookingFor":5}`, `true`},
		{`States.ArrayContains($.inputArray, 10)`, `{"inputArray":[1,2,3]}`, `false`},
		{`States.ArrayRange(1, 9, 2)`, `{}`, `[1,3,5,7,9]`},
		{`States.ArrayGetItem($.inputArray, $.index)`, `{"inputArray":[1,2,3,4,5,6,7,8,9],"index":5}`, `6`},
		{`States.ArrayLength($.inputArray)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `9`},
		{`States.ArrayUnique($.inputArray)`, `{"inputArray":[1,2,3,3,3,3,3,3,4]}`, `[1,2,3,4]`},
		{`States.Base64Encode($.input)`, `{"input":"Data to encode"}`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode($.base64)`, `{"base64":"RGF0YSB0byBlbmNvZGU="}`, `"Data to encode"`},
		{`States.Hash($.Data, $.Algorithm)`, `{"Data":"input data","Algorithm":"SHA-1"}`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.JsonMerge($.json1, $.json2, false)`, `{"json1":{"a":{"a1":1,"a2":2},"b":2},"json2":{"a":{"a3":1,"a4":2},"c":3}}`, `{"a":{"a3":1,"a4":2},"b":2,"c":3}`},
		{`States.MathAdd($.value1, $.step)`, `{"value1":111,"step":-1}`, `110`},
		{`States.StringSplit($.inputString, $.splitter)`, `{"inputString":"1,2,3,4,5","splitter":","}`, `["1","2","3","4","5"]`},
		{`States.StringSplit($.inputString, $.splitter)`, `{"inputString":"This.is+a,test=string","splitter":".+,="}`, `["This","is","a","test","string"]`},
		{`States.ArrayLength(States.StringSplit($.s, ','))`, `{"s":"a,b,c"}`, `3`},
		{`States.Format('{}', $$.State.Name)`, `{}`, `"S"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"v.$":` + mustJSON(tt.expr) + `},"OutputPath":"$.v","End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			wantOutput(t, ex, tt.want)
		})
	}
}

func TestIntrinsicsRandom(t *testing.T) {
	def := `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"uuid.$":"States.UUID()","n.$":"States.MathRandom(1, 999)"},"End":true}}}`
	ex, _ := runDef(t, def, nil, `{}`)
	v, _ := decodeJSON(ex.Output)
	out := v.(*object)
	uuid, _ := out.get("uuid")
	if s, _ := uuid.(string); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s) {
		t.Fatalf("uuid=%v, want a version 4 UUID", uuid)
	}
	n, _ := out.get("n")
	if f, ok := toFloat(n); !ok || f < 1 || f >= 999 {
		t.Fatalf("n=%v, want an integer in [1, 999)", n)
	}
	ex2, _ := runDef(t, def, nil, `{}`)
	if string(ex.Output) != string(ex2.Output) {
		t.Fatalf("seeded runs differ: %s vs %s", ex.Output, ex2.Output)
	}
}
