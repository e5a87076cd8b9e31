package asl

import (
	"os"
	"testing"
)

func TestChoiceDocExample(t *testing.T) {
	def, err := os.ReadFile("testdata/valid/choice.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		input, want string
	}{
		{`{"type":"Public","value":22}`, `"public"`},
		{`{"type":"Private","value":0}`, `"zero"`},
		{`{"type":"Private","value":22}`, `"twenties"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			ex, _ := runDef(t, string(def), nil, tt.input)
			wantOutput(t, ex, tt.want)
		})
	}
	t.Run("Default to a Fail state", func(t *testing.T) {
		ex, _ := runDef(t, string(def), nil, `{"type":"Private","value":35}`)
		wantFailure(t, ex, "DefaultStateError", "No Matches!")
	})
}

// TestChoiceOperators runs each comparison operator (and its Path variant)
// on a matching and a non-matching input.
func TestChoiceOperators(t *testing.T) {
	tests := []struct {
		rule  string
		input string
		want  bool
	}{
		{`"Variable":"$.v","StringEquals":"a"`, `{"v":"a"}`, true},
		{`"Variable":"$.v","StringEquals":"a"`, `{"v":"b"}`, false},
		{`"Variable":"$.v","StringEquals":"1"`, `{"v":1}`, false},
		{`"Variable":"$.v","StringEqualsPath":"$.w"`, `{"v":"a","w":"a"}`, true},
		{`"Variable":"$.v","StringLessThan":"b"`, `{"v":"a"}`, true},
		{`"Variable":"$.v","StringGreaterThan":"b"`, `{"v":"a"}`, false},
		{`"Variable":"$.v","StringLessThanEquals":"a"`, `{"v":"a"}`, true},
		{`"Variable":"$.v","StringGreaterThanEqualsPath":"$.w"`, `{"v":"b","w":"a"}`, true},
		{`"Variable":"$.v","StringMatches":"log-*.txt"`, `{"v":"log-2024.txt"}`, true},
		{`"Variable":"$.v","StringMatches":"log-*.txt"`, `{"v":"log-2024.csv"}`, false},
		{`"Variable":"$.v","StringMatches":"a\\*b"`, `{"v":"a*b"}`, true},
		{`"Variable":"$.v","StringMatches":"a\\*b"`, `{"v":"axb"}`, false},
		{`"Variable":"$.v","StringMatches":"*"`, `{"v":""}`, true},
		{`"Variable":"$.v","NumericEquals":1`, `{"v":1.0}`, true},
		{`"Variable":"$.v","NumericEquals":1`, `{"v":"1"}`, false},
		{`"Variable":"$.v","NumericEqualsPath":"$.w"`, `{"v":2,"w":2}`, true},
		{`"Variable":"$.v","NumericLessThan":1`, `{"v":0.5}`, true},
		{`"Variable":"$.v","NumericGreaterThan":1`, `{"v":0.5}`, false},
		{`"Variable":"$.v","NumericLessThanEquals":1`, `{"v":1}`, true},
		{`"Variable":"$.v","NumericGreaterThanEquals":1`, `{"v":1}`, true},
		{`"Variable":"$.v","NumericLessThanPath":"$.w"`, `{"v":1,"w":2}`, true},
		{`"Variable":"$.v","BooleanEquals":true`, `{"v":true}`, true},
		{`"Variable":"$.v","BooleanEqualsPath":"$.w"`, `{"v":true,"w":false}`, false},
		{`"Variable":"$.v","TimestampEquals":"2024-01-01T00:00:00Z"`, `{"v":"2024-01-01T01:00:00+01:00"}`, true},
		{`"Variable":"$.v","TimestampLessThan":"2024-01-01T00:00:00Z"`, `{"v":"2023-12-31T23:59:59Z"}`, true},
		{`"Variable":"$.v","TimestampGreaterThan":"2024-01-01T00:00:00Z"`, `{"v":"2023-12-31T23:59:59Z"}`, false},
		{`"Variable":"$.v","TimestampLessThanEquals":"2024-01-01T00:00:00Z"`, `{"v":"2024-01-01T00:00:00Z"}`, true},
		{`"Variable":"$.v","TimestampGreaterThanEqualsPath":"$.w"`, `{"v":"2024-01-02T00:00:00Z","w":"2024-01-01T00:00:00Z"}`, true},
		{`"Variable":"$.v","TimestampEquals":"2024-01-01T00:00:00Z"`, `{"v":"not a time"}`, false},
		{`"Variable":"$.v","IsNull":true`, `{"v":null}`, true},
		{`"Variable":"$.v","IsNull":false`, `{"v":null}`, false},
		{`"Variable":"$.v","IsPresent":true`, `{"v":null}`, true},
		{`"Variable":"$.v","IsPresent":false`, `{}`, true},
		{`"Variable":"$.v","IsNumeric":true`, `{"v":1.5}`, true},
		{`"Variable":"$.v","IsNumeric":true`, `{"v":"1.5"}`, false},
		{`"Variable":"$.v","IsString":true`, `{"v":"x"}`, true},
		{`"Variable":"$.v","IsBoolean":true`, `{"v":false}`, true},
		{`"Variable":"$.v","IsTimestamp":true`, `{"v":"2016-03-14T01:59:00Z"}`, true},
		{`"Variable":"$.v","IsTimestamp":true`, `{"v":"2016-03-14"}`, false},
		{`"And":[{"Variable":"$.v","IsPresent":true},{"Variable":"$.v","NumericGreaterThan":0}]`, `{"v":1}`, true},
		{`"And":[{"Variable":"$.v","IsPresent":true},{"Variable":"$.v","NumericGreaterThan":0}]`, `{"v":-1}`, false},
		{`"Or":[{"Variable":"$.v","StringEquals":"a"},{"Variable":"$.v","StringEquals":"b"}]`, `{"v":"b"}`, true},
		{`"Not":{"Variable":"$.v","StringEquals":"a"}`, `{"v":"b"}`, true},
		{`"Variable":"$.v[1].w","NumericEquals":2`, `{"v":[{"w":1},{"w":2}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.input, func(t *testing.T) {
			def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{` + tt.rule + `,"Next":"Yes"}],"Default":"No"},"Yes":{"Type":"Pass","Result":true,"End":true},"No":{"Type":"Pass","Result":false,"End":true}}}`
			ex, _ := runDef(t, def, nil, tt.input)
			want := "false"
			if tt.want {
				want = "true"
			}
			wantOutput(t, ex, want)
		})
	}
}

func TestChoiceNoMatch(t *testing.T) {
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.v","IsNull":true,"Next":"T"}]},"T":{"Type":"Succeed"}}}`
	ex, _ := runDef(t, def, nil, `{"v":1}`)
	wantFailure(t, ex, ErrNoChoiceMatched, "")
}

func TestChoiceOutputPath(t *testing.T) {
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.keep","Choices":[{"Variable":"$.v","IsPresent":true,"Next":"T"}]},"T":{"Type":"Succeed"}}}`
	ex, _ := runDef(t, def, nil, `{"in":{"v":1,"keep":{"k":2}}}`)
	wantOutput(t, ex, `{"k":2}`)
}
