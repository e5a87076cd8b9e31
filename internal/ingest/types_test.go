package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestJSONRoundTrip decodes every fixture in testdata/ into its type,
// refusing unknown fields, and encodes it back to the same bytes.
func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"request.json", &Request{}},
		{"plan-request.json", &PlanRequest{}},
		{"plan.json", &Plan{}},
		{"result.json", &Result{}},
		{"commit-request.json", &CommitRequest{}},
		{"watermark.json", &WatermarkRecord{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(want))
			dec.DisallowUnknownFields()
			if err := dec.Decode(tc.v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if got = append(got, '\n'); !bytes.Equal(got, want) {
				t.Errorf("round trip changed the JSON:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestInstant(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2025, 11, 26, 11, 0, 0, 123456789, time.UTC), "2025-11-26T11:00:00.123456Z"},
		{"chatham", time.Date(2025, 11, 27, 0, 45, 0, 123456000, time.FixedZone("CHADT", 13*3600+45*60)), "2025-11-26T11:00:00.123456Z"},
		{"st_johns", time.Date(2025, 11, 26, 7, 30, 0, 123456000, time.FixedZone("NST", -(3*3600+30*60))), "2025-11-26T11:00:00.123456Z"},
		{"before epoch", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), "1969-12-31T23:59:59.999999Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := InstantOf(tc.in)
			if got := i.String(); got != tc.want {
				t.Errorf("InstantOf(%v).String() = %s, want %s", tc.in, got, tc.want)
			}
			b, err := json.Marshal(i)
			if err != nil {
				t.Fatal(err)
			}
			var back Instant
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back != i {
				t.Errorf("JSON %s decoded to %d, want %d", b, back, i)
			}
		})
	}
}

func TestInstantRejects(t *testing.T) {
	for _, in := range []string{`{"us":"12.5"}`, `{"us":""}`, `{"utc":"2025-11-26T11:00:00Z"}`, `"2025-11-26T11:00:00Z"`, `{"us":12}`} {
		var i Instant
		if err := json.Unmarshal([]byte(in), &i); err == nil {
			t.Errorf("Unmarshal(%s) = %d, want an error", in, i)
		}
	}
}

func TestObjectKey(t *testing.T) {
	lo := InstantOf(time.Date(2025, 11, 26, 10, 0, 0, 0, time.UTC))
	hi := InstantOf(time.Date(2025, 11, 26, 11, 0, 0, 123456000, time.UTC))
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		lo   *Instant
		r    *KeyRange
		part int
		want string
	}{
		{"first load", nil, nil, 0, "bronze/landing/orders/start_20251126T110000.123456Z/all/part-00000.parquet"},
		{"incremental", &lo, nil, 12, "bronze/landing/orders/20251126T100000.000000Z_20251126T110000.123456Z/all/part-00012.parquet"},
		{"first range", &lo, &KeyRange{Column: "order_id", To: n(-5)}, 0, "bronze/landing/orders/20251126T100000.000000Z_20251126T110000.123456Z/min_-5/part-00000.parquet"},
		{"middle range", &lo, &KeyRange{Column: "order_id", From: n(-5), To: n(100)}, 1, "bronze/landing/orders/20251126T100000.000000Z_20251126T110000.123456Z/-5_100/part-00001.parquet"},
		{"last range", &lo, &KeyRange{Column: "order_id", From: n(100)}, 0, "bronze/landing/orders/20251126T100000.000000Z_20251126T110000.123456Z/100_max/part-00000.parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ObjectKey("orders", tc.lo, hi, tc.r, tc.part); got != tc.want {
				t.Errorf("ObjectKey = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSplitAt(t *testing.T) {
	for _, tc := range []struct {
		name string
		cuts []int64
		want string
	}{
		{"none", nil, "all"},
		{"one", []int64{10}, "min_10 10_max"},
		{"three", []int64{-3, 10, 11}, "min_-3 -3_10 10_11 11_max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			for i, r := range splitAt("k", tc.cuts) {
				if i > 0 {
					got += " "
				}
				got += r.keyPart()
			}
			if got != tc.want {
				t.Errorf("splitAt(%v) = %s, want %s", tc.cuts, got, tc.want)
			}
		})
	}
}
