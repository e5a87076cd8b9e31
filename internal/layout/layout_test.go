package layout_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

const key = "bronze/landing/orders/20260101T000000.000000Z_20260102T000000.000000Z/all/part-0.parquet"

func TestTableOf(t *testing.T) {
	for _, tc := range []struct {
		key, table string
		ok         bool
	}{
		{key, "orders", true},
		{"bronze/landing/orders/x.parquet", "orders", true},
		{"bronze/landing/orders", "", false},
		{"bronze/landing/orders/", "", false},
		{"silver/staging/orders/x.parquet", "", false},
		{"/bronze/landing/orders/x.parquet", "", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, err := layout.TableOf(tc.key)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, layout.ErrNotLanding)) {
				t.Fatalf("TableOf(%q) error %v, want ok=%v or ErrNotLanding", tc.key, err, tc.ok)
			}
			if got != tc.table {
				t.Fatalf("TableOf(%q)=%q, want %q", tc.key, got, tc.table)
			}
		})
	}
}

func TestStem(t *testing.T) {
	s := layout.Stem(key, "abc")
	if got, want := s, "20260101T000000.000000Z_20260102T000000.000000Z_all_part-0-"; !strings.HasPrefix(got, want) || len(got) != len(want)+12 {
		t.Fatalf("Stem=%q, want %q + 12 hex digits", got, want)
	}
	if got := layout.Stem(key, `"abc"`); got != s {
		t.Errorf("quoted ETag gives %q, unquoted %q: want equal", got, s)
	}
	if got := layout.Stem(key, "abd"); got == s {
		t.Errorf("another ETag gives the same stem %q", got)
	}
	if got := layout.Stem(strings.Replace(key, "part-0", "part-1", 1), "abc"); got == s {
		t.Errorf("another key gives the same stem %q", got)
	}
	long := "bronze/landing/orders/" + strings.Repeat("é", 400) + ".parquet"
	ls := layout.Stem(long, "e")
	k := layout.KeysFor("orders", long, "e")
	for _, key := range []string{k.Archive(), k.Quarantine(), k.QuarantineReport(), k.RowLog(), k.RouteRecord()} {
		if err := store.ValidateKey(key); err != nil || len(ls) > 200 {
			t.Errorf("long key gives stem of %d bytes, key %q: %v", len(ls), key, err)
		}
	}
}

func TestKeys(t *testing.T) {
	k := layout.KeysFor("orders", key, "e1")
	s := k.Stem
	for _, tc := range []struct{ got, want string }{
		{k.Archive(), "archive/orders/" + s + "/part-0.parquet"},
		{k.Quarantine(), "discarded/orders/quarantine/" + s + "/part-0.parquet"},
		{k.QuarantineReport(), "discarded/orders/quarantine/" + s + "/report.json"},
		{k.DQResult(), "_meta/dq/orders/" + s + ".json"},
		{k.RouteRecord(), "_meta/routes/orders/" + s + ".json"},
		{k.RowLog(), "_meta/dqrows/orders/" + s + ".rowlog"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
}

func TestKeysOfCopy(t *testing.T) {
	k := layout.KeysFor("orders", key, "e1")
	report := k
	report.File = ""
	for _, tc := range []struct {
		key         string
		want        layout.Keys
		quarantined bool
		err         bool
	}{
		{key: k.Archive(), want: k},
		{key: k.Quarantine(), want: k, quarantined: true},
		{key: k.QuarantineReport(), want: report, quarantined: true},
		{key: "archive/orders/" + k.Stem, err: true},
		{key: "archive//" + k.Stem + "/x.parquet", err: true},
		{key: "discarded/orders/rows/" + k.Stem + "/x.parquet", err: true},
		{key: "discarded/orders/data/x.parquet", err: true},
		{key: key, err: true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, q, err := layout.KeysOfCopy(tc.key)
			if tc.err {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want || q != tc.quarantined {
				t.Errorf("got %+v, %v, %v; want %+v, %v", got, q, err, tc.want, tc.quarantined)
			}
		})
	}
}
