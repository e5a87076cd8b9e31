package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/validate"
)

// TestTaskEvents checks what each task's call publishes: the values read
// from its input and output, the dimensions, nothing counted twice (a
// commit, a duplicate event), and that every event is valid EMF.
func TestTaskEvents(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	wm := ingest.InstantOf(now.Add(-90 * time.Second))
	orders := []string{DimensionTask, DimensionTable}
	taskOnly := []string{DimensionTask}
	tests := []struct {
		description string
		task        string
		in, out     any
		err         error
		want        map[string]float64 // besides Duration
		dims        [][]string
	}{
		{"ingest of a whole table", "ingest", IngestInput{Run: &ingest.Request{Table: "orders"}},
			&ingest.Result{Table: "orders", Rows: 100, Bytes: 2000, Watermark: &wm}, nil,
			map[string]float64{MetricIngestedRows: 100, MetricIngestedBytes: 2000, MetricIngestLag: 90}, [][]string{orders, taskOnly}},
		{"ingest of a key range", "ingest", IngestInput{Extract: &ingest.WorkItem{Table: "orders"}},
			&ingest.Result{Table: "orders", Rows: 40, Bytes: 800}, nil,
			map[string]float64{MetricIngestedRows: 40, MetricIngestedBytes: 800}, [][]string{orders, taskOnly}},
		{"a commit counts no rows again", "ingest", IngestInput{Commit: &ingest.CommitRequest{}},
			&ingest.Result{Table: "orders", Rows: 100, Bytes: 2000, Watermark: &wm}, nil,
			map[string]float64{MetricIngestLag: 90}, [][]string{orders, taskOnly}},
		{"validate", "validate", ObjectCreatedEvent{}, &validate.Output{Table: "orders", Verdict: validate.Split, RulesProcessed: 4, Score: 0.75}, nil,
			map[string]float64{MetricDQScore: 0.75}, [][]string{orders, taskOnly}},
		{"validate of a routed object", "validate", ObjectCreatedEvent{}, &validate.Output{Table: "orders", Verdict: validate.Done}, nil,
			map[string]float64{}, [][]string{orders, taskOnly}},
		{"route", "route", validate.Output{Size: 13500}, &route.Output{Table: "orders", Verdict: validate.Split, RowsIn: 200, SilverRows: 190, DiscardedRows: 10}, nil,
			map[string]float64{MetricRowsIn: 200, MetricSilverRows: 190, MetricDiscardedRows: 10, MetricQuarantinedObjects: 0, MetricDiscardRate: 5, MetricRoutedBytes: 13500},
			[][]string{orders, taskOnly}},
		{"route of an unusable object", "route", validate.Output{Size: 7}, &route.Output{Table: "orders", Verdict: validate.Reject, QuarantineKey: "discarded/orders/quarantine/x/x.csv"}, nil,
			map[string]float64{MetricRowsIn: 0, MetricSilverRows: 0, MetricDiscardedRows: 0, MetricQuarantinedObjects: 1, MetricRoutedBytes: 7},
			[][]string{orders, taskOnly}},
		{"route of a duplicate event", "route", validate.Output{Size: 13500}, &route.Output{Table: "orders", AlreadyRouted: true, RowsIn: 200, SilverRows: 200}, nil,
			map[string]float64{}, [][]string{orders, taskOnly}},
		{"recordfailure", "recordfailure", FailureInput{Execution: "x", State: "Route", Error: ErrorInfo{Error: "ConservationError"}}, &FailureOutput{Key: "_meta/failures/x.json"}, nil,
			map[string]float64{MetricFailures: 1}, [][]string{taskOnly}},
		{"plan", "plan", StartInput{}, &PlanOutput{}, nil, map[string]float64{}, [][]string{taskOnly}},
		{"an error", "route", validate.Output{}, (*route.Output)(nil), &BadInputError{Task: "route", Reason: "x"},
			map[string]float64{MetricErrors: 1}, [][]string{taskOnly}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			evs := taskEvents(tc.task, tc.in, tc.out, tc.err, 1500*time.Microsecond, now)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			var buf bytes.Buffer
			e, err := metrics.New(&buf, "MedallionLake/test")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Emit(evs[0]); err != nil {
				t.Fatal(err)
			}
			line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			if err := metrics.Validate(line); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			var root map[string]any
			if err := json.Unmarshal(line, &root); err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, m := range evs[0].Metrics {
				if !slices.Contains(Metrics, m.Name) {
					t.Errorf("metric %s is not in Metrics", m.Name)
				}
				got[m.Name] = root[m.Name].(float64)
			}
			if d := got[MetricDuration]; d != 1.5 {
				t.Errorf("Duration = %v ms, want 1.5", d)
			}
			delete(got, MetricDuration)
			if !maps.Equal(got, tc.want) {
				t.Errorf("metrics = %v, want %v", got, tc.want)
			}
			if !slices.EqualFunc(evs[0].Dimensions, tc.dims, slices.Equal) {
				t.Errorf("dimensions = %v, want %v", evs[0].Dimensions, tc.dims)
			}
			if root[DimensionTask] != tc.task {
				t.Errorf("Task = %v, want %s", root[DimensionTask], tc.task)
			}
			var bad *BadInputError
			if errors.As(tc.err, &bad) && !strings.Contains(root["error_type"].(string), "BadInputError") {
				t.Errorf("error_type = %v, want the error's type", root["error_type"])
			}
		})
	}
}
