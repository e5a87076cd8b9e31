package dqdl_test

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/dqdl"
)

// one parses a ruleset holding a single rule.
func one(t *testing.T, rule string) *dqdl.Rule {
	t.Helper()
	rs, err := dqdl.Parse("Rules = [ " + rule + " ]")
	if err != nil {
		t.Fatalf("Parse(%q): %v", rule, err)
	}
	if got, want := len(rs.Rules), 1; got != want {
		t.Fatalf("rules=%d, want %d", got, want)
	}
	return rs.Rules[0]
}

func TestParseRuleTypes(t *testing.T) {
	tests := []struct {
		rule    string
		typ     string
		cols    []string
		op      dqdl.Op
		nvalues int
	}{
		{`RowCount > 0`, "RowCount", nil, dqdl.OpGt, 1},
		{`RowCount between 10 and 100`, "RowCount", nil, dqdl.OpBetween, 2},
		{`RowCount not between 10 and 100`, "RowCount", nil, dqdl.OpNotBetween, 2},
		{`ColumnCount = 7`, "ColumnCount", nil, dqdl.OpEq, 1},
		{`ColumnExists "order_id"`, "ColumnExists", []string{"order_id"}, 0, 0},
		{`IsComplete "order_id"`, "IsComplete", []string{"order_id"}, 0, 0},
		{`Completeness "customer_id" >= 0.95`, "Completeness", []string{"customer_id"}, dqdl.OpGe, 1},
		{`IsUnique "order_id"`, "IsUnique", []string{"order_id"}, 0, 0},
		{`Uniqueness "order_id" > 0.99`, "Uniqueness", []string{"order_id"}, dqdl.OpGt, 1},
		{`Uniqueness "vendorid" "tpep_pickup_datetime" = 1`, "Uniqueness", []string{"vendorid", "tpep_pickup_datetime"}, dqdl.OpEq, 1},
		{`Uniqueness "Customer_ID" != 1.0 where "Customer_ID < 10"`, "Uniqueness", []string{"Customer_ID"}, dqdl.OpNe, 1},
		{`IsPrimaryKey "order_id"`, "IsPrimaryKey", []string{"order_id"}, 0, 0},
		{`IsUnique "vendorid" "tpep_pickup_datetime"`, "IsUnique", []string{"vendorid", "tpep_pickup_datetime"}, 0, 0},
		{`IsPrimaryKey "a" "b"`, "IsPrimaryKey", []string{"a", "b"}, 0, 0},
		{`ColumnValues "amount" >= 0`, "ColumnValues", []string{"amount"}, dqdl.OpGe, 1},
		{`ColumnValues "amount" < -1.5`, "ColumnValues", []string{"amount"}, dqdl.OpLt, 1},
		{`ColumnValues "amount" <= 10`, "ColumnValues", []string{"amount"}, dqdl.OpLe, 1},
		{`ColumnValues "status" = "PAID"`, "ColumnValues", []string{"status"}, dqdl.OpEq, 1},
		{`ColumnValues "status" != "PAID"`, "ColumnValues", []string{"status"}, dqdl.OpNe, 1},
		{`ColumnValues "status" != NULL`, "ColumnValues", []string{"status"}, dqdl.OpNe, 1},
		{`ColumnValues "status" in ["A", "B", NULL, EMPTY, WHITESPACES_ONLY]`, "ColumnValues", []string{"status"}, dqdl.OpIn, 5},
		{`ColumnValues "status" not in ["A"]`, "ColumnValues", []string{"status"}, dqdl.OpNotIn, 1},
		{`ColumnValues "id" in [1, 2, 3]`, "ColumnValues", []string{"id"}, dqdl.OpIn, 3},
		{`ColumnValues "currency" matches "[A-Z]{3}"`, "ColumnValues", []string{"currency"}, dqdl.OpMatches, 1},
		{`ColumnValues "currency" not matches "[a-z]+"`, "ColumnValues", []string{"currency"}, dqdl.OpNotMatches, 1},
		{`ColumnValues "amount" between 0 and 100`, "ColumnValues", []string{"amount"}, dqdl.OpBetween, 2},
		{`ColumnValues "d" > "2024-01-01"`, "ColumnValues", []string{"d"}, dqdl.OpGt, 1},
		{`ColumnValues "d" <= now()`, "ColumnValues", []string{"d"}, dqdl.OpLe, 1},
		{`ColumnValues "d" > (now() - 3 days)`, "ColumnValues", []string{"d"}, dqdl.OpGt, 1},
		{`ColumnValues "d" > now() - 3 days`, "ColumnValues", []string{"d"}, dqdl.OpGt, 1},
		{`ColumnValues "d" between "2024-01-01" and (now() + 4 hours)`, "ColumnValues", []string{"d"}, dqdl.OpBetween, 2},
		{`ColumnValues "d" in ["2024-01-01", "2024-01-02"]`, "ColumnValues", []string{"d"}, dqdl.OpIn, 2},
		{`ColumnLength "currency" = 3`, "ColumnLength", []string{"currency"}, dqdl.OpEq, 1},
		{`ColumnLength "name" between 1 and 64`, "ColumnLength", []string{"name"}, dqdl.OpBetween, 2},
		{`DataFreshness "updated_at" <= 24 hours`, "DataFreshness", []string{"updated_at"}, dqdl.OpLe, 1},
		{`DataFreshness "updated_at" between 2 days and 5 days`, "DataFreshness", []string{"updated_at"}, dqdl.OpBetween, 2},
		{`DataFreshness "updated_at" < 30 minutes`, "DataFreshness", []string{"updated_at"}, dqdl.OpLt, 1},
		{`Mean "amount" between 10 and 1000`, "Mean", []string{"amount"}, dqdl.OpBetween, 2},
		{`Sum "amount" > 0`, "Sum", []string{"amount"}, dqdl.OpGt, 1},
		{`StandardDeviation "amount" < 500.25`, "StandardDeviation", []string{"amount"}, dqdl.OpLt, 1},
		{`DistinctValuesCount "status" <= 6`, "DistinctValuesCount", []string{"status"}, dqdl.OpLe, 1},
		{`DistinctValuesCount "status" in [5, 6]`, "DistinctValuesCount", []string{"status"}, dqdl.OpIn, 2},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r := one(t, tt.rule)
			if r.Type != tt.typ || r.Logic != dqdl.Leaf {
				t.Fatalf("type=%q logic=%v, want %q leaf", r.Type, r.Logic, tt.typ)
			}
			if got, want := strings.Join(r.Columns, ","), strings.Join(tt.cols, ","); got != want {
				t.Errorf("columns=%q, want %q", got, want)
			}
			if got, want := r.Text, tt.rule; got != want {
				t.Errorf("text=%q, want %q", got, want)
			}
			if tt.nvalues == 0 {
				if r.Cond != nil {
					t.Errorf("cond=%+v, want none", r.Cond)
				}
				return
			}
			if r.Cond == nil {
				t.Fatal("no condition")
			}
			if got, want := r.Cond.Op, tt.op; got != want {
				t.Errorf("op=%v, want %v", got, want)
			}
			if got, want := len(r.Cond.Values), tt.nvalues; got != want {
				t.Errorf("values=%d, want %d", got, want)
			}
		})
	}
}

func TestParseOperands(t *testing.T) {
	r := one(t, `ColumnValues "d" between "2024-01-31" and (now() - 3 days)`)
	lo, hi := r.Cond.Values[0], r.Cond.Values[1]
	if got, want := lo.Date, time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC); lo.Kind != dqdl.KDate || !got.Equal(want) {
		t.Errorf("lo=%+v, want date %v", lo, want)
	}
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	if got, want := hi.Resolve(now), now.Add(-72*time.Hour); hi.Kind != dqdl.KDate || !got.Equal(want) {
		t.Errorf("hi resolves to %v, want %v", got, want)
	}
	r = one(t, `ColumnValues "amount" >= -0.01`)
	if got, want := r.Cond.Values[0].Num, big.NewRat(-1, 100); got.Cmp(want) != 0 {
		t.Errorf("number=%v, want %v (exact)", got, want)
	}
	r = one(t, `DataFreshness "u" <= 36 hours`)
	if got, want := r.Cond.Values[0].Dur, 36*time.Hour; got != want {
		t.Errorf("duration=%v, want %v", got, want)
	}
	r = one(t, `ColumnValues "s" matches "a\"b\\d"`)
	if got, want := r.Cond.Values[0].Str, `a"b\d`; got != want {
		t.Errorf("regex=%q, want %q", got, want)
	}
}

func TestParseClauses(t *testing.T) {
	r := one(t, `ColumnValues "s" in ["A","B"] where "amount > 10 AND (currency = 'EUR' OR currency IS NULL)" with threshold > 0.9 labels=["sev":"high"]`)
	if r.Where == nil || r.WhereText != "amount > 10 AND (currency = 'EUR' OR currency IS NULL)" {
		t.Errorf("where=%v %q", r.Where, r.WhereText)
	}
	if got, want := strings.Join(r.Where.Columns(nil), ","), "amount,currency,currency"; got != want {
		t.Errorf("where columns=%q, want %q", got, want)
	}
	if r.Threshold == nil || r.Threshold.Op != dqdl.OpGt || r.Threshold.Values[0].Num.Cmp(big.NewRat(9, 10)) != 0 {
		t.Errorf("threshold=%+v", r.Threshold)
	}
	if got, want := len(r.Labels), 1; got != want || r.Labels[0] != (dqdl.Label{Key: "sev", Value: "high"}) {
		t.Errorf("labels=%v", r.Labels)
	}
	// with threshold may also come before where
	r = one(t, `ColumnLength "s" = 3 with threshold >= 0.5 where "s IS NOT NULL"`)
	if r.Threshold == nil || r.Where == nil {
		t.Errorf("threshold=%v where=%v, want both", r.Threshold, r.Where)
	}
}

func TestParseComposite(t *testing.T) {
	rs, err := dqdl.Parse(`Rules = [
  (IsComplete "a") and (IsUnique "a"),
  (RowCount > 0) or ((IsComplete "b") and (ColumnValues "b" > 0)),
  ((IsComplete "c")),
  (IsComplete "a") and (IsComplete "b") or (IsComplete "c")
]`)
	if err != nil {
		t.Fatal(err)
	}
	r := rs.Rules[0]
	if r.Logic != dqdl.And || len(r.Children) != 2 || r.Text != `(IsComplete "a") and (IsUnique "a")` {
		t.Errorf("rule 0: logic=%v children=%d text=%q", r.Logic, len(r.Children), r.Text)
	}
	r = rs.Rules[1]
	if r.Logic != dqdl.Or || r.Children[1].Logic != dqdl.And || r.Children[1].Children[1].Type != "ColumnValues" {
		t.Errorf("rule 1: %+v", r)
	}
	if got := rs.Rules[2]; got.Logic != dqdl.Leaf || got.Type != "IsComplete" {
		t.Errorf("rule 2: parentheses around one rule: %+v", got)
	}
	// and binds tighter than or
	r = rs.Rules[3]
	if r.Logic != dqdl.Or || r.Children[0].Logic != dqdl.And {
		t.Errorf("rule 3: logic=%v first=%v, want or of (and, leaf)", r.Logic, r.Children[0].Logic)
	}
}

func TestParseDocument(t *testing.T) {
	rs, err := dqdl.Parse(`# header comment
Metadata = { "Version": "1.0" }
allowed = ["A", "B"]   # a list constant
one = "C"
DefaultLabels = ["team":"data", "sev":"low"]
Rules = [
  ColumnValues "s" in $allowed,          # trailing comment
  ColumnValues "s" in [$one, "D", $allowed],
  ColumnValues "s" = $one labels=["sev":"high"]
]
`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rs.Metadata["Version"], "1.0"; got != want {
		t.Errorf("metadata version=%q, want %q", got, want)
	}
	if got, want := len(rs.Rules[0].Cond.Values), 2; got != want {
		t.Errorf("$allowed gives %d values, want %d", got, want)
	}
	if got, want := len(rs.Rules[1].Cond.Values), 4; got != want {
		t.Errorf("[$one, \"D\", $allowed] gives %d values, want %d", got, want)
	}
	if got, want := rs.Rules[2].Cond.Values[0].Str, "C"; got != want {
		t.Errorf("= $one gives %q, want %q", got, want)
	}
	labels := func(r *dqdl.Rule) map[string]string {
		m := map[string]string{}
		for _, l := range r.Labels {
			m[l.Key] = l.Value
		}
		return m
	}
	if got := labels(rs.Rules[0]); got["team"] != "data" || got["sev"] != "low" {
		t.Errorf("default labels=%v", got)
	}
	if got := labels(rs.Rules[2]); got["team"] != "data" || got["sev"] != "high" {
		t.Errorf("own labels over defaults=%v", got)
	}
	rs, err = dqdl.Parse(`DefaultLabels = ["team":"data"] Rules = [ (IsComplete "a") and (IsComplete "b") ]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := labels(rs.Rules[0]); got["team"] != "data" {
		t.Errorf("composite rule labels=%v, want the defaults", got)
	}
	if rs, err := dqdl.Parse("Rules = [ ]"); err != nil || len(rs.Rules) != 0 {
		t.Errorf("empty rules: %v %v", rs, err)
	}
}

func TestParseErrors(t *testing.T) {
	deep := "Rules = [ " + strings.Repeat("(", dqdl.MaxDepth+1) + `IsComplete "a"` + strings.Repeat(")", dqdl.MaxDepth+1) + " ]"
	deepWhere := `Rules = [ IsComplete "a" where "` + strings.Repeat("(", dqdl.MaxDepth+1) + "a = 1" + strings.Repeat(")", dqdl.MaxDepth+1) + `" ]`
	huge := `Rules = [ ColumnValues "a" matches "` + strings.Repeat("a", dqdl.MaxRegexLen+1) + `" ]`
	tests := []struct {
		name, src, pos, msg string
	}{
		{"no rules section", `x = "a"`, "1:8", "expected a Rules = [ ... ] section"},
		{"lower-case rules", `rules = [ RowCount > 0 ]`, "1:1", `expected Rules (DQDL is case sensitive)`},
		{"missing =", `Rules [ RowCount > 0 ]`, "1:7", `expected "=" after Rules`},
		{"missing [", `Rules = RowCount > 0`, "1:9", `expected "[" to open the rules list`},
		{"unclosed list", `Rules = [ RowCount > 0`, "1:23", `expected ',', ']', and, or, where, with threshold or labels after the rule, found end of file`},
		{"unknown rule type", `Rules = [ CustomSql "select 1" ]`, "1:11", `unsupported rule type "CustomSql"`},
		{"rule type case", `Rules = [ rowcount > 0 ]`, "1:11", `unsupported rule type "rowcount"`},
		{"missing column", `Rules = [ IsComplete ]`, "1:22", "expected a column name in double quotes after IsComplete"},
		{"too many columns", `Rules = [ IsComplete "a" "b" ]`, "1:26", "IsComplete takes 1 column parameter(s)"},
		{"empty column", `Rules = [ IsComplete "" ]`, "1:22", "expected a column name, found an empty string"},
		{"missing condition", `Rules = [ RowCount ]`, "1:20", "expected =, !=, <, <=, >, >=, [not] between or [not] in"},
		{"bad operator", `Rules = [ ColumnValues "a" ~ 3 ]`, "1:28", `unexpected character '~'`},
		{"string ordering", `Rules = [ ColumnValues "a" > "x" ]`, "1:28", `compares with "x" only by = or !=`},
		{"number expected", `Rules = [ RowCount > "x" ]`, "1:22", "expected a number"},
		{"between without and", `Rules = [ RowCount between 1 5 ]`, "1:30", "expected and in between"},
		{"between mixed", `Rules = [ ColumnValues "a" between 1 and "2024-01-01" ]`, "1:28", "expected between two numbers, two dates or two durations"},
		{"not alone", `Rules = [ ColumnValues "a" not > 3 ]`, "1:32", "expected between, in or matches after not"},
		{"matches on number rule", `Rules = [ RowCount matches "a" ]`, "1:20", "RowCount does not take matches"},
		{"bad regex", `Rules = [ ColumnValues "a" matches "(" ]`, "1:36", "invalid regular expression"},
		{"huge regex", huge, "1:36", "regular expression longer than"},
		{"unterminated string", `Rules = [ IsComplete "a ]`, "1:22", "unterminated string"},
		{"bad duration unit", `Rules = [ DataFreshness "u" <= 3 weeks ]`, "1:34", "expected a duration unit (days, hours or minutes)"},
		{"duration glued", `Rules = [ DataFreshness "u" <= 3days ]`, "1:32", "expected a space after the number"},
		{"fractional duration", `Rules = [ DataFreshness "u" <= 1.5 days ]`, "1:36", "expected a whole number of days"},
		{"bad date", `Rules = [ ColumnValues "d" > "2024-13-45" ]`, "1:30", `invalid date "2024-13-45"`},
		{"now without parens", `Rules = [ ColumnValues "d" > now ]`, "1:34", `expected "(" after now`},
		{"undefined constant", `Rules = [ ColumnValues "a" in $nope ]`, "1:31", "undefined constant $nope"},
		{"list constant as value", "l = [\"a\",\"b\"]\nRules = [ ColumnValues \"a\" = $l ]", "2:30", "constant $l is a list"},
		{"constant twice", "a = \"x\"\na = \"y\"\nRules = [ ]", "2:1", `constant "a" declared twice`},
		{"threshold on IsComplete", `Rules = [ IsComplete "a" with threshold > 0.5 ]`, "1:26", "IsComplete does not take with threshold"},
		{"threshold out of range", `Rules = [ ColumnValues "a" > 0 with threshold > 1.5 ]`, "1:32", "threshold 1.5 is not a fraction between 0 and 1"},
		{"with without threshold", `Rules = [ ColumnValues "a" > 0 with > 0.5 ]`, "1:37", "expected threshold after with"},
		{"where on ColumnCount", `Rules = [ ColumnCount > 1 where "a > 1" ]`, "1:27", "ColumnCount does not take a where clause"},
		{"where not quoted", `Rules = [ IsComplete "a" where a > 1 ]`, "1:32", "expected the where clause's SQL predicate in double quotes"},
		{"where function", `Rules = [ IsComplete "a" where "upper(s) = 'A'" ]`, "1:33", "function upper() is not supported"},
		{"where dangling and", `Rules = [ IsComplete "a" where "a = 1 AND" ]`, "1:42", "expected a column or a literal"},
		{"where missing operator", `Rules = [ IsComplete "a" where "a 1" ]`, "1:35", "expected a comparison"},
		{"where unterminated literal", `Rules = [ IsComplete "a" where "s = 'x" ]`, "1:37", "unterminated string literal"},
		{"where bad character", `Rules = [ IsComplete "a" where "a = 1; drop" ]`, "1:38", `unsupported character ';'`},
		{"where unclosed paren", `Rules = [ IsComplete "a" where "(a = 1" ]`, "1:39", "expected ')'"},
		{"where IN column", `Rules = [ IsComplete "a" where "a IN (b)" ]`, "1:39", "expected a literal in the IN list"},
		{"where IS without NULL", `Rules = [ IsComplete "a" where "a IS 1" ]`, "1:38", "expected NULL after IS [NOT]"},
		{"where bad timestamp", `Rules = [ IsComplete "a" where "t > DATE '2024-02-30'" ]`, "1:42", "malformed date or timestamp"},
		{"where trailing", `Rules = [ IsComplete "a" where "a = 1 b" ]`, "1:39", "expected AND, OR or the end of the where clause"},
		{"two wheres", `Rules = [ IsComplete "a" where "a = 1" where "a = 2" ]`, "1:40", "expected at most one where clause"},
		{"and without parens", `Rules = [ IsComplete "a" and IsComplete "b" ]`, "1:26", "rules combined with and must each be in parentheses"},
		{"and right without parens", `Rules = [ (IsComplete "a") and IsComplete "b" ]`, "1:32", "rules combined with and must each be in parentheses"},
		{"or without parens", `Rules = [ (IsComplete "a") or IsComplete "b" ]`, "1:31", "rules combined with or must each be in parentheses"},
		{"unclosed paren", `Rules = [ (IsComplete "a" ]`, "1:27", `expected ")" to close the parenthesized rule`},
		{"too deep", deep, "1:43", "rules nested deeper than 32 levels"},
		{"too deep where", deepWhere, "1:65", "where clause nested deeper than 32 levels"},
		{"junk after rule", `Rules = [ IsComplete "a" "b" "c" ]`, "1:26", "IsComplete takes 1 column parameter(s)"},
		{"junk word after rule", `Rules = [ IsComplete "a" please ]`, "1:26", "expected ',', ']', and, or, where, with threshold or labels after the rule"},
		{"labels not pairs", `Rules = [ IsComplete "a" labels=["x"] ]`, "1:37", `expected ":" between the label key and value`},
		{"label key twice", `Rules = [ IsComplete "a" labels=["x":"1","x":"2"] ]`, "1:42", `label key "x" given twice`},
		{"empty label value", `Rules = [ IsComplete "a" labels=["x":""] ]`, "1:38", "label keys and values are 1 to 255 characters"},
		{"DataSources", `DataSources = { "a": "b" } Rules = [ ]`, "1:1", "the DataSources section is not supported"},
		{"Analyzers", `Rules = [ ] Analyzers = [ ]`, "1:13", "expected the end of the file after the Rules section"},
		{"metadata not a dict", `Metadata = [ ] Rules = [ ]`, "1:12", `expected "{" to open the dictionary`},
		{"stray character", "Rules = [ RowCount > 0 ] @", "1:26", "unexpected character '@'"},
		{"in list unclosed", `Rules = [ ColumnValues "a" in ["x" "y"] ]`, "1:36", `expected "," or ']' in the list`},
		{"in keyword type", `Rules = [ ColumnValues "a" in [ABC] ]`, "1:32", "expected a number, a quoted string, a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dqdl.Parse(tt.src)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error at %s: %s", tt.src, tt.pos, tt.msg)
			}
			var pe *dqdl.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *dqdl.Error", err, err)
			}
			if got := pe.Pos.String(); got != tt.pos {
				t.Errorf("position=%s, want %s (error: %v)", got, tt.pos, err)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message=%q, want it to contain %q", pe.Msg, tt.msg)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	big := "Rules = [ " + strings.Repeat(`IsComplete "a", `, dqdl.MaxFileSize/16) + `IsComplete "a" ]`
	if _, err := dqdl.Parse(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized ruleset: err=%v, want a size error", err)
	}
	many := "Rules = [ " + strings.Repeat(`IsComplete "a", `, dqdl.MaxRules) + `IsComplete "a" ]`
	if _, err := dqdl.Parse(many); err == nil || !strings.Contains(err.Error(), "more than 1000 rules") {
		t.Errorf("too many rules: err=%v", err)
	}
	composite := "Rules = [ " + strings.Repeat(`(IsComplete "a") and `, dqdl.MaxRules) + `(IsComplete "a") ]`
	if _, err := dqdl.Parse(composite); err == nil || !strings.Contains(err.Error(), "more than 1000 rules (counting each part") {
		t.Errorf("composite with too many parts: err=%v", err)
	}
	where := `Rules = [ IsComplete "a" where "` + strings.Repeat("a = 1 AND ", dqdl.MaxPredicates) + `a = 1" ]`
	if _, err := dqdl.Parse(where); err == nil || !strings.Contains(err.Error(), "more than 256 predicates") {
		t.Errorf("where with too many predicates: err=%v", err)
	}
	if _, err := dqdl.ParseReader(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ParseReader oversized: err=%v", err)
	}
}

// TestParseTestdata loads every valid ruleset in testdata and the repo's
// own rulesets.
func TestParseTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.dqdl")
	more, _ := filepath.Glob("../../schemas/*.dqdl")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no rulesets found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := dqdl.ParseFile(f); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := dqdl.ParseFile(filepath.Join(t.TempDir(), "missing.dqdl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err=%v, want ErrNotExist", err)
	}
}
