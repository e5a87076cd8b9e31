package dq

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/klauspost/compress/zstd"

	"github.com/medallionlake/lake/internal/dqdl"
)

// A row log is the row-level outcome of one evaluation, written while the
// evaluator runs and read by whoever splits the rows afterwards (the
// route step), so that the rows are split without evaluating anything
// again. It holds, for every row that did not pass every row-level rule,
// the state (passed, failed, skipped) of every node of every row-level
// rule (leaves and the composites above them), and a footer that names
// the nodes, the rules that rejected the whole object and what the
// writer's caller put in Meta (the object and its ETag). Rows that passed
// everything are not recorded.
//
// Layout: segment A (the rules decided row by row while the batches were
// observed), segment B (the rules that depend on uniqueness, decided when
// every row had been seen), then the footer as JSON, its length as an
// 8-byte little-endian integer and the magic "DQROWLOG". A segment is a
// zstd stream of runs: uvarint rows skipped since the previous run (which
// all passed), uvarint run length, then the run's states, two bits per
// node of the segment. Both segments are in row order, so a reader merges
// them with two streaming reads and memory of a run.
const rowLogMagic = "DQROWLOG"

// rowLogWindow is the segments' zstd window: what a reader holds to
// decode them.
const rowLogWindow = 1 << 20

// rowLogVersion is the footer's format version.
const rowLogVersion = 1

// rowLogFooter is the footer's JSON.
type rowLogFooter struct {
	Version int               `json:"version"`
	Meta    map[string]string `json:"meta,omitempty"`
	Rows    int64             `json:"rows"`
	// Nodes are the row-level rules' nodes; a row's states are indexed
	// by node.
	Nodes []logNode `json:"nodes"`
	// Tops are the ruleset's top-level rules in order; Node is the
	// index of the rule's root node, -1 for a rule that is not
	// row-level or could not be evaluated (every row skips it).
	Tops     []logTop     `json:"tops"`
	Segments []logSegment `json:"segments"`
	// Rejects are the rules that reject the whole object (on a REJECT,
	// every row is discarded for them), with their failure reasons.
	Rejects []logReject `json:"rejects,omitempty"`
}

type logNode struct {
	Logic    string   `json:"logic"` // "leaf", "and", "or"
	Columns  []string `json:"columns,omitempty"`
	Children []int    `json:"children,omitempty"`
}

type logTop struct {
	Rule string `json:"rule"`
	Node int    `json:"node"`
}

type logSegment struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	Nodes  []int `json:"nodes"`
}

type logReject struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// RowLogWriter writes a row log (see the format above) to an io.Writer:
// give it to an Evaluator in Options.RowLog, and Close it after Finish.
type RowLogWriter struct {
	w      *countingWriter
	footer rowLogFooter
	// set by the evaluator
	segs     [][]*node // the nodes of segment A and B
	cur      *segmentWriter
	finished bool // both segments are written
	err      error
}

// NewRowLogWriter returns a writer of a row log to w. meta is stored in
// the footer as it is (RowLog.Meta returns it).
func NewRowLogWriter(w io.Writer, meta map[string]string) *RowLogWriter {
	return &RowLogWriter{w: &countingWriter{w: w}, footer: rowLogFooter{Version: rowLogVersion, Meta: meta}}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// segmentWriter encodes the runs of one segment.
type segmentWriter struct {
	start int64
	zw    *zstd.Encoder
	bw    *bufio.Writer
	nodes []*node
	width int // bytes of states per row

	next    int64 // the first row not yet given to add
	runFrom int64 // first row of the current run (-1: none)
	runLen  int64
	run     []byte // the current run's states
	row     []byte // scratch: one row's states
	lastEnd int64  // the row after the last run written
	scratch [binary.MaxVarintLen64]byte
}

// bind numbers the evaluator's row-level nodes, sorts them into the two
// segments and starts segment A; called by NewEvaluator.
func (l *RowLogWriter) bind(e *Evaluator) {
	l.segs = make([][]*node, 2)
	l.footer.Segments = make([]logSegment, 2)
	var number func(nd *node, seg int) int
	number = func(nd *node, seg int) int {
		i := len(l.footer.Nodes)
		l.footer.Nodes = append(l.footer.Nodes, logNode{Logic: logicName(nd.rule.Logic)})
		l.segs[seg] = append(l.segs[seg], nd)
		l.footer.Segments[seg].Nodes = append(l.footer.Segments[seg].Nodes, i)
		if nd.rule.Logic == dqdl.Leaf {
			l.footer.Nodes[i].Columns = slices.Clone(nd.rule.Columns)
		}
		for _, c := range nd.children {
			ci := number(c, seg)
			l.footer.Nodes[i].Children = append(l.footer.Nodes[i].Children, ci)
		}
		return i
	}
	for _, t := range e.tops {
		top := logTop{Rule: t.n.rule.Text, Node: -1}
		if t.n.err == nil && t.n.level == RowLevel {
			seg := 0
			if t.deferred {
				seg = 1
			}
			top.Node = number(t.n, seg)
		}
		l.footer.Tops = append(l.footer.Tops, top)
	}
	l.begin(0)
}

func logicName(l dqdl.Logic) string {
	switch l {
	case dqdl.And:
		return "and"
	case dqdl.Or:
		return "or"
	}
	return "leaf"
}

// begin starts segment s.
func (l *RowLogWriter) begin(s int) {
	if l.err != nil {
		return
	}
	zw, err := zstd.NewWriter(l.w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(rowLogWindow))
	if err != nil {
		l.err = err
		return
	}
	nodes := l.segs[s]
	width := (2*len(nodes) + 7) / 8
	l.cur = &segmentWriter{
		start: l.w.n, zw: zw, bw: bufio.NewWriterSize(zw, 64<<10), nodes: nodes, width: width,
		runFrom: -1, run: make([]byte, width), row: make([]byte, width),
	}
}

// add records the states of rows [cur.next, cur.next+n) of the current
// segment; state(nd, i) is node nd's state at the i-th of them.
func (l *RowLogWriter) add(n int, state func(nd *node, i int) uint8) {
	sw := l.cur
	if l.err != nil || sw == nil || len(sw.nodes) == 0 {
		if sw != nil {
			sw.next += int64(n)
		}
		return
	}
	for i := 0; i < n; i++ {
		clear(sw.row)
		nonPass := false
		for k, nd := range sw.nodes {
			if s := state(nd, i); s != sPass {
				sw.row[k>>2] |= s << ((k & 3) * 2)
				nonPass = true
			}
		}
		r := sw.next + int64(i)
		switch {
		case !nonPass:
			l.flushRun()
		case sw.runFrom >= 0 && sw.runFrom+sw.runLen == r && string(sw.row) == string(sw.run):
			sw.runLen++
		default:
			l.flushRun()
			sw.runFrom, sw.runLen = r, 1
			copy(sw.run, sw.row)
		}
	}
	sw.next += int64(n)
}

func (l *RowLogWriter) flushRun() {
	sw := l.cur
	if sw.runFrom < 0 || l.err != nil {
		return
	}
	b := binary.AppendUvarint(sw.scratch[:0], uint64(sw.runFrom-sw.lastEnd))
	b = binary.AppendUvarint(b, uint64(sw.runLen))
	if _, err := sw.bw.Write(b); err != nil {
		l.err = err
	}
	if _, err := sw.bw.Write(sw.run); err != nil {
		l.err = err
	}
	sw.lastEnd = sw.runFrom + sw.runLen
	sw.runFrom, sw.runLen = -1, 0
}

// end ends the current segment.
func (l *RowLogWriter) end(s int) {
	sw := l.cur
	if sw == nil {
		return
	}
	l.flushRun()
	if l.err == nil {
		l.err = sw.bw.Flush()
	}
	if err := sw.zw.Close(); l.err == nil {
		l.err = err
	}
	l.footer.Segments[s].Offset, l.footer.Segments[s].Length = sw.start, l.w.n-sw.start
	l.cur = nil
}

// Close writes the footer. It must be called after the evaluator's
// Finish, and reports any error writing the log.
func (l *RowLogWriter) Close() error {
	if l.err != nil {
		return fmt.Errorf("dq: write row log: %w", l.err)
	}
	if !l.finished {
		return errors.New("dq: row log closed before the evaluator finished")
	}
	b, err := json.Marshal(l.footer)
	if err != nil {
		return fmt.Errorf("dq: write row log: %w", err)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(b)))
	b = append(b, rowLogMagic...)
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("dq: write row log: %w", err)
	}
	return nil
}

// logObserved records a batch's states of segment A (called by Observe).
func (e *Evaluator) logObserved(n int) {
	if e.log == nil {
		return
	}
	e.log.add(n, func(nd *node, i int) uint8 { return nd.buf[i] })
}

// logFinished ends segment A and writes segment B and the rejecting rules
// (called by Finish).
func (e *Evaluator) logFinished(res *Result) {
	l := e.log
	if l == nil {
		return
	}
	l.end(0)
	l.begin(1)
	const chunk = 4096
	for r := int64(0); r < e.rows; r += chunk {
		base := r
		l.add(int(min(chunk, e.rows-r)), func(nd *node, i int) uint8 { return stateAt(nd, base+int64(i)) })
	}
	l.end(1)
	l.finished = true
	l.footer.Rows = e.rows
	for _, rr := range res.RuleResults {
		if rr.RejectsObject {
			l.footer.Rejects = append(l.footer.Rejects, logReject{Rule: rr.Rule, Reason: rr.FailureReason})
		}
	}
}

// RowLog is an open row log (see RowLogWriter).
type RowLog struct {
	r      io.ReaderAt
	footer rowLogFooter
	roots  []int // root nodes of the row-level tops
}

// RowLogError means a row log cannot be read: it is not one, it is
// damaged, or it is of another format version.
type RowLogError struct {
	Msg string
	Err error
}

func (e *RowLogError) Error() string {
	if e.Err != nil {
		return "dq: row log: " + e.Msg + ": " + e.Err.Error()
	}
	return "dq: row log: " + e.Msg
}

func (e *RowLogError) Unwrap() error { return e.Err }

// OpenRowLog reads the footer of the row log r of size bytes. Errors from
// r come back as they are; a log that is not one is a *RowLogError.
func OpenRowLog(r io.ReaderAt, size int64) (*RowLog, error) {
	tail := int64(8 + len(rowLogMagic))
	if size < tail {
		return nil, &RowLogError{Msg: fmt.Sprintf("%d bytes is too short", size)}
	}
	b := make([]byte, tail)
	if _, err := r.ReadAt(b, size-tail); err != nil {
		return nil, err
	}
	if string(b[8:]) != rowLogMagic {
		return nil, &RowLogError{Msg: "no row log magic at the end"}
	}
	n := int64(binary.LittleEndian.Uint64(b[:8]))
	if n <= 0 || n > size-tail {
		return nil, &RowLogError{Msg: fmt.Sprintf("footer length %d out of range", n)}
	}
	fb := make([]byte, n)
	if _, err := r.ReadAt(fb, size-tail-n); err != nil {
		return nil, err
	}
	l := &RowLog{r: r}
	if err := json.Unmarshal(fb, &l.footer); err != nil {
		return nil, &RowLogError{Msg: "footer", Err: err}
	}
	f := &l.footer
	if f.Version != rowLogVersion {
		return nil, &RowLogError{Msg: fmt.Sprintf("format version %d, this build reads %d", f.Version, rowLogVersion)}
	}
	if len(f.Segments) != 2 {
		return nil, &RowLogError{Msg: fmt.Sprintf("%d segments, want 2", len(f.Segments))}
	}
	for _, s := range f.Segments {
		if s.Offset < 0 || s.Length < 0 || s.Offset+s.Length > size-tail-n {
			return nil, &RowLogError{Msg: "segment out of range"}
		}
		for _, k := range s.Nodes {
			if k < 0 || k >= len(f.Nodes) {
				return nil, &RowLogError{Msg: fmt.Sprintf("node %d out of range", k)}
			}
		}
	}
	for _, t := range f.Tops {
		if t.Node >= len(f.Nodes) {
			return nil, &RowLogError{Msg: fmt.Sprintf("node %d out of range", t.Node)}
		}
		if t.Node >= 0 {
			l.roots = append(l.roots, t.Node)
		}
	}
	for _, nd := range f.Nodes {
		for _, c := range nd.Children {
			if c < 0 || c >= len(f.Nodes) {
				return nil, &RowLogError{Msg: fmt.Sprintf("node %d out of range", c)}
			}
		}
	}
	return l, nil
}

// Meta is the meta the writer was given.
func (l *RowLog) Meta() map[string]string { return l.footer.Meta }

// Rows is the number of rows the evaluation observed.
func (l *RowLog) Rows() int64 { return l.footer.Rows }

// Rejects reports whether rules rejected the whole object.
func (l *RowLog) Rejects() bool { return len(l.footer.Rejects) > 0 }

// RowStates are the node states of a run of consecutive rows.
type RowStates struct {
	log *RowLog
	n   int
	s   []uint8 // s[i*len(nodes)+node]
}

// Len is the number of rows.
func (b *RowStates) Len() int { return b.n }

// Passed reports whether row i passed every row-level rule.
func (b *RowStates) Passed(i int) bool {
	k := len(b.log.footer.Nodes)
	for _, r := range b.log.roots {
		if b.s[i*k+r] == sFail {
			return false
		}
	}
	return true
}

func (b *RowStates) state(i, node int) uint8 { return b.s[i*len(b.log.footer.Nodes)+node] }

// RowCursor reads a row log's states in row order.
type RowCursor struct {
	log  *RowLog
	segs []*segmentReader
	next int64
	buf  RowStates
}

// segmentReader decodes the runs of one segment.
type segmentReader struct {
	zr      *zstd.Decoder
	br      *bufio.Reader
	nodes   []int
	width   int
	runFrom int64 // -1: read the next run
	runLen  int64
	run     []byte
	pos     int64 // the row after the last run read
	done    bool
}

// Cursor returns a cursor at row 0. Close it when done.
func (l *RowLog) Cursor() (*RowCursor, error) {
	c := &RowCursor{log: l, buf: RowStates{log: l}}
	for _, s := range l.footer.Segments {
		zr, err := zstd.NewReader(io.NewSectionReader(l.r, s.Offset, s.Length), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(rowLogWindow))
		if err != nil {
			c.Close()
			return nil, &RowLogError{Msg: "segment", Err: err}
		}
		w := (2*len(s.Nodes) + 7) / 8
		c.segs = append(c.segs, &segmentReader{zr: zr, br: bufio.NewReaderSize(zr, 64<<10), nodes: s.Nodes, width: w, runFrom: -1, run: make([]byte, w)})
	}
	return c, nil
}

// Close releases the cursor's decoders.
func (c *RowCursor) Close() {
	for _, s := range c.segs {
		s.zr.Close()
	}
}

// Next returns the states of the next n rows (valid until the next call).
// Reading past the rows the log covers is a *RowLogError.
func (c *RowCursor) Next(n int) (*RowStates, error) {
	if c.next+int64(n) > c.log.footer.Rows {
		return nil, &RowLogError{Msg: fmt.Sprintf("rows %d to %d requested, the log covers %d", c.next, c.next+int64(n), c.log.footer.Rows)}
	}
	k := len(c.log.footer.Nodes)
	if cap(c.buf.s) < n*k {
		c.buf.s = make([]uint8, n*k)
	}
	c.buf.s, c.buf.n = c.buf.s[:n*k], n
	clear(c.buf.s)
	for _, s := range c.segs {
		if err := s.fill(c.next, n, k, c.buf.s); err != nil {
			return nil, err
		}
	}
	c.next += int64(n)
	return &c.buf, nil
}

// fill writes the segment's states of rows [from, from+n) into dst.
func (s *segmentReader) fill(from int64, n, k int, dst []uint8) error {
	end := from + int64(n)
	for {
		if s.runFrom < 0 {
			if s.done {
				return nil
			}
			if err := s.read(); err != nil {
				return err
			}
			if s.done {
				return nil
			}
		}
		if s.runFrom >= end {
			return nil
		}
		lo, hi := max(s.runFrom, from), min(s.runFrom+s.runLen, end)
		for r := lo; r < hi; r++ {
			row := dst[int(r-from)*k:]
			for j, node := range s.nodes {
				row[node] = (s.run[j>>2] >> ((j & 3) * 2)) & 3
			}
		}
		if s.runFrom+s.runLen > end {
			return nil
		}
		s.runFrom = -1
	}
}

func (s *segmentReader) read() error {
	gap, err := binary.ReadUvarint(s.br)
	if err == io.EOF {
		s.done = true
		return nil
	}
	if err != nil {
		return &RowLogError{Msg: "segment", Err: err}
	}
	n, err := binary.ReadUvarint(s.br)
	if err != nil {
		return &RowLogError{Msg: "segment", Err: err}
	}
	if _, err := io.ReadFull(s.br, s.run); err != nil {
		return &RowLogError{Msg: "segment", Err: err}
	}
	s.runFrom, s.runLen = s.pos+int64(gap), int64(n)
	s.pos = s.runFrom + s.runLen
	return nil
}

// RowRenderer renders rows' outcomes as Glue's row-level columns from a
// row log and the rows' values. It evaluates nothing: the states come
// from the log, the values from the batch.
type RowRenderer struct {
	log    *RowLog
	cols   map[string]*column
	order  []*column
	arrays []arrow.Array
	// shapes caches what rows with the same states share, by states
	shapes map[string]*outcomeShape
}

// outcomeShape is the part of an outcome that follows from a row's states
// alone: the rule lists, and the nodes whose offending values are the
// row's (the first len(valueNodes) failed values; the rest, reasons of
// rules that rejected the object, are in o).
type outcomeShape struct {
	o          RowOutcome
	valueNodes []int
}

// Renderer returns a renderer for batches with the given schema, which
// must hold every column the log's rules name.
func (l *RowLog) Renderer(schema *arrow.Schema) (*RowRenderer, error) {
	r := &RowRenderer{log: l, cols: map[string]*column{}, shapes: map[string]*outcomeShape{}}
	for _, nd := range l.footer.Nodes {
		for _, name := range nd.Columns {
			if r.cols[name] != nil {
				continue
			}
			is := schema.FieldIndices(name)
			if len(is) == 0 {
				return nil, &RowLogError{Msg: fmt.Sprintf("the rules' column %q is not in the data", name)}
			}
			c, err := newColumn(name, len(r.order), schema.Field(is[0]).Type)
			if err != nil {
				return nil, &RowLogError{Msg: fmt.Sprintf("column %q", name), Err: err}
			}
			r.cols[name] = c
			r.order = append(r.order, c)
		}
	}
	return r, nil
}

// Bind makes rec the batch that Outcome reads values from.
func (r *RowRenderer) Bind(rec arrow.RecordBatch) error {
	r.arrays = r.arrays[:0]
	for _, c := range r.order {
		is := rec.Schema().FieldIndices(c.name)
		if len(is) == 0 {
			return fmt.Errorf("dq: batch has no column %q", c.name)
		}
		r.arrays = append(r.arrays, rec.Column(is[0]))
	}
	return nil
}

// Outcome lists row i's rules as Glue's row-level columns do: rules it
// passed, failed and skipped (dataset-level rules, rules whose where
// clause excluded the row, rules that could not be evaluated), with the
// offending value of each failed rule. With reject (the object's verdict
// is REJECT), the rules that rejected the object are failed rules of
// every row, with their failure reasons as the values. Rows with the same
// states share the outcome's rule lists: they are not to be modified.
func (r *RowRenderer) Outcome(st *RowStates, i int, reject bool) RowOutcome {
	sh := r.shape(st, i, reject)
	if len(sh.valueNodes) == 0 {
		return sh.o
	}
	o := sh.o
	o.DataQualityFailedValues = slices.Clone(sh.o.DataQualityFailedValues)
	for k, node := range sh.valueNodes {
		o.DataQualityFailedValues[k] = r.value(st, i, node)
	}
	return o
}

// shape returns the outcome shape of row i, from the cache if rows with
// its states were seen.
func (r *RowRenderer) shape(st *RowStates, i int, reject bool) *outcomeShape {
	f := &r.log.footer
	k := len(f.Nodes)
	states := st.s[i*k : (i+1)*k]
	var buf [64]byte
	key := append(append(buf[:0], states...), boolByte(reject))
	if sh, ok := r.shapes[string(key)]; ok {
		return sh
	}
	o := RowOutcome{
		DataQualityRulesPass:        []string{},
		DataQualityRulesFail:        []string{},
		DataQualityRulesSkip:        []string{},
		DataQualityFailedValues:     []string{},
		DataQualityEvaluationResult: string(Passed),
	}
	sh := &outcomeShape{}
	for _, t := range f.Tops {
		if t.Node < 0 {
			o.DataQualityRulesSkip = append(o.DataQualityRulesSkip, t.Rule)
			continue
		}
		switch states[t.Node] {
		case sPass:
			o.DataQualityRulesPass = append(o.DataQualityRulesPass, t.Rule)
		case sSkip:
			o.DataQualityRulesSkip = append(o.DataQualityRulesSkip, t.Rule)
		default:
			o.DataQualityRulesFail = append(o.DataQualityRulesFail, t.Rule)
			o.DataQualityFailedValues = append(o.DataQualityFailedValues, "")
			sh.valueNodes = append(sh.valueNodes, t.Node)
			o.DataQualityEvaluationResult = string(Failed)
		}
	}
	if reject {
		for _, g := range f.Rejects {
			o.DataQualityRulesSkip = slices.DeleteFunc(o.DataQualityRulesSkip, func(s string) bool { return s == g.Rule })
			o.DataQualityRulesPass = slices.DeleteFunc(o.DataQualityRulesPass, func(s string) bool { return s == g.Rule })
			if !slices.Contains(o.DataQualityRulesFail, g.Rule) {
				o.DataQualityRulesFail = append(o.DataQualityRulesFail, g.Rule)
				o.DataQualityFailedValues = append(o.DataQualityFailedValues, g.Reason)
			}
		}
		if len(f.Rejects) > 0 {
			o.DataQualityEvaluationResult = string(Failed)
		}
	}
	sh.o = o
	if len(r.shapes) >= 4096 {
		clear(r.shapes)
	}
	r.shapes[string(key)] = sh
	return sh
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// value renders the offending value of a failed rule at row i: the value
// for a one-column leaf, "col=value" pairs of its failed parts' columns
// otherwise.
func (r *RowRenderer) value(st *RowStates, i, root int) string {
	f := &r.log.footer
	if nd := f.Nodes[root]; nd.Logic == "leaf" && len(nd.Columns) == 1 {
		c := r.cols[nd.Columns[0]]
		return c.format(r.arrays[c.slot], i)
	}
	var cols []*column
	seen := map[string]bool{}
	var walk func(n int)
	walk = func(n int) {
		nd := f.Nodes[n]
		if nd.Logic != "leaf" {
			for _, c := range nd.Children {
				if st.state(i, c) == sFail {
					walk(c)
				}
			}
			return
		}
		for _, name := range nd.Columns {
			if !seen[name] {
				seen[name] = true
				cols = append(cols, r.cols[name])
			}
		}
	}
	walk(root)
	if len(cols) == 1 && f.Nodes[root].Logic == "leaf" {
		return cols[0].format(r.arrays[cols[0].slot], i)
	}
	parts := make([]string, len(cols))
	for k, c := range cols {
		parts[k] = c.name + "=" + c.format(r.arrays[c.slot], i)
	}
	return strings.Join(parts, "; ")
}
