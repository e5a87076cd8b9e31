package requeue_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/pipeline/pipelinetest"
	"github.com/medallionlake/lake/internal/requeue"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
)

var ctx = context.Background()

var now = time.Date(2026, 12, 2, 8, 30, 0, 0, time.UTC)

// lake is a local lake with a separate archive, as in AWS, and the
// pipeline over them.
type lake struct {
	*bronzetest.Lake
	archive store.Store
	p       *pipeline.Pipeline
}

func newLake(t *testing.T) *lake {
	t.Helper()
	l := bronzetest.NewLake(t)
	archive, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Config{Lake: l.Store, Archive: archive, Tables: l.Tables, Catalog: localcatalog.New(l.Store)})
	return &lake{Lake: l, archive: archive, p: p}
}

// run puts data at key and runs validate, route and the commit on it.
func (l *lake) run(t *testing.T, key string, data []byte) *route.Output {
	t.Helper()
	info := bronzetest.Put(t, l.Store, key, data)
	return pipelinetest.Run(t, l.p, info)
}

func (l *lake) requeue(key string, force bool) (requeue.Result, error) {
	d := requeue.Deps{Lake: l.Store, Archive: l.archive, Now: func() time.Time { return now }}
	return requeue.Requeue(ctx, d, key, requeue.Options{Force: force})
}

// TestRequeueQuarantined requeues a quarantined object, by its key and by
// its report's: it lands under a new key with the same bytes, and routing
// it writes new outputs; the quarantined copy stays.
func TestRequeueQuarantined(t *testing.T) {
	data := []byte("hello, this is not a Parquet file at all\n")
	for _, c := range []struct {
		name string
		key  func(out *route.Output) string
	}{
		{"copy", func(out *route.Output) string { return out.QuarantineKey }},
		{"report", func(out *route.Output) string {
			k, _, _ := layout.KeysOfCopy(out.QuarantineKey)
			return k.QuarantineReport()
		}},
		{"archive", func(out *route.Output) string { return out.ArchiveKey }},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLake(t)
			out := l.run(t, "bronze/landing/orders/x/part-00000.parquet", data)
			if out.QuarantineKey == "" {
				t.Fatalf("route output %+v, want the object quarantined", out)
			}
			res, err := l.requeue(c.key(out), false)
			if err != nil {
				t.Fatal(err)
			}
			if want := "bronze/landing/orders/requeued-20261202T083000.000000Z/" + out.Stem + "/part-00000.parquet"; res.Key != want {
				t.Errorf("key = %s, want %s", res.Key, want)
			}
			if res.Original != out.Key || res.Table != "orders" {
				t.Errorf("result %+v, want the original key %s and table orders", res, out.Key)
			}
			if got := bronzetest.Get(t, l.Store, res.Key); !bytes.Equal(got, data) {
				t.Errorf("requeued bytes %q, want %q", got, data)
			}
			again := pipelinetest.Run(t, l.p, store.ObjectInfo{Key: res.Key, ETag: res.ETag, Size: res.Size})
			if again.Stem == out.Stem || again.QuarantineKey == "" || again.QuarantineKey == out.QuarantineKey {
				t.Errorf("routed again: stem %s quarantine %s; want a new stem and a new quarantine copy", again.Stem, again.QuarantineKey)
			}
			if _, err := l.Store.Stat(ctx, out.QuarantineKey); err != nil {
				t.Errorf("the first quarantined copy: %v, want it kept", err)
			}
		})
	}
}

// TestRequeueRefused refuses to route rows twice, unless forced, and
// names what is wrong with a key.
func TestRequeueRefused(t *testing.T) {
	l := newLake(t)
	out := l.run(t, "bronze/landing/orders/x/part-00000.parquet", bronzetest.OrdersParquet(t, bronzetest.GoodRows(20)))
	unrouted := layout.KeysFor("orders", "bronze/landing/orders/y/part-00000.parquet", "e1")
	if _, err := store.Copy(ctx, l.archive, unrouted.Archive(), l.archive, out.ArchiveKey, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key string
		refused   string // a *RefusedError saying this
		err       string // another error saying this
	}{
		{"routed", out.ArchiveKey, "its 20 rows were routed (20 to silver.orders, 0 to discarded.orders)", ""},
		{"not routed", unrouted.Archive(), "not routed", ""},
		{"not a copy", "silver/orders/data/x.parquet", "", "neither archive/"},
		{"no such copy", "archive/orders/nosuch-000000000000/x.parquet", "not routed", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := l.requeue(c.key, false)
			var refused *requeue.RefusedError
			switch {
			case c.refused != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), c.refused)):
				t.Errorf("err = %v, want a refusal saying %q", err, c.refused)
			case c.err != "" && (err == nil || errors.As(err, &refused) || !strings.Contains(err.Error(), c.err)):
				t.Errorf("err = %v, want an error saying %q", err, c.err)
			}
		})
	}

	// Forced, a routed object lands again.
	res, err := l.requeue(out.ArchiveKey, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Store.Stat(ctx, res.Key); err != nil {
		t.Errorf("forced requeue: %v", err)
	}
	// Forced, a copy that is not there is named.
	if _, err := l.requeue("archive/orders/nosuch-000000000000/x.parquet", true); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("err = %v, want not found naming the key", err)
	}
}
