package dq

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/medallionlake/lake/internal/dqdl"
)

// Options tune an Evaluator.
type Options struct {
	// Now is the instant now() and DataFreshness measure from; zero means
	// time.Now() when the evaluator is created.
	Now time.Time
	// ExpectedRows presizes the uniqueness hash sets (e.g. the Parquet
	// footer's row count), as far as the memory budget allows; 0 lets them
	// grow.
	ExpectedRows int64
	// MemoryBudget bounds, in bytes, what the evaluator keeps beyond a
	// batch: the uniqueness hash sets (IsUnique, Uniqueness, IsPrimaryKey,
	// DistinctValuesCount) and the per-row states that uniqueness needs. A
	// hash set that would take it past the budget is spilled to TempDir and
	// resolved there with bounded memory; should the per-row states alone
	// exceed it, Observe fails with a *MemoryBudgetError. 0 means
	// DefaultMemoryBudget.
	MemoryBudget int64
	// TempDir is where hash sets spill; empty means os.TempDir().
	TempDir string
	// RowLog, when set, receives the row-level outcome of every row (see
	// RowLogWriter); close it after Finish.
	RowLog *RowLogWriter
}

// row states
const (
	sPass uint8 = iota
	sFail
	sSkip
)

// node is a compiled rule: a leaf or a composite.
type node struct {
	rule     *dqdl.Rule
	level    Level
	gate     bool // failing rejects the object
	err      error
	children []*node

	// row-level leaves
	where binder
	pass  passBinder // nil for uniqueness leaves
	uniq  *uniqGroup // IsUnique, Uniqueness, IsPrimaryKey; DistinctValuesCount
	cols  []*column
	// states holds every row's state for the other leaves under a
	// top-level rule that holds a uniqueness leaf, whose rows are decided
	// in Finish (uniqueness leaves read their group's codes).
	keep   bool
	states vec2
	buf    []uint8 // the current batch's states
	epoch  uint64  // the batch buf holds

	evaluated, passed int64

	agg *agg // dataset-level leaves

	outcome Outcome
	reason  string
	metrics map[string]float64
}

// top is a top-level rule. Rules that compile alike share their node.
type top struct {
	rule       *dqdl.Rule
	n          *node
	deferred   bool // row-level and depends on uniqueness: rows decided in Finish
	rowsFailed int64
}

// Evaluator evaluates a ruleset over the record batches of one object.
//
// Use: NewEvaluator (with a RowLog to keep every row's outcome); Observe
// every batch in order; Finish. An Evaluator is not safe for concurrent
// use.
type Evaluator struct {
	rs     *dqdl.Ruleset
	schema *arrow.Schema
	now    time.Time
	opts   Options

	cols   []*column
	byName map[string]*column
	tops   []*top

	// nodes are the compiled rules and parts by ruleKey: rules written
	// alike are evaluated once. groups are the uniqueness keys by
	// groupKey: one hash set each, whatever the number of rules on it.
	nodes  map[string]*node
	groups map[string]*uniqGroup
	order  []*uniqGroup // groups in creation order
	budget int64
	epoch  uint64 // counts batches evaluated

	rows     int64
	failed   []uint64 // bit per row: failed a row-level rule
	finished bool
	result   *Result

	boundSchema *arrow.Schema
	bound       []int // slot -> field index in boundSchema
	arrays      []arrow.Array

	log *RowLogWriter
}

// NewEvaluator compiles rs against schema, the whole object's Arrow schema
// (ColumnCount and ColumnExists look at all of it). A rule that names a
// column not in schema, or compares a column with a value of another
// type, is not a load error: its result is Outcome Error with the reason,
// and the verdict is REJECT.
func NewEvaluator(rs *dqdl.Ruleset, schema *arrow.Schema, opts Options) (*Evaluator, error) {
	if rs == nil || schema == nil {
		return nil, errors.New("dq: NewEvaluator needs a ruleset and a schema")
	}
	e := &Evaluator{rs: rs, schema: schema, opts: opts, now: opts.Now, byName: map[string]*column{},
		nodes: map[string]*node{}, groups: map[string]*uniqGroup{}, budget: opts.MemoryBudget}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	if e.budget <= 0 {
		e.budget = DefaultMemoryBudget
	}
	for _, r := range rs.Rules {
		n := e.compile(r)
		t := &top{rule: r, n: n}
		if n.level == RowLevel && n.err == nil && hasUniq(n) {
			t.deferred = true
			markKeep(n)
		}
		e.tops = append(e.tops, t)
	}
	// presize the hash sets, together within half the budget
	if k := int64(len(e.order)); k > 0 {
		hint := min(opts.ExpectedRows, e.budget/(2*k*strEntryBytes))
		for _, g := range e.order {
			if g.rows {
				g.hint = hint
			}
		}
	}
	if opts.RowLog != nil {
		e.log = opts.RowLog
		e.log.bind(e)
	}
	return e, nil
}

func hasUniq(n *node) bool {
	if n.uniq != nil && n.level == RowLevel {
		return true
	}
	for _, c := range n.children {
		if hasUniq(c) {
			return true
		}
	}
	return false
}

func markKeep(n *node) {
	n.keep = n.rule.Logic == dqdl.Leaf && n.uniq == nil && n.pass != nil
	for _, c := range n.children {
		markKeep(c)
	}
}

// Columns are the columns the rules read: the projection to read from
// the Parquet file (in schema order).
func (e *Evaluator) Columns() []string {
	names := make([]string, len(e.cols))
	for i, c := range e.cols {
		names[i] = c.name
	}
	idx := func(n string) int {
		if is := e.schema.FieldIndices(n); len(is) > 0 {
			return is[0]
		}
		return math.MaxInt
	}
	sort.SliceStable(names, func(i, j int) bool { return idx(names[i]) < idx(names[j]) })
	return names
}

// column returns the binding for a column of the schema, adding it.
func (e *Evaluator) column(name string) (*column, error) {
	if c, ok := e.byName[name]; ok {
		return c, nil
	}
	is := e.schema.FieldIndices(name)
	if len(is) == 0 {
		return nil, fmt.Errorf("column %q not found in the data", name)
	}
	c, err := newColumn(name, len(e.cols), e.schema.Field(is[0]).Type)
	if err != nil {
		return nil, err
	}
	e.cols = append(e.cols, c)
	e.byName[name] = c
	return c, nil
}

// compile compiles r, or returns the node of a rule compiled alike.
func (e *Evaluator) compile(r *dqdl.Rule) *node {
	key := ruleKey(r)
	if n, ok := e.nodes[key]; ok {
		return n
	}
	n := &node{rule: r}
	e.nodes[key] = n
	if r.Logic != dqdl.Leaf {
		n.level = RowLevel
		for _, cr := range r.Children {
			c := e.compile(cr)
			n.children = append(n.children, c)
			if c.level == DatasetLevel {
				n.level = DatasetLevel
			}
			if c.gate {
				n.gate = true
			}
			if c.err != nil && n.err == nil {
				n.err = c.err
			}
		}
		if n.level == DatasetLevel {
			n.gate = true
		}
		return n
	}
	n.err = e.compileLeaf(n)
	if n.err != nil {
		n.err = fmt.Errorf("%w (rule: %s)", n.err, r.Text)
	}
	return n
}

func (e *Evaluator) compileLeaf(n *node) error {
	r := n.rule
	n.level = DatasetLevel
	n.gate = true
	switch r.Type {
	case "ColumnCount", "ColumnExists":
		return nil // read from the schema
	}
	for _, name := range r.Columns {
		c, err := e.column(name)
		if err != nil {
			return err
		}
		n.cols = append(n.cols, c)
	}
	if r.Where != nil {
		w, err := compileWhere(r.Where, e.column)
		if err != nil {
			return err
		}
		n.where = w
	}
	var err error
	switch r.Type {
	case "RowCount":
		n.agg = &agg{}
	case "Mean", "Sum", "StandardDeviation":
		c := n.cols[0]
		if c.kind != kInt && c.kind != kDecimal && c.kind != kFloat {
			return fmt.Errorf("%s needs a numeric column, %q is %s", r.Type, c.name, c.kind)
		}
		n.agg = &agg{col: c}
	case "DistinctValuesCount":
		n.uniq = e.group(n)
		n.agg = &agg{}
	default:
		n.level = RowLevel
		n.gate = r.Threshold != nil || r.Type == "Completeness" || r.Type == "Uniqueness"
		switch r.Type {
		case "IsComplete", "Completeness":
			c := n.cols[0]
			n.pass = func(cols []arrow.Array) func(int) bool {
				a := cols[c.slot]
				return func(i int) bool { return a.IsValid(i) }
			}
		case "IsUnique", "Uniqueness", "IsPrimaryKey":
			n.uniq = e.group(n)
			n.uniq.rows = true
		case "ColumnValues":
			n.pass, err = columnValues(n.cols[0], r.Cond, e.now)
		case "ColumnLength":
			n.pass, err = columnLength(n.cols[0], r.Cond)
		case "DataFreshness":
			n.pass, err = dataFreshness(n.cols[0], r.Cond, e.now)
		default:
			err = fmt.Errorf("rule type %s is not evaluated", r.Type)
		}
	}
	return err
}

// group returns the uniqueness group of leaf n's key, adding it.
func (e *Evaluator) group(n *node) *uniqGroup {
	key := groupKey(n.rule)
	if g, ok := e.groups[key]; ok {
		return g
	}
	g := &uniqGroup{rule: n.rule.Text, cols: n.cols, where: n.where}
	e.groups[key] = g
	e.order = append(e.order, g)
	return g
}

// bind maps the evaluator's columns to rec's arrays.
func (e *Evaluator) bind(rec arrow.RecordBatch) ([]arrow.Array, error) {
	sc := rec.Schema()
	if sc != e.boundSchema {
		e.bound = e.bound[:0]
		for _, c := range e.cols {
			is := sc.FieldIndices(c.name)
			if len(is) == 0 {
				return nil, fmt.Errorf("dq: batch has no column %q", c.name)
			}
			if !arrow.TypeEqual(sc.Field(is[0]).Type, c.typ) {
				return nil, fmt.Errorf("dq: batch column %q is %s, the schema said %s", c.name, sc.Field(is[0]).Type, c.typ)
			}
			e.bound = append(e.bound, is[0])
		}
		e.boundSchema = sc
		e.arrays = make([]arrow.Array, len(e.cols))
	}
	for slot, fi := range e.bound {
		e.arrays[slot] = rec.Column(fi)
	}
	return e.arrays, nil
}

// Observe evaluates one batch; batches must come in file order.
func (e *Evaluator) Observe(rec arrow.RecordBatch) error {
	if e.finished {
		return errors.New("dq: Observe after Finish")
	}
	cols, err := e.bind(rec)
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	offset := e.rows
	e.rows += int64(n)
	if need := int((e.rows + 63) / 64); need > len(e.failed) {
		e.failed = append(e.failed, make([]uint64, need-len(e.failed))...)
	}
	e.epoch++
	failed := map[*node]int64{} // rows failed in this batch, once per node
	for _, t := range e.tops {
		if t.n.err != nil {
			continue
		}
		if err := e.eval(t.n, cols, n, offset); err != nil {
			return err
		}
		if t.n.level != RowLevel || t.deferred {
			continue
		}
		k, done := failed[t.n]
		if !done {
			for i, s := range t.n.buf[:n] {
				if s == sFail {
					k++
					r := offset + int64(i)
					e.failed[r>>6] |= 1 << (r & 63)
				}
			}
			failed[t.n] = k
		}
		t.rowsFailed += k
	}
	e.logObserved(n)
	return nil
}

// memory is what the evaluator holds beyond the batch.
func (e *Evaluator) memory() int64 {
	n := int64(cap(e.failed)) * 8
	for _, nd := range e.nodes {
		n += nd.states.bytes() + int64(cap(nd.buf))
	}
	for _, g := range e.order {
		n += g.bytes()
	}
	return n
}

// keepWithinBudget spills the largest in-memory hash sets until the
// evaluator's memory is within the budget; it fails with a
// *MemoryBudgetError when what is left cannot be spilled.
func (e *Evaluator) keepWithinBudget() error {
	for {
		total := e.memory()
		if total <= e.budget {
			return nil
		}
		var largest *uniqGroup
		for _, g := range e.order {
			if g.set != nil && (largest == nil || g.set.bytes() > largest.set.bytes()) {
				largest = g
			}
		}
		if largest == nil {
			return e.budgetError(total)
		}
		if err := largest.spillTo(e.opts.TempDir); err != nil {
			return err
		}
	}
}

// budgetError names the rule holding the most per-row state.
func (e *Evaluator) budgetError(total int64) error {
	rule, most := "", int64(-1)
	for _, g := range e.order {
		if b := g.bytes(); b > most {
			rule, most = g.rule, b
		}
	}
	for _, nd := range e.nodes {
		if b := nd.states.bytes(); b > most {
			rule, most = nd.rule.Text, b
		}
	}
	return &MemoryBudgetError{Rule: rule, Need: total, Budget: e.budget}
}

func resize(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

// eval computes nd's states for the batch into nd.buf, once per batch
// however many rules share nd, and updates its counters and uniqueness
// sets.
func (e *Evaluator) eval(nd *node, cols []arrow.Array, n int, offset int64) error {
	if nd.epoch == e.epoch {
		return nil
	}
	nd.epoch = e.epoch
	if nd.rule.Logic != dqdl.Leaf {
		for _, c := range nd.children {
			if err := e.eval(c, cols, n, offset); err != nil {
				return err
			}
		}
		if nd.level != RowLevel {
			return nil
		}
		nd.buf = resize(nd.buf, n)
		for i := 0; i < n; i++ {
			nd.buf[i] = combine(nd, func(c *node) uint8 { return c.buf[i] })
		}
		return nil
	}
	if nd.level == DatasetLevel {
		if nd.uniq != nil { // DistinctValuesCount
			return e.observeGroup(nd.uniq, cols, n, offset)
		}
		if nd.agg != nil { // ColumnCount, ColumnExists read the schema
			var where func(int) tri
			if nd.where != nil {
				where = nd.where(cols)
			}
			nd.agg.observe(nd, cols, n, where)
		}
		return nil
	}
	nd.buf = resize(nd.buf, n)
	buf := nd.buf
	if nd.uniq != nil {
		pk := nd.rule.Type == "IsPrimaryKey"
		if err := e.observeGroup(nd.uniq, cols, n, offset); err != nil {
			return err
		}
		for i, c := range nd.uniq.buf[:n] {
			buf[i] = uniqState(c, pk)
		}
		return nil
	}
	var where func(int) tri
	if nd.where != nil {
		where = nd.where(cols)
	}
	pass := nd.pass(cols)
	for i := 0; i < n; i++ {
		if where != nil && where(i) != tTrue {
			buf[i] = sSkip
			continue
		}
		if pass(i) {
			buf[i] = sPass
		} else {
			buf[i] = sFail
		}
	}
	for _, s := range buf {
		switch s {
		case sPass:
			nd.evaluated++
			nd.passed++
		case sFail:
			nd.evaluated++
		}
	}
	if nd.keep {
		nd.states.appendAll(buf)
	}
	return nil
}

// observeGroup reads the batch's keys into g, once per batch, and keeps
// the evaluator within its budget: a batch adds to every group, so the
// budget is checked after each.
func (e *Evaluator) observeGroup(g *uniqGroup, cols []arrow.Array, n int, offset int64) error {
	if g.epoch == e.epoch {
		return nil
	}
	if err := g.observe(cols, n, offset, e.epoch); err != nil {
		return err
	}
	return e.keepWithinBudget()
}

// uniqState is a uniqueness leaf's state for a row of its group's code:
// NULL keys pass (are not duplicates) but fail IsPrimaryKey.
func uniqState(code uint8, pk bool) uint8 {
	switch {
	case code == uSkip:
		return sSkip
	case code == uDup, code == uNull && pk:
		return sFail
	}
	return sPass
}

// combine decides a row-level composite's state from its children's: a
// skipped part does not count; all parts skipped skips the row.
func combine(nd *node, state func(*node) uint8) uint8 {
	anyPass, anyFail := false, false
	for _, c := range nd.children {
		switch state(c) {
		case sPass:
			anyPass = true
		case sFail:
			anyFail = true
		}
	}
	switch {
	case !anyPass && !anyFail:
		return sSkip
	case nd.rule.Logic == dqdl.And:
		if anyFail {
			return sFail
		}
		return sPass
	default:
		if anyPass {
			return sPass
		}
		return sFail
	}
}

func stateAt(nd *node, r int64) uint8 {
	switch {
	case nd.uniq != nil:
		return uniqState(nd.uniq.code(r), nd.rule.Type == "IsPrimaryKey")
	case nd.rule.Logic == dqdl.Leaf:
		return nd.states.get(r)
	}
	return combine(nd, func(c *node) uint8 { return stateAt(c, r) })
}

// Finish decides every rule and the verdict, and writes the row log's
// uniqueness segment.
func (e *Evaluator) Finish() (*Result, error) {
	if e.finished {
		return e.result, nil
	}
	e.finished = true
	for _, g := range e.order {
		// a spill's hash set may take what the rest leaves of the budget
		if err := g.finish(e.opts.TempDir, max(e.budget-e.memory(), e.budget/8)); err != nil {
			return nil, err
		}
	}
	failed := map[*node]int64{} // rows failed, once per node
	for _, t := range e.tops {
		if t.n.err != nil || !t.deferred {
			continue
		}
		k, done := failed[t.n]
		for r := int64(0); r < e.rows && !done; r++ {
			if stateAt(t.n, r) == sFail {
				k++
				e.failed[r>>6] |= 1 << (r & 63)
			}
		}
		failed[t.n] = k
		t.rowsFailed = k
	}
	res := &Result{RuleResults: []RuleResult{}}
	var failedRows int64
	for _, w := range e.failed {
		failedRows += int64(bits.OnesCount64(w))
	}
	am := &res.AggregatedMetrics
	am.TotalRowsProcessed = e.rows
	am.TotalRowsFailed = failedRows
	am.TotalRowsPassed = e.rows - failedRows
	var reject []string
	for _, t := range e.tops {
		e.decide(t.n)
		rr := RuleResult{
			Rule:             t.rule.Text,
			Outcome:          t.n.outcome,
			FailureReason:    t.n.reason,
			EvaluatedMetrics: map[string]float64{},
			Level:            t.n.level,
			RowsFailed:       t.rowsFailed,
		}
		collectMetrics(t.n, rr.EvaluatedMetrics)
		if ls := labelsOf(t.rule); len(ls) > 0 {
			rr.Labels = ls
		}
		am.TotalRulesProcessed++
		switch t.n.outcome {
		case Passed:
			am.TotalRulesPassed++
		default:
			am.TotalRulesFailed++
			if t.n.outcome == Error || t.n.gate {
				rr.RejectsObject = true
				reject = append(reject, fmt.Sprintf("%s: %s", t.n.rule.Text, t.n.reason))
			}
		}
		res.RuleResults = append(res.RuleResults, rr)
	}
	if am.TotalRulesProcessed > 0 {
		res.Score = float64(am.TotalRulesPassed) / float64(am.TotalRulesProcessed)
	} else {
		res.Score = 1
	}
	switch {
	case len(reject) > 0:
		res.Verdict = Reject
		res.VerdictReason = strings.Join(reject, "; ")
	case failedRows > 0:
		res.Verdict = Split
		res.VerdictReason = fmt.Sprintf("%d of %d rows failed row-level rules", failedRows, e.rows)
	default:
		res.Verdict = Pass
	}
	e.logFinished(res)
	e.result = res
	return res, nil
}

func labelsOf(r *dqdl.Rule) map[string]string {
	if len(r.Labels) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, l := range r.Labels {
		m[l.Key] = l.Value
	}
	return m
}

func ratio(num, den int64) *big.Rat {
	if den == 0 {
		return big.NewRat(1, 1)
	}
	return big.NewRat(num, den)
}

func f64(r *big.Rat) float64 { f, _ := r.Float64(); return f }

// colKey names a rule's columns in metric names.
func colKey(n *node) string { return strings.Join(n.rule.Columns, ",") }

// decide sets nd's outcome, reason and metrics (Glue's metric names).
func (e *Evaluator) decide(nd *node) {
	nd.metrics = map[string]float64{}
	if nd.err != nil {
		nd.outcome, nd.reason = Error, nd.err.Error()
		for _, c := range nd.children {
			if c.err == nil {
				e.decide(c)
			}
		}
		return
	}
	r := nd.rule
	fail := func(format string, args ...any) {
		nd.outcome, nd.reason = Failed, fmt.Sprintf(format, args...)
	}
	nd.outcome = Passed
	if r.Logic != dqdl.Leaf {
		var failed []string
		passedAny := false
		for _, c := range nd.children {
			e.decide(c)
			if c.outcome == Passed {
				passedAny = true
			} else {
				failed = append(failed, c.rule.Text+": "+c.reason)
			}
		}
		if r.Logic == dqdl.And && len(failed) > 0 {
			fail("%s", strings.Join(failed, "; "))
		}
		if r.Logic == dqdl.Or && !passedAny {
			fail("%s", strings.Join(failed, "; "))
		}
		return
	}
	col := "Column." + colKey(nd) + "."
	switch r.Type {
	case "RowCount":
		nd.metrics["Dataset.*.RowCount"] = float64(nd.agg.n)
		if !ratCond(r.Cond)(big.NewRat(nd.agg.n, 1)) {
			fail("Value: %d does not meet the constraint requirement", nd.agg.n)
		}
	case "ColumnCount":
		k := int64(len(e.schema.Fields()))
		nd.metrics["Dataset.*.ColumnCount"] = float64(k)
		if !ratCond(r.Cond)(big.NewRat(k, 1)) {
			fail("Value: %d does not meet the constraint requirement", k)
		}
	case "ColumnExists":
		if len(e.schema.FieldIndices(r.Columns[0])) == 0 {
			fail("Column %s does not exist", r.Columns[0])
		}
	case "Mean", "Sum", "StandardDeviation":
		v, ok := nd.agg.value(r.Type)
		if !ok {
			fail("No non-null values to compute %s", r.Type)
			return
		}
		nd.metrics[col+r.Type] = f64(v)
		if !ratCond(r.Cond)(v) {
			fail("Value: %s does not meet the constraint requirement", v.FloatString(6))
		}
	case "DistinctValuesCount":
		d := nd.uniq.distinct
		nd.metrics[col+"DistinctValuesCount"] = float64(d)
		if !ratCond(r.Cond)(big.NewRat(d, 1)) {
			fail("Value: %d does not meet the constraint requirement", d)
		}
	case "IsComplete", "Completeness":
		c := ratio(nd.passed, nd.evaluated)
		nd.metrics[col+"Completeness"] = f64(c)
		if r.Type == "IsComplete" && nd.passed != nd.evaluated {
			fail("Value: %s does not meet the constraint requirement! %d of %d rows are NULL", c.FloatString(4), nd.evaluated-nd.passed, nd.evaluated)
		} else if r.Type == "Completeness" && !ratCond(r.Cond)(c) {
			fail("Value: %s does not meet the constraint requirement", c.FloatString(4))
		}
	case "IsUnique", "Uniqueness", "IsPrimaryKey":
		g := nd.uniq
		u := ratio(g.once, g.members)
		nd.metrics[col+"Uniqueness"] = f64(u)
		evaluated, passed := g.inScope, g.count[uOnce]+g.count[uNull]
		if r.Type == "IsPrimaryKey" {
			nd.metrics[col+"Completeness"] = f64(ratio(g.members, g.inScope))
			passed = g.count[uOnce]
		}
		switch {
		case r.Type == "Uniqueness":
			if !ratCond(r.Cond)(u) {
				fail("Value: %s does not meet the constraint requirement", u.FloatString(4))
			}
		case passed != evaluated:
			fail("%d of %d rows are not unique%s", evaluated-passed, evaluated, map[bool]string{true: " or are NULL", false: ""}[r.Type == "IsPrimaryKey"])
		}
	default: // ColumnValues, ColumnLength, DataFreshness
		c := ratio(nd.passed, nd.evaluated)
		nd.metrics[col+r.Type+".Compliance"] = f64(c)
		if r.Threshold != nil {
			if !ratCond(r.Threshold)(c) {
				fail("Value: %s does not meet the threshold: %d of %d rows failed", c.FloatString(4), nd.evaluated-nd.passed, nd.evaluated)
			}
		} else if nd.passed != nd.evaluated {
			fail("%d of %d rows failed", nd.evaluated-nd.passed, nd.evaluated)
		}
	}
}

func collectMetrics(nd *node, into map[string]float64) {
	for k, v := range nd.metrics {
		into[k] = v
	}
	for _, c := range nd.children {
		collectMetrics(c, into)
	}
}

// agg accumulates a dataset-level measure.
type agg struct {
	col *column
	n   int64 // rows (RowCount) or non-null values
	// exact sum for integers and decimals, at the column's scale
	sum  decimal128.Num
	fsum float64
	mean float64 // Welford, for StandardDeviation
	m2   float64
}

func (g *agg) observe(nd *node, cols []arrow.Array, n int, where func(int) tri) {
	if g.col == nil { // RowCount
		if where == nil {
			g.n += int64(n)
			return
		}
		for i := 0; i < n; i++ {
			if where(i) == tTrue {
				g.n++
			}
		}
		return
	}
	a := cols[g.col.slot]
	var num func(int) float64
	switch g.col.kind {
	case kInt:
		get := intGetter(a)
		num = func(i int) float64 {
			v := get(i)
			g.sum = g.sum.Add(decimal128.FromI64(v))
			return float64(v)
		}
	case kDecimal:
		d := a.(*array.Decimal128)
		sc := math.Pow10(int(g.col.scale))
		num = func(i int) float64 {
			v := d.Value(i)
			g.sum = g.sum.Add(v)
			return v.ToFloat64(0) / sc
		}
	default:
		get := floatGetter(a)
		num = func(i int) float64 { v := get(i); g.fsum += v; return v }
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) || (where != nil && where(i) != tTrue) {
			continue
		}
		x := num(i)
		g.n++
		d := x - g.mean
		g.mean += d / float64(g.n)
		g.m2 += d * (x - g.mean)
	}
}

// value returns Mean, Sum or StandardDeviation (population); false when
// there were no values.
func (g *agg) value(kind string) (*big.Rat, bool) {
	if g.n == 0 {
		return nil, false
	}
	sum := new(big.Rat)
	switch g.col.kind {
	case kInt, kDecimal:
		sum.SetFrac(g.sum.BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(g.col.scale)), nil))
	default:
		sum.SetFloat64(g.fsum)
	}
	switch kind {
	case "Sum":
		return sum, true
	case "Mean":
		return sum.Quo(sum, big.NewRat(g.n, 1)), true
	}
	sd := math.Sqrt(g.m2 / float64(g.n))
	r, _ := new(big.Rat).SetString(fmt.Sprintf("%.12g", sd))
	return r, true
}
