package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/pipeline/pipelinetest"
	"github.com/medallionlake/lake/internal/reconcile"
)

// TestRepairCommands drives `lake reconcile` and `lake requeue` over a
// lake with a committed object, a quarantined one and one whose commit
// did not run.
func TestRepairCommands(t *testing.T) {
	ctx := context.Background()
	l := bronzetest.NewLake(t)
	lake := "file://" + l.Dir
	good := bronzetest.Put(t, l.Store, "bronze/landing/orders/a/part-00000.parquet", bronzetest.OrdersParquet(t, bronzetest.GoodRows(30)))
	bronzetest.Put(t, l.Store, "bronze/landing/orders/b/part-00000.parquet", []byte("not parquet"))
	if _, _, err := lakeCmd(t, "run", lake, ""); err != nil {
		t.Fatalf("lake run: %v", err)
	}

	// A third object, routed but not committed.
	p := pipeline.New(pipeline.Config{Lake: l.Store, Tables: l.Tables, Catalog: localcatalog.New(l.Store)})
	info := bronzetest.Put(t, l.Store, "bronze/landing/orders/c/part-00000.parquet", bronzetest.OrdersParquet(t, bronzetest.GoodRows(5)))
	pipelinetest.Route(t, p, info)

	out, _, err := lakeCmd(t, "reconcile", lake, "", "--dry-run")
	if err == nil || !strings.Contains(err.Error(), "1 route record(s) differ") {
		t.Errorf("reconcile --dry-run: err %v, want 1 record differing", err)
	}
	if !strings.Contains(out, "bronze/landing/orders/c/part-00000.parquet  pending") {
		t.Errorf("reconcile --dry-run output lacks the pending object:\n%s", out)
	}
	out, _, err = lakeCmd(t, "reconcile", lake, "", "--format", "json")
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Records[reconcile.Committed] != 2 || len(rep.Findings) != 1 || !rep.Findings[0].Repaired {
		t.Errorf("reconcile report %+v, want 2 committed and the pending one repaired", rep)
	}
	if _, _, err := lakeCmd(t, "reconcile", lake, ""); err != nil {
		t.Errorf("reconcile after the repair: %v", err)
	}

	// The quarantined object, requeued, lands again; the routed one is
	// refused.
	var quarantine string
	for obj, err := range l.Store.List(ctx, "discarded/orders/quarantine/") {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(obj.Key, ".parquet") {
			quarantine = obj.Key
		}
	}
	archive := layout.KeysFor("orders", good.Key, good.ETag).Archive()
	out, stderr, err := lakeCmd(t, "requeue", lake, "", quarantine)
	if err != nil || !strings.HasPrefix(out, quarantine+" -> bronze/landing/orders/requeued-") || !strings.Contains(stderr, "lake run") {
		t.Errorf("requeue %s: %v; printed %q, %q", quarantine, err, out, stderr)
	}
	if _, _, err := lakeCmd(t, "requeue", lake, "", archive); err == nil || !strings.Contains(err.Error(), "30 rows were routed") {
		t.Errorf("requeue of a routed object: err %v, want a refusal", err)
	}
}
