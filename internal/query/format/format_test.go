package format_test

import (
	"bytes"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/query/format"
)

func TestValues(t *testing.T) {
	ts := time.Date(2024, 1, 31, 10, 0, 0, 250_000_000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		description    string
		v              format.Value
		text, jsonText string
	}{
		{"decimal keeps its scale", format.Decimal(big.NewInt(1250), 2), "12.50", "12.50"},
		{"small negative decimal", format.Decimal(big.NewInt(-5), 2), "-0.05", "-0.05"},
		{"zero decimal", format.Decimal(big.NewInt(0), 2), "0.00", "0.00"},
		{"decimal without scale", format.Decimal(big.NewInt(42), 0), "42", "42"},
		{"float", format.Float(0.1), "0.1", "0.1"},
		{"NaN is a JSON string", format.Float(math.NaN()), "NaN", ""},
		{"instant in UTC", format.Timestamp(ts, true), "2024-01-31 09:00:00.25Z", `"2024-01-31T09:00:00.25Z"`},
		{"local timestamp as written", format.Timestamp(ts, false), "2024-01-31 10:00:00.25", `"2024-01-31T10:00:00.25"`},
		{"whole second", format.Timestamp(ts.Truncate(time.Second), true), "2024-01-31 09:00:00Z", `"2024-01-31T09:00:00Z"`},
		{"date", format.Date(ts), "2024-01-31", ""},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if tc.v.Text != tc.text || tc.v.JSON != tc.jsonText {
				t.Errorf("got text %q json %q, want %q %q", tc.v.Text, tc.v.JSON, tc.text, tc.jsonText)
			}
		})
	}
}

func TestEmptyResult(t *testing.T) {
	for _, tc := range []struct{ kind, want string }{
		{format.Table, "n\n-\n(0 rows)\n"},
		{format.CSV, "n\n"},
		{format.JSON, "[]\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			var b bytes.Buffer
			w, err := format.New(&b, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Header([]format.Column{{Name: "n", Numeric: true}}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := format.New(nil, "xml"); err == nil {
		t.Errorf("New(xml): no error")
	}
}

func TestJSONKeepsRulesReadable(t *testing.T) {
	var b bytes.Buffer
	w, _ := format.New(&b, format.JSON)
	if err := w.Header([]format.Column{{Name: "rule"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Row([]format.Value{format.String(`ColumnValues "amount" > 0 & < 10`)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "[\n  {\"rule\": \"ColumnValues \\\"amount\\\" > 0 & < 10\"}\n]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
