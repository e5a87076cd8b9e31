package dq

import (
	"fmt"
	"strings"

	"github.com/medallionlake/lake/internal/dqdl"
)

// ruleKey identifies what a rule computes: its type, columns, condition,
// threshold and where clause, with numbers, dates and durations by value,
// not by spelling; for a composite, its logic and parts. Labels and layout
// do not count. Rules with the same key are evaluated once.
func ruleKey(r *dqdl.Rule) string {
	var b strings.Builder
	writeRuleKey(&b, r)
	return b.String()
}

func writeRuleKey(b *strings.Builder, r *dqdl.Rule) {
	if r.Logic != dqdl.Leaf {
		b.WriteString(map[dqdl.Logic]string{dqdl.And: "and(", dqdl.Or: "or("}[r.Logic])
		for _, c := range r.Children {
			writeRuleKey(b, c)
			b.WriteByte(',')
		}
		b.WriteByte(')')
		return
	}
	fmt.Fprintf(b, "%s%q", r.Type, r.Columns)
	writeCondKey(b, r.Cond)
	b.WriteString(" threshold")
	writeCondKey(b, r.Threshold)
	fmt.Fprintf(b, " where %q", r.WhereText)
}

func writeCondKey(b *strings.Builder, c *dqdl.Condition) {
	if c == nil {
		b.WriteString(" -")
		return
	}
	fmt.Fprintf(b, " %s[", c.Op)
	for _, v := range c.Values {
		switch v.Kind {
		case dqdl.KNumber:
			fmt.Fprintf(b, "n%s,", v.Num.RatString())
		case dqdl.KString:
			fmt.Fprintf(b, "s%q,", v.Str)
		case dqdl.KDate:
			fmt.Fprintf(b, "d%t%d%d,", v.Now, v.Offset, v.Date.UnixNano())
		case dqdl.KDuration:
			fmt.Fprintf(b, "t%d,", v.Dur)
		default: // NULL, EMPTY, WHITESPACES_ONLY
			fmt.Fprintf(b, "k%d,", v.Kind)
		}
	}
	b.WriteByte(']')
}

// groupKey identifies a uniqueness key: the columns and the where clause
// of a uniqueness rule. Rules with the same group key share one hash set.
func groupKey(r *dqdl.Rule) string {
	return fmt.Sprintf("%q where %q", r.Columns, r.WhereText)
}
