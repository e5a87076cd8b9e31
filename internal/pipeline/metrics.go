package pipeline

import (
	"fmt"
	"os"
	"time"

	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/metrics"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/validate"
)

// The tasks' metrics, in the namespace of Config.Metrics, each published
// with the dimensions Task and TableName and with Task alone (Errors,
// Failures and the Duration of plan and crawl, which are not about one
// table: with Task alone). template.yaml's dashboard and discard-rate
// alarm read them.
const (
	MetricDuration           = "Duration"           // ms, every task
	MetricErrors             = "Errors"             // a task that returned an error
	MetricIngestedRows       = "IngestedRows"       // ingest: rows extracted into bronze
	MetricIngestedBytes      = "IngestedBytes"      // ingest: Parquet bytes written to bronze
	MetricIngestLag          = "IngestLag"          // ingest: seconds from the new watermark to now
	MetricDQScore            = "DQScore"            // validate: rules passed / rules evaluated, per object
	MetricRowsIn             = "RowsIn"             // route: rows of the object
	MetricSilverRows         = "SilverRows"         // route: rows to silver
	MetricDiscardedRows      = "DiscardedRows"      // route: rows to discarded
	MetricQuarantinedObjects = "QuarantinedObjects" // route: 1 when the object was quarantined whole
	MetricDiscardRate        = "DiscardRate"        // route: percent of the object's rows discarded
	MetricRoutedBytes        = "RoutedBytes"        // route: size of the bronze object
	MetricFailures           = "Failures"           // recordfailure: an execution that failed
)

// Dimension names of the tasks' metrics.
const (
	DimensionTask  = "Task"
	DimensionTable = "TableName"
)

// Metrics lists every metric the tasks publish, for the template checks.
var Metrics = []string{
	MetricDuration, MetricErrors, MetricIngestedRows, MetricIngestedBytes, MetricIngestLag, MetricDQScore,
	MetricRowsIn, MetricSilverRows, MetricDiscardedRows, MetricQuarantinedObjects, MetricDiscardRate,
	MetricRoutedBytes, MetricFailures,
}

// measure publishes the metrics of one call of task through
// Config.Metrics (none when it is nil): its duration, what its output
// counts (taskMetrics), or an error count. Metrics never change the task's
// result: a metric that cannot be published is reported on stderr.
func (p *Pipeline) measure(task string, in, out any, err error, elapsed time.Duration) {
	if p.cfg.Metrics == nil {
		return
	}
	for _, ev := range taskEvents(task, in, out, err, elapsed, p.cfg.Now()) {
		if merr := p.cfg.Metrics.Emit(ev); merr != nil {
			fmt.Fprintf(os.Stderr, "pipeline: %s: %v\n", task, merr)
		}
	}
}

// taskEvents are the metric events of one call of task with input in,
// which returned out and err after elapsed, at now.
func taskEvents(task string, in, out any, err error, elapsed time.Duration, now time.Time) []metrics.Event {
	duration := metrics.Metric{Name: MetricDuration, Unit: metrics.Milliseconds, Value: float64(elapsed.Microseconds()) / 1000}
	if err != nil {
		return []metrics.Event{event(task, "", map[string]any{"error_type": fmt.Sprintf("%T", err)},
			duration, metrics.Metric{Name: MetricErrors, Unit: metrics.Count, Value: 1})}
	}
	table, props, ms := taskMetrics(in, out, now)
	return []metrics.Event{event(task, table, props, append(ms, duration)...)}
}

// taskMetrics reads a task's metrics from its input and output: the
// table they are about ("" when none), fields for the log event, and the
// values. Calls that did nothing new (a duplicate event, an object already
// routed) count nothing but their duration.
func taskMetrics(in, out any, now time.Time) (string, map[string]any, []metrics.Metric) {
	count := func(name string, unit metrics.Unit, v float64) metrics.Metric {
		return metrics.Metric{Name: name, Unit: unit, Value: v}
	}
	switch o := out.(type) {
	case *ingest.Result:
		var ms []metrics.Metric
		if i, ok := in.(IngestInput); !ok || i.Commit == nil { // a commit only adds up its items
			ms = append(ms, count(MetricIngestedRows, metrics.Count, float64(o.Rows)), count(MetricIngestedBytes, metrics.Bytes, float64(o.Bytes)))
		}
		if o.Watermark != nil {
			ms = append(ms, count(MetricIngestLag, metrics.Seconds, now.Sub(o.Watermark.Time()).Seconds()))
		}
		return o.Table, nil, ms
	case *validate.Output:
		props := map[string]any{"key": o.Key, "verdict": string(o.Verdict)}
		if o.Verdict == validate.Done || o.RulesProcessed == 0 {
			return o.Table, props, nil
		}
		return o.Table, props, []metrics.Metric{count(MetricDQScore, metrics.None, o.Score)}
	case *route.Output:
		props := map[string]any{"key": o.Key, "verdict": string(o.Verdict)}
		if o.Verdict == validate.Done || o.AlreadyRouted {
			return o.Table, props, nil
		}
		quarantined := 0.0
		if o.QuarantineKey != "" {
			quarantined = 1
		}
		ms := []metrics.Metric{
			count(MetricRowsIn, metrics.Count, float64(o.RowsIn)),
			count(MetricSilverRows, metrics.Count, float64(o.SilverRows)),
			count(MetricDiscardedRows, metrics.Count, float64(o.DiscardedRows)),
			count(MetricQuarantinedObjects, metrics.Count, quarantined),
		}
		if o.RowsIn > 0 {
			ms = append(ms, count(MetricDiscardRate, metrics.Percent, 100*float64(o.DiscardedRows)/float64(o.RowsIn)))
		}
		if i, ok := in.(validate.Output); ok {
			ms = append(ms, count(MetricRoutedBytes, metrics.Bytes, float64(i.Size)))
		}
		return o.Table, props, ms
	case *FailureOutput:
		props := map[string]any{"key": o.Key}
		if i, ok := in.(FailureInput); ok {
			props["state"], props["error"] = i.State, i.Error.Error
		}
		return "", props, []metrics.Metric{count(MetricFailures, metrics.Count, 1)}
	}
	return "", nil, nil // plan, crawl: their duration alone
}

// event is one metric event of task, about table when it is not empty.
func event(task, table string, props map[string]any, ms ...metrics.Metric) metrics.Event {
	ev := metrics.Event{
		Dimensions: [][]string{{DimensionTask}},
		Labels:     map[string]string{DimensionTask: task},
		Metrics:    ms,
		Properties: props,
	}
	if table != "" {
		ev.Labels[DimensionTable] = table
		ev.Dimensions = [][]string{{DimensionTask, DimensionTable}, {DimensionTask}}
	}
	return ev
}
