package faultsuite

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/store/faultstore"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

// faultCase is one fault and the lake it strikes.
type faultCase struct {
	fault string // as the results table names it
	lake  string // "file" or "s3"
	rows  int64  // seeded orders; 0 means smallRows
	// single: the faulty run ingests and routes one object only (no
	// first ingest, no second versions).
	single bool
	// control: no fault; the run that the others are compared with.
	control bool
	run     faultyRun
}

// landingGET selects the GETs of bronze objects (path-style: /BUCKET/lake/bronze/landing/...).
const landingGET = "/bronze/landing/"

var cases = []faultCase{
	{fault: "none (control), folder lake", lake: "file", control: true, run: clean},
	{fault: "none (control), S3 lake", lake: "s3", control: true, run: clean},

	{fault: "S3: 503 SlowDown on 20% of requests", lake: "s3", run: proxied(faultproxy.Fault{Nth: 3, Every: 5, Action: faultproxy.SlowDown})},
	{fault: "S3: reset before the response (not forwarded)", lake: "s3", run: proxied(faultproxy.Fault{Nth: 4, Every: 9, Times: 6, Action: faultproxy.ResetBeforeResponse})},
	{fault: "S3: PUT applied, reset before the response", lake: "s3", run: proxied(faultproxy.Fault{Method: "PUT", Nth: 2, Every: 4, Times: 6, Action: faultproxy.ResetBeforeResponse, Forward: true})},
	{fault: "S3: reset mid-body of bronze GETs", lake: "s3", run: proxied(faultproxy.Fault{Method: "GET", Path: landingGET, Every: 3, Times: 3, Action: faultproxy.ResetMidBody, Bytes: 512})},
	{fault: "S3: clean close mid-body of bronze GETs", lake: "s3", run: proxied(faultproxy.Fault{Method: "GET", Path: landingGET, Every: 3, Times: 3, Action: faultproxy.CloseMidBody, Bytes: 512})},
	{fault: "S3: reset mid-body of route record and Iceberg metadata GETs", lake: "s3", run: proxied(faultproxy.Fault{Method: "GET", Path: "/(_meta/routes|orders(_current)?/metadata)/", Every: 2, Times: 4, Action: faultproxy.ResetMidBody, Bytes: 64})},
	{fault: "S3: 200 ms latency on every 8th request", lake: "s3", run: proxied(faultproxy.Fault{Every: 8, Action: faultproxy.Latency, Delay: 200 * time.Millisecond})},

	{fault: "PostgreSQL: ingest backend terminated twice", lake: "file", run: pgTerminate(2)},

	{fault: "full disk: bronze write", lake: "file", run: diskFull(faultstore.Point{Key: "^bronze/landing/", After: 1 << 10})},
	{fault: "full disk: DQ result", lake: "file", run: diskFull(faultstore.Point{Key: "^_meta/dq/"})},
	{fault: "full disk: DQ row log", lake: "file", run: diskFull(faultstore.Point{Key: "^_meta/dqrows/", After: 64})},
	{fault: "full disk: silver data files", lake: "file", run: diskFull(faultstore.Point{Key: "^silver/orders(_current)?/data/", After: 1 << 10})},
	{fault: "full disk: discarded data files", lake: "file", run: diskFull(faultstore.Point{Key: "^discarded/orders/data/", After: 1 << 10})},
	{fault: "full disk: route record", lake: "file", run: diskFull(faultstore.Point{Key: "^_meta/routes/"})},
	{fault: "full disk: Iceberg metadata commit", lake: "file", run: diskFull(faultstore.Point{Key: "^(silver|discarded)/orders(_current)?/metadata/"})},
	{fault: "full disk: archive copy", lake: "file", run: diskFull(faultstore.Point{Key: "^archive/", After: 1 << 10})},

	{fault: "kill -9 during ingest", lake: "file", run: killAt("bronze/landing/")},
	{fault: "kill -9 during validate", lake: "file", run: killAt("_meta/dq/")},
	{fault: "kill -9 during route", lake: "file", run: killAt("silver/orders/data/")},
	{fault: "kill -9 before the commit (crawl)", lake: "file", run: killAt("_meta/routes/")},

	// Defect 1 of issue 11, exactly: a reset of the 8th GET of
	// bronze/landing/ while a 200,000-row object is routed on an S3 lake.
	// Validate reads the object in 7 GETs, so the 8th is route's first
	// read of it.
	{fault: "defect 1: reset of the 8th bronze GET (route's read), 200,000 rows", lake: "s3", rows: 200_000, single: true,
		run: proxied(faultproxy.Fault{Method: "GET", Path: landingGET, Nth: 8, Times: 1, Action: faultproxy.ResetMidBody, Bytes: 4 << 10})},
}

// result is one row of the results table.
type result struct {
	fault, outcome                string
	lost, duplicates, quarantined int
}

var (
	resultsMu sync.Mutex
	results   []result
)

// TestFaults runs every case: the faulty run, then one clean rerun; the
// lake must then be as a fault-free run leaves it. The outcome says
// whether the faulty run had finished the work already. The results table
// is logged at the end.
func TestFaults(t *testing.T) {
	t.Cleanup(func() { t.Log("\n" + resultsTable()) })
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) { runCase(t, c) })
	}
}

func runCase(t *testing.T, c faultCase) {
	rows := c.rows
	if rows == 0 {
		rows = smallRows
	}
	e := newEnv(t, c.lake, rows, c.single)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("what the runs logged:\n%s", e.log.String())
		}
	})
	hits, failedRun := c.run(t, e)
	if !c.control && hits == 0 {
		t.Fatalf("the fault never struck")
	}
	first := e.inspect(t, c.control)
	// One clean rerun, always: it finishes what the faulty run left, and
	// after a run that finished it must change nothing.
	if f := e.run(t, e.direct); len(f) != 0 {
		t.Errorf("the clean rerun: executions failed: %v", f)
	}
	s := e.inspect(t, c.control)
	var how []string
	if hits > 0 {
		how = append(how, fmt.Sprintf("struck %d×", hits))
	}
	switch {
	case len(failedRun) > 0:
		how = append(how, "failed ("+strings.Join(slices.Compact(slices.Sorted(slices.Values(failedRun))), ", ")+")")
	case !first.ok():
		how = append(how, "run 1 succeeded but left: "+first.summary())
	case hits > 0:
		how = append(how, "retried")
	}
	switch {
	case !s.ok():
		how = append(how, "NOT repaired by the rerun")
	case first.ok() && len(failedRun) == 0:
		how = append(how, "finished in run 1")
	default:
		how = append(how, "finished by rerun")
	}
	outcome := strings.Join(how, ", ")
	for _, p := range s.problems {
		t.Error(p)
	}
	if c.control && len(failedRun) != 0 {
		t.Errorf("the control run: executions failed: %v", failedRun)
	}
	r := result{c.fault, outcome, s.lost, s.duplicates, s.quarantined}
	t.Logf("| %s | %s | %d | %d | %d |", r.fault, r.outcome, r.lost, r.duplicates, r.quarantined)
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
}

// resultsTable is the results as a Markdown table.
func resultsTable() string {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var b strings.Builder
	b.WriteString("| fault | outcome | rows lost | duplicates | quarantined |\n| --- | --- | ---: | ---: | ---: |\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", r.fault, r.outcome, r.lost, r.duplicates, r.quarantined)
	}
	return b.String()
}
