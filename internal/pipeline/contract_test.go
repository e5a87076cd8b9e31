package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/validate"
	"github.com/medallionlake/lake/statemachine"
)

// taskStates walks every state of an ASL definition (into Map item
// processors and Parallel branches) and calls f with each Task state.
func taskStates(t *testing.T, states map[string]json.RawMessage, f func(name string, st map[string]json.RawMessage)) {
	t.Helper()
	for name, raw := range states {
		var st map[string]json.RawMessage
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("state %s: %v", name, err)
		}
		var typ string
		json.Unmarshal(st["Type"], &typ)
		type machine struct {
			States map[string]json.RawMessage
		}
		switch typ {
		case "Task":
			f(name, st)
		case "Map":
			var m struct {
				ItemProcessor, Iterator *machine
			}
			json.Unmarshal(raw, &m)
			for _, p := range []*machine{m.ItemProcessor, m.Iterator} {
				if p != nil {
					taskStates(t, p.States, f)
				}
			}
		case "Parallel":
			var p struct{ Branches []machine }
			json.Unmarshal(raw, &p)
			for _, b := range p.Branches {
				taskStates(t, b.States, f)
			}
		}
	}
}

// definitions are the state machine definitions whose Task states call
// the tasks.
var definitions = map[string][]byte{
	"statemachine/pipeline.asl.json": statemachine.Pipeline,
	"statemachine/maintain.asl.json": statemachine.Maintain,
}

// TestErrorEqualsNamesGoTypes ties the state machines' error names to the
// Go error types the tasks return: every name a Retry or Catch of
// statemachine/pipeline.asl.json or statemachine/maintain.asl.json
// matches (but States.* and Lambda.*) is a type in ErrorTypes, every Task
// state retries every retryable type, and every task of TaskNames is
// called by a Task state (its ${<Task>FunctionArn}). Renaming a type, or
// forgetting a retry, fails here rather than silently in AWS.
func TestErrorEqualsNamesGoTypes(t *testing.T) {
	known := map[string]ErrorType{}
	for _, et := range ErrorTypes {
		if _, dup := known[et.Name]; dup {
			t.Errorf("ErrorTypes lists %s twice", et.Name)
		}
		known[et.Name] = et
	}
	called := map[string]bool{}
	for file, raw := range definitions {
		t.Run(file, func(t *testing.T) {
			var def struct{ States map[string]json.RawMessage }
			if err := json.Unmarshal(raw, &def); err != nil {
				t.Fatal(err)
			}
			checkErrorNames(t, def.States, known, called)
		})
	}
	for _, task := range TaskNames {
		if !called[task] {
			t.Errorf("no Task state calls the %s task", task)
		}
	}
}

// functionTask is the task whose function a Task state's Parameters name
// (${PlanFunctionArn}: plan).
var functionTask = regexp.MustCompile(`^\$\{(\w+)FunctionArn\}$`)

// checkErrorNames checks the Retry and Catch of every Task state of
// states against known and records the tasks they call in called.
func checkErrorNames(t *testing.T, states map[string]json.RawMessage, known map[string]ErrorType, called map[string]bool) {
	t.Helper()
	taskStates(t, states, func(name string, st map[string]json.RawMessage) {
		var params struct{ FunctionName string }
		json.Unmarshal(st["Parameters"], &params)
		if m := functionTask.FindStringSubmatch(params.FunctionName); m != nil {
			called[strings.ToLower(m[1])] = true
		} else {
			t.Errorf("state %s calls %q, not a task's ${<Task>FunctionArn}", name, params.FunctionName)
		}
		type handler struct{ ErrorEquals []string }
		var retry, catch []handler
		json.Unmarshal(st["Retry"], &retry)
		json.Unmarshal(st["Catch"], &catch)
		retried := map[string]bool{}
		for _, h := range slices.Concat(retry, catch) {
			for _, e := range h.ErrorEquals {
				if strings.HasPrefix(e, "States.") || strings.HasPrefix(e, "Lambda.") {
					continue
				}
				if _, ok := known[e]; !ok {
					t.Errorf("state %s matches %q, which no task returns (pipeline.ErrorTypes)", name, e)
				}
			}
		}
		for _, h := range retry {
			for _, e := range h.ErrorEquals {
				retried[e] = true
				if et, ok := known[e]; ok && !et.Retryable {
					t.Errorf("state %s retries %s, which is not retryable", name, e)
				}
			}
		}
		for _, et := range ErrorTypes {
			if et.Retryable && !retried[et.Name] {
				t.Errorf("state %s does not retry %s", name, et.Name)
			}
		}
	})
}

// TestWorkflowError: a named error comes back unwrapped, whatever wraps
// it; anything else is a *TaskError, never a bare error whose type name
// (wrapError, errorString) no ErrorEquals could match.
func TestWorkflowError(t *testing.T) {
	su := &store.StoreUnavailableError{Op: "get", Key: "k", Err: errors.New("reset")}
	for _, tc := range []struct {
		description string
		err         error
		want, msg   string
	}{
		{"a store failure, wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", su)), "StoreUnavailableError", "reset"},
		{"a changed object", fmt.Errorf("route: %w", &bronze.ObjectChangedError{Key: "k"}), "ObjectChangedError", `object "k"`},
		{"schema drift", &icetable.SchemaDriftError{Table: "silver.orders", Column: "c"}, "SchemaDriftError", "c"},
		{"a plain error", errors.New("disk on fire"), "TaskError", "route: disk on fire"},
		{"a wrapped plain error", fmt.Errorf("ctx: %w", errors.New("x")), "TaskError", "route: ctx: x"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			got := WorkflowError("route", tc.err)
			if name := fmt.Sprintf("%T", got); name != "*pipeline."+tc.want && !strings.HasSuffix(name, "."+tc.want) {
				t.Errorf("WorkflowError(%v) is %T, want *%s", tc.err, got, tc.want)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("WorkflowError(%q) = %q, want it to say %q", tc.err, got, tc.msg)
			}
		})
	}
	for _, et := range ErrorTypes {
		if et.Name == "" || strings.Contains(et.Name, ".") {
			t.Errorf("error type name %q is not a plain Go type name", et.Name)
		}
	}
}

// TestStateFixtures round-trips every task's input and output fixture
// (testdata/<task>.input.json, .output.json) through its Go type, decoded
// strictly as the tasks decode their inputs: a field renamed on one side
// of the contract fails here.
func TestStateFixtures(t *testing.T) {
	types := map[string]func() any{
		"plan.input":           func() any { return new(StartInput) },
		"plan.output":          func() any { return new(PlanOutput) },
		"ingest.input":         func() any { return new(IngestInput) },
		"ingest.output":        func() any { return new(ingest.Result) },
		"validate.input":       func() any { return new(ObjectInput) },
		"validate.output":      func() any { return new(validate.Output) },
		"route.input":          func() any { return new(validate.Output) },
		"route.output":         func() any { return new(route.Output) },
		"crawl.input":          func() any { return new(CrawlInput) },
		"crawl.output":         func() any { return new(crawl.Output) },
		"recordfailure.input":  func() any { return new(FailureInput) },
		"recordfailure.output": func() any { return new(FailureOutput) },
		"maintain.input":       func() any { return new(MaintainInput) },
		"maintain.output":      func() any { return new(MaintainOutput) },
	}
	for _, task := range TaskNames {
		for _, side := range []string{"input", "output"} {
			name := task + "." + side
			t.Run(name, func(t *testing.T) {
				mk, ok := types[name]
				if !ok {
					t.Fatalf("no Go type for %s", name)
				}
				b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				v, err := decodeStrict[json.RawMessage](b)
				if err != nil {
					t.Fatal(err)
				}
				dst := mk()
				dec := json.NewDecoder(bytes.NewReader(v))
				dec.DisallowUnknownFields()
				if err := dec.Decode(dst); err != nil {
					t.Fatalf("%s does not decode strictly into %T: %v", name, dst, err)
				}
				got, err := json.MarshalIndent(dst, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != strings.TrimSpace(string(b)) {
					t.Errorf("%s round trip:\n got %s\nwant %s", name, got, b)
				}
			})
		}
	}
}

// TestStrictInputs: every task refuses an input with a field it does not
// know, naming the field, before doing anything.
func TestStrictInputs(t *testing.T) {
	p := New(Config{})
	for name, h := range p.Handlers() {
		t.Run(name, func(t *testing.T) {
			_, err := h(t.Context(), json.RawMessage(`{"record_kye": "_meta/routes/orders/x.json"}`))
			var bad *BadInputError
			if !errors.As(err, &bad) || !strings.Contains(err.Error(), `unknown field "record_kye"`) || bad.Task != name {
				t.Errorf("input with a misspelt field: %v (%T), want a *BadInputError of %s naming the field", err, err, name)
			}
			_, err = h(t.Context(), json.RawMessage(`{} {}`))
			if !errors.As(err, &bad) {
				t.Errorf("input with trailing data: %v (%T), want a *BadInputError", err, err)
			}
		})
	}
}
