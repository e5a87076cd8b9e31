package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/pipeline"
)

func init() {
	register(command{
		name:    "validate",
		summary: "evaluate a DQDL ruleset on a Parquet file; print Glue-shaped results",
		run:     runValidate,
	})
}

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlagSet("validate", "--rules FILE.dqdl [--format table|json] FILE.parquet", stderr)
	rules := fs.String("rules", "", "DQDL ruleset file (required)")
	format := fs.String("format", "table", "output: table or json")
	budget, err := addDQMemoryFlag(fs)
	if err != nil {
		return err
	}
	if err := fs.Parse(reorderFlags(args)); err != nil {
		return err
	}
	if *rules == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("need --rules FILE.dqdl and one FILE.parquet")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format must be table or json, not %q", *format)
	}
	rs, err := dqdl.ParseFile(*rules)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// keep the collector's heap goal near what the budget bounds
		debug.SetMemoryLimit(int64(*budget) + validateHeadroom)
	}
	res, err := dq.Validate(ctx, f, rs, dq.Options{MemoryBudget: int64(*budget)})
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if *format == "json" {
		return writeJSON(stdout, res)
	}
	return printResultTable(stdout, res)
}

// validateHeadroom is what `lake validate` allows the Go heap beyond the
// DQ memory budget (record batches, Parquet decoding) in its soft memory
// limit, unless GOMEMLIMIT is set.
const validateHeadroom = 256 << 20

// memoryFlag is a memory size flag, read by dq.ParseMemory.
type memoryFlag int64

func (m *memoryFlag) String() string { return dq.FormatMemory(int64(*m)) }

func (m *memoryFlag) Set(v string) error {
	n, err := dq.ParseMemory(v)
	if err != nil {
		return err
	}
	*m = memoryFlag(n)
	return nil
}

// addDQMemoryFlag registers --dq-memory on fs, defaulting to
// LAKE_DQ_MEMORY or dq.DefaultMemoryBudget.
func addDQMemoryFlag(fs *flag.FlagSet) (*memoryFlag, error) {
	m := memoryFlag(dq.DefaultMemoryBudget)
	if v := envOr(pipeline.EnvDQMemory, ""); v != "" {
		if err := m.Set(v); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", pipeline.EnvDQMemory, v, err)
		}
	}
	fs.Var(&m, "dq-memory", "memory `SIZE` for the DQ rules' uniqueness and distinct-count state (256MiB, 1GiB); past it, hash sets spill to $TMPDIR (env "+pipeline.EnvDQMemory+")")
	return &m, nil
}

// reorderFlags lets flags follow the file argument (lake validate FILE
// --rules R), which the flag package alone does not allow.
func reorderFlags(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}

func isBoolFlag(a string) bool {
	n := strings.TrimLeft(a, "-")
	return n == "h" || n == "help"
}

func printResultTable(w io.Writer, res *dq.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTCOME\tLEVEL\tROWS FAILED\tRULE\tFAILURE REASON")
	for _, r := range res.RuleResults {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Outcome, r.Level, r.RowsFailed, squashSpaces(r.Rule), r.FailureReason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := res.AggregatedMetrics
	fmt.Fprintf(w, "\nScore: %.4f\n", res.Score)
	fmt.Fprintf(w, "TotalRowsProcessed: %d\nTotalRowsPassed: %d\nTotalRowsFailed: %d\n", m.TotalRowsProcessed, m.TotalRowsPassed, m.TotalRowsFailed)
	fmt.Fprintf(w, "TotalRulesProcessed: %d\nTotalRulesPassed: %d\nTotalRulesFailed: %d\n", m.TotalRulesProcessed, m.TotalRulesPassed, m.TotalRulesFailed)
	fmt.Fprintf(w, "Verdict: %s\n", res.Verdict)
	if res.VerdictReason != "" {
		fmt.Fprintf(w, "VerdictReason: %s\n", res.VerdictReason)
	}
	return nil
}

// squashSpaces puts a rule written over several lines on one.
func squashSpaces(s string) string { return strings.Join(strings.Fields(s), " ") }
