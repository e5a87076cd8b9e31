package sqlnames_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/query/sqlnames"
)

// spell writes the names as "a.b" (quoted parts in double quotes), and
// checks that each part's span is what the statement holds there.
func spell(t *testing.T, sql string, names []sqlnames.Name) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		var parts []string
		for _, p := range n {
			text := sql[p.Start:p.End]
			want := p.Name
			if p.Quoted {
				want = `"` + strings.ReplaceAll(p.Name, `"`, `""`) + `"`
			}
			if text != want {
				t.Errorf("part %q spans %q", want, text)
			}
			parts = append(parts, want)
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		description, sql string
		want             []string
	}{
		{"qualified tables", "SELECT * FROM silver.orders s JOIN discarded.orders d ON s.order_id = d.order_id",
			[]string{"silver.orders", "discarded.orders", "s.order_id", "d.order_id"}},
		{"three parts", "SELECT * FROM awsdatacatalog.silver.orders", []string{"awsdatacatalog.silver.orders"}},
		{"quoted, with an escaped quote", `SELECT * FROM "silver"."we""ird"`, []string{`"silver"."we""ird"`}},
		{"white space and comments around the dot", "SELECT * FROM SILVER . orders, meta /* x */ .\n watermarks", []string{"SILVER.orders", "meta.watermarks"}},
		{"single identifiers are not names", "SELECT meta, silver FROM t WHERE discarded > 0", nil},
		{"literals and comments are skipped", "SELECT 'silver.orders', 'it''s' -- silver.orders\nFROM /* meta.x */ silver.t", []string{"silver.t"}},
		{"a star ends a name", "SELECT s.* FROM silver.orders s", []string{"silver.orders"}},
		{"numbers are not names", "SELECT 1.5, x.y FROM a.b", []string{"x.y", "a.b"}},
		{"a trailing line comment", "SELECT * FROM silver.orders -- the end", []string{"silver.orders"}},
		{"a name at the very end", "SELECT * FROM silver.orders", []string{"silver.orders"}},
		{"two dots end a name", "SELECT a..b", nil},
	} {
		t.Run(tc.description, func(t *testing.T) {
			names, err := sqlnames.Find(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if got := spell(t, tc.sql, names); !slices.Equal(got, tc.want) {
				t.Errorf("Find(%q) = %q, want %q", tc.sql, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"SELECT 'open", `SELECT "open`, "SELECT /* open"} {
		if _, err := sqlnames.Find(bad); err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("Find(%q) = %v, want an unterminated error", bad, err)
		}
	}
}

func TestFolded(t *testing.T) {
	names, err := sqlnames.Find(`SELECT * FROM "Silver".ORDERS`)
	if err != nil || len(names) != 1 {
		t.Fatalf("Find: %v, %v", names, err)
	}
	if got := names[0][0].Folded() + "." + names[0][1].Folded(); got != "silver.orders" {
		t.Errorf("folded = %q, want silver.orders", got)
	}
}
