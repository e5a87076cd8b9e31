// Package metrics publishes CloudWatch metrics in the embedded metric
// format (EMF): each Event is one JSON object on one line of the writer,
// which in Lambda is stdout; Lambda sends stdout to CloudWatch Logs, and
// CloudWatch Logs extracts the metrics named in the event's "_aws"
// metadata. No API call, no extra permission and no agent are needed.
//
// Events are checked against the specification before they are written
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// an event CloudWatch would drop is an error instead.
//
// Imported by pipeline. Pure Go.
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units this package's callers use (CloudWatch has more).
const (
	Count        Unit = "Count"
	Bytes        Unit = "Bytes"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	Percent      Unit = "Percent"
	None         Unit = "None"
)

// Metric is one value of a metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Event is one log event: metrics that share their dimensions.
type Event struct {
	// Dimensions are the dimension sets each metric is published under,
	// each a list of keys of Labels (an empty set publishes the metric
	// without dimensions).
	Dimensions [][]string
	// Labels are string fields of the event: the dimensions' values, and
	// any other text worth keeping with the metrics.
	Labels map[string]string
	// Metrics are the values.
	Metrics []Metric
	// Properties are more fields of the event, searchable in CloudWatch
	// Logs Insights but not metrics (an object key, a verdict).
	Properties map[string]any
}

// Limits of the specification and of CloudWatch.
const (
	maxDimensionKeys = 30        // keys in one dimension set
	maxMetrics       = 100       // metric definitions in one directive
	maxNameLen       = 255       // metric, dimension and namespace names
	maxValueLen      = 1024      // dimension values
	maxEventBytes    = 256 << 10 // a CloudWatch Logs event (and a Lambda log line)
)

// units are the units CloudWatch accepts.
var units = []Unit{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// namespaceRE is what CloudWatch accepts as a custom namespace.
var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9.\-_/#: ]{1,255}$`)

// Emitter writes events to one writer, in one namespace. A nil *Emitter
// writes nothing. It is safe for concurrent use: each event is one Write.
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// New returns an Emitter of namespace writing to w (in Lambda, os.Stdout).
func New(w io.Writer, namespace string) (*Emitter, error) {
	if !namespaceRE.MatchString(namespace) || strings.HasPrefix(namespace, "AWS/") || strings.HasPrefix(namespace, ":") {
		return nil, fmt.Errorf("metrics: namespace %q: want 1 to 255 letters, digits and . - _ / # : or space, not starting with AWS/ or :", namespace)
	}
	return &Emitter{w: w, namespace: namespace, now: time.Now}, nil
}

// Emit writes ev as one EMF line, timestamped now. It returns an error,
// writing nothing, for an event the specification or CloudWatch would
// refuse: no metrics, a dimension without a label, a name used twice, a
// value that is not a finite number, an unknown unit, limits exceeded.
func (e *Emitter) Emit(ev Event) error {
	if e == nil {
		return nil
	}
	line, err := e.encode(ev)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(line); err != nil {
		return fmt.Errorf("metrics: write: %w", err)
	}
	return nil
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitempty"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

func (e *Emitter) encode(ev Event) ([]byte, error) {
	if err := check(ev); err != nil {
		return nil, err
	}
	root := make(map[string]any, 1+len(ev.Labels)+len(ev.Metrics)+len(ev.Properties))
	for k, v := range ev.Properties {
		root[k] = v
	}
	for k, v := range ev.Labels {
		root[k] = v
	}
	d := directive{Namespace: e.namespace, Dimensions: ev.Dimensions, Metrics: make([]definition, len(ev.Metrics))}
	if d.Dimensions == nil {
		d.Dimensions = [][]string{}
	}
	for i, m := range ev.Metrics {
		d.Metrics[i] = definition{Name: m.Name, Unit: m.Unit}
		root[m.Name] = m.Value
	}
	root["_aws"] = metadata{Timestamp: e.now().UnixMilli(), CloudWatchMetrics: []directive{d}}
	line, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("metrics: encode: %w", err)
	}
	if len(line)+1 > maxEventBytes {
		return nil, fmt.Errorf("metrics: event of %d bytes: CloudWatch Logs takes at most %d", len(line)+1, maxEventBytes)
	}
	return append(line, '\n'), nil
}

// check validates an event before it is encoded.
func check(ev Event) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("metrics: "+format, args...)) }
	used := map[string]string{"_aws": "the metadata"}
	claim := func(name, what string) {
		if prev, ok := used[name]; ok {
			bad("%s %q is also %s", what, name, prev)
		}
		used[name] = what
	}
	for k, v := range ev.Labels {
		claim(k, "label")
		if !printableASCII(v) || strings.TrimSpace(v) == "" || len(v) > maxValueLen {
			bad("label %s=%q: want 1 to %d printable ASCII characters, not only spaces", k, v, maxValueLen)
		}
	}
	for k := range ev.Properties {
		claim(k, "property")
	}
	if len(ev.Metrics) == 0 || len(ev.Metrics) > maxMetrics {
		bad("%d metrics: want 1 to %d", len(ev.Metrics), maxMetrics)
	}
	for _, m := range ev.Metrics {
		claim(m.Name, "metric")
		if m.Name == "" || len(m.Name) > maxNameLen || !printableASCII(m.Name) {
			bad("metric name %q: want 1 to %d printable ASCII characters", m.Name, maxNameLen)
		}
		if m.Unit != "" && !slices.Contains(units, m.Unit) {
			bad("metric %s: unit %q is not a CloudWatch unit", m.Name, m.Unit)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			bad("metric %s: value %v is not a finite number", m.Name, m.Value)
		}
	}
	for _, set := range ev.Dimensions {
		if len(set) > maxDimensionKeys {
			bad("dimension set %v: %d keys, at most %d", set, len(set), maxDimensionKeys)
		}
		for _, k := range set {
			if _, ok := ev.Labels[k]; !ok {
				bad("dimension %q has no label (a dimension's value is the label of its name)", k)
			}
			if len(k) > maxNameLen || strings.HasPrefix(k, ":") || !printableASCII(k) {
				bad("dimension name %q: want 1 to %d printable ASCII characters, not starting with a colon", k, maxNameLen)
			}
		}
	}
	return errors.Join(errs...)
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Validate checks one log event (one line, without its newline) against
// the embedded metric format specification, as a test of what an emitter
// wrote: the root is a JSON object with an "_aws" metadata object
// holding an integer Timestamp (milliseconds) and a CloudWatchMetrics array
// of MetricDirectives; each directive has a Namespace, Dimensions (an
// array of DimensionSets: arrays of at most 30 strings, each naming a root
// member whose value is a string) and Metrics (an array of at most 100
// MetricDefinitions: a Name, an optional Unit among CloudWatch's units and
// an optional StorageResolution of 1 or 60, nothing else); each metric's
// Name is a root member holding a number or an array of at most 100
// numbers. It returns an error listing every rule the event breaks.
func Validate(event []byte) error {
	return errors.Join(specProblems(event)...)
}

func specProblems(event []byte) []error {
	var p []error
	bad := func(format string, args ...any) { p = append(p, fmt.Errorf("metrics: EMF event: "+format, args...)) }
	var root map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return []error{fmt.Errorf("metrics: EMF event is not one JSON object: %w", err)}
	}
	if dec.More() {
		bad("data after the JSON object")
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(root["_aws"], &meta); err != nil || meta == nil {
		return append(p, errors.New(`metrics: EMF event has no "_aws" metadata object`))
	}
	var ts json.Number
	if err := json.Unmarshal(meta["Timestamp"], &ts); err != nil {
		bad("_aws.Timestamp is not a number")
	} else if _, err := ts.Int64(); err != nil {
		bad("_aws.Timestamp %s is not whole milliseconds", ts)
	}
	var directives []map[string]json.RawMessage
	if err := json.Unmarshal(meta["CloudWatchMetrics"], &directives); err != nil || directives == nil {
		return append(p, errors.New("metrics: EMF event: _aws.CloudWatchMetrics is not an array of objects"))
	}
	member := func(name string) (any, bool) {
		raw, ok := root[name]
		if !ok {
			return nil, false
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		d.Decode(&v)
		return v, true
	}
	for i, d := range directives {
		for k := range d {
			if !slices.Contains([]string{"Namespace", "Dimensions", "Metrics"}, k) {
				bad("directive %d: member %q is not in the specification", i, k)
			}
		}
		var ns string
		if json.Unmarshal(d["Namespace"], &ns) != nil || ns == "" {
			bad("directive %d: Namespace is not a non-empty string", i)
		}
		var sets [][]string
		if err := json.Unmarshal(d["Dimensions"], &sets); err != nil || sets == nil {
			bad("directive %d: Dimensions is not an array of arrays of strings", i)
		}
		for _, set := range sets {
			if len(set) > 30 {
				bad("directive %d: a DimensionSet of %d keys (at most 30)", i, len(set))
			}
			for _, k := range set {
				v, ok := member(k)
				if !ok {
					bad("directive %d: dimension %q is not a member of the root", i, k)
				} else if _, isString := v.(string); !isString {
					bad("directive %d: dimension %q has the value %v, not a string", i, k, v)
				}
			}
		}
		var defs []map[string]json.RawMessage
		if err := json.Unmarshal(d["Metrics"], &defs); err != nil || defs == nil {
			bad("directive %d: Metrics is not an array of objects", i)
		}
		if len(defs) > 100 {
			bad("directive %d: %d MetricDefinitions (at most 100)", i, len(defs))
		}
		for _, def := range defs {
			var name string
			if json.Unmarshal(def["Name"], &name) != nil || name == "" {
				bad("directive %d: a MetricDefinition without a Name", i)
				continue
			}
			for k, raw := range def {
				switch k {
				case "Name":
				case "Unit":
					var u Unit
					if json.Unmarshal(raw, &u) != nil || !slices.Contains(units, u) {
						bad("metric %s: Unit %s is not a CloudWatch unit", name, raw)
					}
				case "StorageResolution":
					if r := string(raw); r != "1" && r != "60" {
						bad("metric %s: StorageResolution %s is not 1 or 60", name, r)
					}
				default:
					bad("metric %s: member %q is not in the specification", name, k)
				}
			}
			v, ok := member(name)
			switch vv := v.(type) {
			case json.Number:
			case []any:
				if len(vv) > 100 {
					bad("metric %s: %d values (at most 100)", name, len(vv))
				}
				for _, x := range vv {
					if _, isNumber := x.(json.Number); !isNumber {
						bad("metric %s: value %v is not a number", name, x)
					}
				}
			default:
				if !ok {
					bad("metric %s is not a member of the root", name)
				} else {
					bad("metric %s: value %v is not a number or an array of numbers", name, v)
				}
			}
		}
	}
	return p
}
