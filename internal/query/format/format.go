// Package format prints query results for people and programs: an aligned
// table, CSV or JSON. Both query engines (DuckDB in package query, Athena
// in package query/athena) turn their values into Values with the helpers
// here, so that a number, a timestamp or a NULL prints the same whichever
// engine ran the query.
//
// Imported by query, query/athena and the lake command. Pure Go.
package format

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of output.
const (
	Table = "table"
	CSV   = "csv"
	JSON  = "json"
)

// Column is a result column.
type Column struct {
	Name string
	// Numeric columns are right-aligned in tables.
	Numeric bool
}

// Value is one printable cell.
type Value struct {
	Null bool
	// Text is the cell as tables and CSV show it.
	Text string
	// JSON is the cell's JSON encoding; empty means a JSON string of Text.
	JSON string
}

// Null is SQL NULL: NULL in tables, an empty field in CSV, null in JSON.
var Null = Value{Null: true}

// String is a text value.
func String(s string) Value { return Value{Text: s} }

// Number is a number already rendered as a JSON-compatible literal
// (integers, exact decimals such as 12.50).
func Number(lit string) Value { return Value{Text: lit, JSON: lit} }

// Float renders a floating-point number in its shortest exact form (0.1,
// 1e+21); NaN and infinities are JSON strings.
func Float(f float64) Value {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.ContainsAny(s, "NI") {
		return Value{Text: s}
	}
	return Number(s)
}

// Decimal prints an exact decimal with all scale digits (12.50, -0.05):
// unscaled * 10^-scale.
func Decimal(unscaled *big.Int, scale int) Value {
	digits := new(big.Int).Abs(unscaled).String()
	sign := ""
	if unscaled.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		return Number(sign + digits + strings.Repeat("0", -scale))
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return Number(sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:])
}

// Bool is a boolean.
func Bool(b bool) Value {
	s := strconv.FormatBool(b)
	return Value{Text: s, JSON: s}
}

// Raw is a nested value (list, map, struct) given as JSON; tables and CSV
// show the JSON text.
func Raw(jsonText string) Value { return Value{Text: jsonText, JSON: jsonText} }

// Date prints a date as 2024-01-31.
func Date(t time.Time) Value { return String(t.Format(time.DateOnly)) }

// Timestamp prints a timestamp as 2024-01-31 10:00:00 with the fraction
// of a second when there is one (2024-01-31 10:00:00.25); utc marks an
// instant (a timestamp with time zone), printed in UTC with a Z. In JSON it
// is RFC 3339 (2024-01-31T10:00:00Z).
func Timestamp(t time.Time, utc bool) Value {
	layout := "2006-01-02 15:04:05.999999"
	if utc {
		t = t.UTC()
		layout += "Z"
	}
	text := t.Format(layout)
	return Value{Text: text, JSON: Marshal(strings.Replace(text, " ", "T", 1))}
}

// Marshal is json.Marshal without HTML escaping (a rule "amount > 0"
// stays readable); it returns "null" for a value JSON cannot hold.
func Marshal(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Writer prints a result: Header once, then Row for each row, then Close.
type Writer interface {
	Header(cols []Column) error
	Row(vals []Value) error
	Close() error
}

// New returns a Writer of the given kind.
func New(w io.Writer, kind string) (Writer, error) {
	switch kind {
	case Table:
		return &tableWriter{w: w}, nil
	case CSV:
		return &csvWriter{w: csv.NewWriter(w)}, nil
	case JSON:
		return &jsonWriter{w: w}, nil
	}
	return nil, fmt.Errorf("format: unknown format %q (want table, csv or json)", kind)
}

// tableRowsSized is how many rows a table's column widths are computed
// from; later rows print with the same widths (wider cells overflow), so
// memory stays bounded however long the result.
const tableRowsSized = 1000

type tableWriter struct {
	w       io.Writer
	cols    []Column
	widths  []int
	pending [][]string
	sized   bool
	n       int
}

func (t *tableWriter) Header(cols []Column) error {
	t.cols = cols
	t.widths = make([]int, len(cols))
	for i, c := range cols {
		t.widths[i] = utf8.RuneCountInString(c.Name)
	}
	return nil
}

func (t *tableWriter) Row(vals []Value) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = tableCell(v)
	}
	t.n++
	if t.sized {
		return t.line(cells)
	}
	for i, c := range cells {
		t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
	}
	t.pending = append(t.pending, cells)
	if len(t.pending) == tableRowsSized {
		return t.flush()
	}
	return nil
}

func tableCell(v Value) string {
	if v.Null {
		return "NULL"
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(v.Text)
}

func (t *tableWriter) flush() error {
	if !t.sized {
		names := make([]string, len(t.cols))
		rule := make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.Name
			rule[i] = strings.Repeat("-", t.widths[i])
		}
		if err := t.line(names); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(t.w, strings.Join(rule, "-+-")); err != nil {
			return err
		}
		t.sized = true
	}
	for _, cells := range t.pending {
		if err := t.line(cells); err != nil {
			return err
		}
	}
	t.pending = nil
	return nil
}

func (t *tableWriter) line(cells []string) error {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString(" | ")
		}
		pad := strings.Repeat(" ", max(0, t.widths[i]-utf8.RuneCountInString(c)))
		if t.cols[i].Numeric {
			b.WriteString(pad + c)
		} else if i < len(cells)-1 {
			b.WriteString(c + pad)
		} else {
			b.WriteString(c)
		}
	}
	_, err := fmt.Fprintln(t.w, b.String())
	return err
}

func (t *tableWriter) Close() error {
	if err := t.flush(); err != nil {
		return err
	}
	noun := "rows"
	if t.n == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(t.w, "(%d %s)\n", t.n, noun)
	return err
}

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) Header(cols []Column) error {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	return c.w.Write(names)
}

func (c *csvWriter) Row(vals []Value) error {
	rec := make([]string, len(vals))
	for i, v := range vals {
		rec[i] = v.Text // NULL: empty field
	}
	return c.w.Write(rec)
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonWriter prints a JSON array of objects, one row per line, as rows
// arrive.
type jsonWriter struct {
	w    io.Writer
	keys []string
	n    int
}

func (j *jsonWriter) Header(cols []Column) error {
	j.keys = make([]string, len(cols))
	for i, c := range cols {
		j.keys[i] = Marshal(c.Name)
	}
	_, err := io.WriteString(j.w, "[")
	return err
}

func (j *jsonWriter) Row(vals []Value) error {
	var b strings.Builder
	if j.n > 0 {
		b.WriteString(",")
	}
	b.WriteString("\n  {")
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(j.keys[i] + ": ")
		switch {
		case v.Null:
			b.WriteString("null")
		case v.JSON != "":
			b.WriteString(v.JSON)
		default:
			b.WriteString(Marshal(v.Text))
		}
	}
	b.WriteString("}")
	j.n++
	_, err := io.WriteString(j.w, b.String())
	return err
}

func (j *jsonWriter) Close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}
