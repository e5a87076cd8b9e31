package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/catalog"
)

func TestCheckColumnNames(t *testing.T) {
	for _, tc := range []struct {
		description string
		names       []string
		bad         []string // what the error must name
	}{
		{"plain names", []string{"order_id", "Status", "_x", "a1"}, nil},
		{"a quote", []string{"order_id", `a"b`}, []string{`a\"b`}},
		{"a non-ASCII letter", []string{"prix €"}, []string{"prix €"}},
		{"a space", []string{"customer id"}, []string{"customer id"}},
		{"a leading digit", []string{"1st"}, []string{"1st"}},
		{"two names equal but for case", []string{"status", "Status"}, []string{`"status" and "Status"`}},
		{"too long", []string{strings.Repeat("a", 129)}, []string{"aaaa"}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			err := catalog.CheckColumnNames("orders", tc.names)
			if tc.bad == nil {
				if err != nil {
					t.Fatalf("CheckColumnNames(%q) = %v, want nil", tc.names, err)
				}
				return
			}
			var ne *catalog.ColumnNameError
			if !errors.As(err, &ne) || ne.Table != "orders" {
				t.Fatalf("CheckColumnNames(%q) = %v, want a *ColumnNameError", tc.names, err)
			}
			for _, b := range tc.bad {
				if !strings.Contains(err.Error(), b) {
					t.Errorf("error %q does not name %s", err, b)
				}
			}
		})
	}
}
