package pipeline

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/schemas"
)

// TestMaintainModes: the maintain task takes exactly one of plan, table
// and finish; a plan lists the items, a finish of successes reports them,
// and a table needs the Iceberg catalog.
func TestMaintainModes(t *testing.T) {
	tables, err := contract.LoadFS(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Tables: tables}).Handler("maintain")
	for _, tc := range []struct {
		description, in string
		out, err        string
	}{
		{"no mode", `{}`, "", `want exactly one of "plan", "table" and "finish"`},
		{"two modes", `{"plan": {}, "finish": {"results": []}}`, "", `want exactly one of`},
		{"a plan of everything", `{"plan": {"source": "schedule"}}`, `{"items":[{"table":"orders","kind":"silver"},{"table":"orders","kind":"current"},{"table":"orders","kind":"discarded"}]}`, ""},
		{"a plan of a table without a contract", `{"plan": {"tables": ["nosuch"]}}`, "", `table "nosuch"`},
		{"a table without an Iceberg catalog", `{"table": {"table": "orders", "kind": "silver"}}`, "", "no Iceberg catalog configured"},
		{"a finish of nothing", `{"finish": {"results": []}}`, `{"report":{"tables":[],"maintained":0,"absent":0,"failed":0}}`, ""},
	} {
		t.Run(tc.description, func(t *testing.T) {
			out, err := h(t.Context(), json.RawMessage(tc.in))
			if tc.err != "" {
				var bad *BadInputError
				if !errors.As(err, &bad) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s: %v, want a *BadInputError saying %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.out {
				t.Errorf("%s:\n got %s\nwant %s", tc.in, out, tc.out)
			}
		})
	}
}
