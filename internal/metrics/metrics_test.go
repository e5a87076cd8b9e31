package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSpecProblems checks the checker: the specification's own example
// passes, and each broken copy of it fails for its reason.
func TestSpecProblems(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("testdata", "spec-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(example); err != nil {
		t.Fatalf("the specification's example: %v, want no problems", err)
	}
	tests := []struct {
		description string
		edit        func(root map[string]any)
		want        string
	}{
		{"no metadata", func(r map[string]any) { delete(r, "_aws") }, `no "_aws"`},
		{"a timestamp in text", func(r map[string]any) { meta(r)["Timestamp"] = "2019-11-18" }, "Timestamp is not a number"},
		{"a dimension without its member", func(r map[string]any) { delete(r, "functionVersion") }, `dimension "functionVersion" is not a member`},
		{"a dimension value that is a number", func(r map[string]any) { r["functionVersion"] = 3 }, "not a string"},
		{"a metric without its member", func(r map[string]any) { delete(r, "time") }, "metric time is not a member"},
		{"a metric value that is text", func(r map[string]any) { r["time"] = "100" }, "not a number or an array"},
		{"101 values", func(r map[string]any) { r["time"] = make([]int, 101) }, "101 values"},
		{"an unknown unit", func(r map[string]any) { def(r)["Unit"] = "Rows" }, "not a CloudWatch unit"},
		{"an extra member of a definition", func(r map[string]any) { def(r)["Dimensions"] = "x" }, `member "Dimensions" is not in the specification`},
		{"31 dimension keys", func(r map[string]any) {
			var keys []string
			for i := range 31 {
				k := fmt.Sprintf("d%d", i)
				r[k] = "v"
				keys = append(keys, k)
			}
			firstDirective(r)["Dimensions"] = [][]string{keys}
		}, "31 keys"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			var root map[string]any
			if err := json.Unmarshal(example, &root); err != nil {
				t.Fatal(err)
			}
			tc.edit(root)
			b, _ := json.Marshal(root)
			err := Validate(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func meta(r map[string]any) map[string]any { return r["_aws"].(map[string]any) }
func firstDirective(r map[string]any) map[string]any {
	return meta(r)["CloudWatchMetrics"].([]any)[0].(map[string]any)
}
func def(r map[string]any) map[string]any {
	return firstDirective(r)["Metrics"].([]any)[0].(map[string]any)
}

func fixedEmitter(t *testing.T, w *bytes.Buffer) *Emitter {
	t.Helper()
	e, err := New(w, "MedallionLake/test")
	if err != nil {
		t.Fatal(err)
	}
	e.now = func() time.Time { return time.UnixMilli(1700000000123) }
	return e
}

// TestEmitFollowsSpec emits the kinds of events the pipeline emits and
// checks each line against the specification, and that CloudWatch would
// read back the values, units, dimensions and time that went in.
func TestEmitFollowsSpec(t *testing.T) {
	events := []Event{
		{
			Dimensions: [][]string{{"Task", "TableName"}, {"Task"}},
			Labels:     map[string]string{"Task": "route", "TableName": "orders"},
			Metrics: []Metric{
				{"RowsIn", Count, 1000}, {"SilverRows", Count, 950}, {"DiscardedRows", Count, 50},
				{"DiscardRate", Percent, 5}, {"RoutedBytes", Bytes, 13500}, {"Duration", Milliseconds, 812.5},
			},
			Properties: map[string]any{"key": "bronze/landing/orders/x.parquet", "verdict": "SPLIT"},
		},
		{Dimensions: [][]string{{}}, Labels: map[string]string{}, Metrics: []Metric{{"Failures", Count, 1}}},
		{Metrics: []Metric{{Name: "DQScore", Value: 0.75}}},
	}
	var buf bytes.Buffer
	e := fixedEmitter(t, &buf)
	for _, ev := range events {
		if err := e.Emit(ev); err != nil {
			t.Fatalf("Emit(%+v): %v", ev, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(events), buf.String())
	}
	for i, line := range lines {
		ev := events[i]
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if err := Validate([]byte(line)); err != nil {
				t.Fatalf("%s\nbreaks the specification: %v", line, err)
			}
			var got struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
			}
			var root map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(line), &root)
			if got.AWS.Timestamp != 1700000000123 {
				t.Errorf("Timestamp = %d, want 1700000000123", got.AWS.Timestamp)
			}
			d := got.AWS.CloudWatchMetrics[0]
			if d.Namespace != "MedallionLake/test" {
				t.Errorf("Namespace = %q", d.Namespace)
			}
			if want := ev.Dimensions; want != nil && !slices.EqualFunc(d.Dimensions, want, slices.Equal) {
				t.Errorf("Dimensions = %v, want %v", d.Dimensions, want)
			}
			for j, m := range ev.Metrics {
				if d.Metrics[j].Name != m.Name || d.Metrics[j].Unit != string(m.Unit) {
					t.Errorf("definition %d = %+v, want %s in %q", j, d.Metrics[j], m.Name, m.Unit)
				}
				if v, _ := root[m.Name].(float64); v != m.Value {
					t.Errorf("%s = %v, want %v", m.Name, root[m.Name], m.Value)
				}
			}
			for k, v := range ev.Labels {
				if root[k] != v {
					t.Errorf("label %s = %v, want %q", k, root[k], v)
				}
			}
		})
	}
}

// TestEmitRefuses checks that an event CloudWatch would drop is an error
// and writes nothing.
func TestEmitRefuses(t *testing.T) {
	one := []Metric{{"Rows", Count, 1}}
	tests := []struct {
		description string
		ev          Event
		want        string
	}{
		{"no metrics", Event{}, "0 metrics"},
		{"a dimension without a label", Event{Dimensions: [][]string{{"TableName"}}, Metrics: one}, `dimension "TableName" has no label`},
		{"an empty label", Event{Dimensions: [][]string{{"TableName"}}, Labels: map[string]string{"TableName": " "}, Metrics: one}, "not only spaces"},
		{"a label that is not ASCII", Event{Labels: map[string]string{"TableName": "bestellungen-ä"}, Metrics: one}, "printable ASCII"},
		{"a metric named like a label", Event{Labels: map[string]string{"Rows": "x"}, Metrics: one}, `metric "Rows" is also label`},
		{"a metric twice", Event{Metrics: []Metric{{"Rows", Count, 1}, {"Rows", Count, 2}}}, `metric "Rows" is also metric`},
		{"a property named _aws", Event{Properties: map[string]any{"_aws": 1}, Metrics: one}, `property "_aws" is also the metadata`},
		{"not a number", Event{Metrics: []Metric{{"Rate", Percent, math.NaN()}}}, "not a finite number"},
		{"infinity", Event{Metrics: []Metric{{"Rate", Percent, math.Inf(1)}}}, "not a finite number"},
		{"an unknown unit", Event{Metrics: []Metric{{"Rows", "Rows", 1}}}, "not a CloudWatch unit"},
		{"101 metrics", Event{Metrics: func() []Metric {
			var ms []Metric
			for i := range 101 {
				ms = append(ms, Metric{fmt.Sprintf("m%d", i), Count, 1})
			}
			return ms
		}()}, "101 metrics"},
		{"an event over 256 KiB", Event{Properties: map[string]any{"big": strings.Repeat("x", 300<<10)}, Metrics: one}, "at most 262144"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			var buf bytes.Buffer
			err := fixedEmitter(t, &buf).Emit(tc.ev)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Emit = %v, want an error containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q for a refused event", buf.String())
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, ns := range []string{"", "AWS/Lambda", ":lake", "lake\n", strings.Repeat("n", 256), "läke"} {
		if _, err := New(new(bytes.Buffer), ns); err == nil {
			t.Errorf("New(%q) succeeded, want an error", ns)
		}
	}
	if _, err := New(new(bytes.Buffer), "MedallionLake/lake_1"); err != nil {
		t.Errorf("New(MedallionLake/lake_1): %v", err)
	}
	var e *Emitter
	if err := e.Emit(Event{}); err != nil {
		t.Errorf("a nil Emitter's Emit = %v, want nil (metrics off)", err)
	}
}

// TestEmitConcurrently checks that events emitted at once never share or
// split a line.
func TestEmitConcurrently(t *testing.T) {
	var buf bytes.Buffer
	e := fixedEmitter(t, &buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			ev := Event{Labels: map[string]string{"TableName": fmt.Sprint("t", i)}, Dimensions: [][]string{{"TableName"}},
				Metrics: []Metric{{"Rows", Count, float64(i)}}, Properties: map[string]any{"pad": strings.Repeat("x", 10000)}}
			if err := e.Emit(ev); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := Validate(sc.Bytes()); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
	}
	if n != 50 {
		t.Errorf("%d lines, want 50", n)
	}
}
