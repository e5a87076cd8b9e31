package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chain is a definition of n states of the given JSON, each going to the
// next.
func chain(n int, state string) string {
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		next := fmt.Sprintf(`"Next":"S%d"`, i+1)
		if i == n-1 {
			next = `"End":true`
		}
		fmt.Fprintf(&b, `"S%d":{%s,%s}`, i, state, next)
	}
	b.WriteString("}}")
	return b.String()
}

func noop(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"ok":true}`), nil
}

// benchTransitions reports the cost of one state transition: a run of a
// 100-state chain, divided by 100. The history goes to a MemoryRecorder,
// as a real run would record it.
func benchTransitions(b *testing.B, state string) {
	const n = 100
	m, err := Load([]byte(chain(n, state)), Options{Handlers: map[string]Handler{"noop": noop}})
	if err != nil {
		b.Fatal(err)
	}
	input := json.RawMessage(`{"order_id":42,"table":"orders","key":"bronze/landing/orders/part-0001.parquet","rows":1000}`)
	b.ReportAllocs()
	cpu0 := cpuTime(b, 0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ex, err := m.Run(context.Background(), input, RunOptions{Name: fmt.Sprintf("e%d", i), Recorder: &MemoryRecorder{}})
		if err != nil || ex.Status != StatusSucceeded {
			b.Fatalf("%v %+v", err, ex)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/transition")
	b.ReportMetric(cpuTime(b, cpu0).Seconds()*1e6/float64(b.N*n), "cpu-µs/transition")
}

// cpuTime is the CPU time (user and system) this process used since
// start: on a shared machine it measures the interpreter's work where wall
// time also measures the other processes.
func cpuTime(b *testing.B, start time.Duration) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - start
}

func BenchmarkPassTransition(b *testing.B) {
	benchTransitions(b, `"Type":"Pass","ResultPath":"$.last","Parameters":{"key.$":"$.key"}`)
}

func BenchmarkTaskTransition(b *testing.B) {
	benchTransitions(b, `"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:noop","ResultPath":"$.last"`)
}

func BenchmarkInvokeTaskTransition(b *testing.B) {
	benchTransitions(b, `"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"noop","Payload.$":"$"},"ResultSelector":{"r.$":"$.Payload"},"ResultPath":"$.last"`)
}

// BenchmarkMap1000 runs a 1,000-item Map with MaxConcurrency 10 over a
// no-op Task; µs/transition counts each item's Task as one transition.
func BenchmarkMap1000(b *testing.B) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":10,"ItemsPath":"$.items",
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:noop","End":true}}},
		"ResultPath":null,"End":true}}}`
	m, err := Load([]byte(def), Options{Handlers: map[string]Handler{"noop": noop}})
	if err != nil {
		b.Fatal(err)
	}
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	input, _ := json.Marshal(map[string]any{"items": items})
	b.ReportAllocs()
	cpu0 := cpuTime(b, 0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ex, err := m.Run(context.Background(), input, RunOptions{Name: fmt.Sprintf("e%d", i), Recorder: &MemoryRecorder{}})
		if err != nil || ex.Status != StatusSucceeded {
			b.Fatalf("%v %+v", err, ex)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000)/1e3, "µs/transition")
	b.ReportMetric(cpuTime(b, cpu0).Seconds()*1e6/float64(b.N*1000), "cpu-µs/transition")
}
