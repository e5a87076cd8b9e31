// Package contract loads table contracts: one YAML file per source table in
// the schemas folder, naming the source table, its primary key, its cursor
// column, the silver partition and the DQDL ruleset. Columns and types are
// not part of a contract; they come from the PostgreSQL catalog.
//
// Imported by ingest, the data-quality and route steps, the catalog and the
// lake command.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Suffix is the file-name suffix of table contracts in the schemas folder.
const Suffix = ".table.yaml"

// NullCursor says what ingest does with rows whose cursor column is NULL.
type NullCursor string

const (
	// NullCursorFail refuses to ingest a table that has rows with a NULL
	// cursor, with an error that says how many and where.
	NullCursorFail NullCursor = "fail"
	// NullCursorInclude extracts rows with a NULL cursor in every run (they
	// are re-read each time; silver.<table>_current keeps one version per
	// key).
	NullCursorInclude NullCursor = "include"
)

// Source names the table in the source database.
type Source struct {
	Schema string `yaml:"schema"`
	Table  string `yaml:"table"`
}

// Partition says how silver and discarded are partitioned: Iceberg hidden
// partitioning by Transform of Column.
type Partition struct {
	Column    string    `yaml:"column"`
	Transform Transform `yaml:"transform"`
}

// Transform is an Iceberg partition transform: day, month or year of a
// date or timestamp column, or bucket[N] (N from 1 to MaxBuckets) of a
// column's hash. Empty in a contract means DefaultTransform.
type Transform string

// Transforms a contract may name.
const (
	TransformDay   Transform = "day"
	TransformMonth Transform = "month"
	TransformYear  Transform = "year"
	// DefaultTransform is month: daily partitions of an orders table
	// hold too few rows to make files of a useful size.
	DefaultTransform = TransformMonth
	// MaxBuckets is the largest N of bucket[N].
	MaxBuckets = 1 << 16
)

var bucketRE = regexp.MustCompile(`^bucket\[([1-9][0-9]{0,5})\]$`)

// Buckets is N for bucket[N], and 0 for the other transforms.
func (tr Transform) Buckets() int {
	m := bucketRE.FindStringSubmatch(string(tr))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// check reports what is wrong with tr, or "".
func (tr Transform) check() string {
	switch tr {
	case TransformDay, TransformMonth, TransformYear:
		return ""
	}
	if n := tr.Buckets(); n >= 1 && n <= MaxBuckets {
		return ""
	}
	return fmt.Sprintf("%q is not one of day, month, year, bucket[N] (N from 1 to %d)", string(tr), MaxBuckets)
}

// DefaultSnapshotRetention is Table.SnapshotRetention when the contract
// does not set snapshot_retention.
const DefaultSnapshotRetention = Duration(7 * 24 * time.Hour)

// Duration is a length of time in a contract: a Go duration ("36h",
// "90m") or a whole number of days ("7d").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// String spells d as a Go duration ("168h0m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// Set implements flag.Value: "7d" or a Go duration.
func (d *Duration) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON spells d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "7d" or a Go duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string (a whole number of days like 7d, or like 36h): %w", err)
	}
	return d.Set(s)
}

// parseDuration parses "7d" or a Go duration.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration (a whole number of days like 7d, or like 36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (a whole number of days like 7d, or like 36h)", s)
	}
	return v, nil
}

// Table is one table contract.
type Table struct {
	Name       string     `yaml:"table"`
	Source     Source     `yaml:"source"`
	PrimaryKey []string   `yaml:"primary_key"`
	Cursor     string     `yaml:"cursor"`
	NullCursor NullCursor `yaml:"null_cursor"`
	Partition  Partition  `yaml:"partition"`
	Rules      string     `yaml:"rules"`
	// SnapshotRetention is how long the table's Iceberg snapshots are
	// kept (time travel reaches that far back); DefaultSnapshotRetention
	// when unset.
	SnapshotRetention Duration `yaml:"snapshot_retention"`

	// File is the path the contract was loaded from (within fsys when it
	// was loaded with LoadFS).
	File string `yaml:"-"`

	fsys fs.FS // where File and the ruleset live; nil: the OS file system
}

// RulesPath is the ruleset's path: Rules, relative to the contract's folder.
func (t *Table) RulesPath() string {
	if t.fsys != nil {
		return path.Join(path.Dir(t.File), t.Rules)
	}
	if filepath.IsAbs(t.Rules) {
		return t.Rules
	}
	return filepath.Join(filepath.Dir(t.File), t.Rules)
}

// ReadRules reads the table's DQDL ruleset from beside the contract.
func (t *Table) ReadRules() ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if t.fsys != nil {
		b, err = fs.ReadFile(t.fsys, t.RulesPath())
	} else {
		b, err = os.ReadFile(t.RulesPath())
	}
	if err != nil {
		return nil, fmt.Errorf("contract %s: rules: %w", t.File, err)
	}
	return b, nil
}

// Error is a malformed contract: it names the file, the field and the problem.
type Error struct {
	File  string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("contract %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("contract %s: field %q: %s", e.File, e.Field, e.Msg)
}

// ErrUnknownTable is returned (wrapped) by Find for a table with no contract.
var ErrUnknownTable = errors.New("no contract for table")

// identRE is what a lake table name, partition name or column may be: a
// plain SQL identifier, so it is safe in keys, paths and catalog names.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// LoadFile reads and checks one contract.
func LoadFile(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes and checks a contract; name is used in error messages.
// Unknown fields, missing fields and malformed values are errors.
func Parse(name string, b []byte) (*Table, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var t Table
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "file is empty"}
		}
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	t.File = name
	if t.NullCursor == "" {
		t.NullCursor = NullCursorFail
	}
	if t.Partition.Transform == "" {
		t.Partition.Transform = DefaultTransform
	}
	if t.SnapshotRetention == 0 {
		t.SnapshotRetention = DefaultSnapshotRetention
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Table) check() error {
	bad := func(field, format string, args ...any) error {
		return &Error{File: t.File, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	ident := func(field, v string) error {
		if v == "" {
			return bad(field, "is required")
		}
		if !identRE.MatchString(v) {
			return bad(field, "%q is not a plain identifier (letters, digits and _, not starting with a digit, at most 63)", v)
		}
		return nil
	}
	for _, f := range []struct{ name, v string }{
		{"table", t.Name},
		{"source.schema", t.Source.Schema},
		{"source.table", t.Source.Table},
		{"cursor", t.Cursor},
		{"partition.column", t.Partition.Column},
	} {
		if err := ident(f.name, f.v); err != nil {
			return err
		}
	}
	if len(t.PrimaryKey) == 0 {
		return bad("primary_key", "is required (a list of one or more columns)")
	}
	seen := map[string]bool{}
	for i, c := range t.PrimaryKey {
		if err := ident(fmt.Sprintf("primary_key[%d]", i), c); err != nil {
			return err
		}
		if seen[c] {
			return bad(fmt.Sprintf("primary_key[%d]", i), "column %q is listed twice", c)
		}
		seen[c] = true
	}
	if msg := t.Partition.Transform.check(); msg != "" {
		return bad("partition.transform", "%s", msg)
	}
	if t.SnapshotRetention < Duration(time.Hour) {
		return bad("snapshot_retention", "%s is shorter than an hour", time.Duration(t.SnapshotRetention))
	}
	switch t.NullCursor {
	case NullCursorFail, NullCursorInclude:
	default:
		return bad("null_cursor", "%q is not one of fail, include", t.NullCursor)
	}
	if t.Rules == "" {
		return bad("rules", "is required (a DQDL file relative to the contract)")
	}
	if !strings.HasSuffix(t.Rules, ".dqdl") {
		return bad("rules", "%q should name a .dqdl file", t.Rules)
	}
	return nil
}

// LoadDir loads every *.table.yaml in dir, sorted by table name. Two
// contracts for one table name are an error.
func LoadDir(dir string) ([]*Table, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"+Suffix))
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return load(paths, dir, LoadFile)
}

// LoadFS is LoadDir over a file system, such as the schemas folder
// embedded in a Lambda binary; rulesets are read from fsys too.
func LoadFS(fsys fs.FS) ([]*Table, error) {
	paths, err := fs.Glob(fsys, "*"+Suffix)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return load(paths, "the embedded schemas", func(p string) (*Table, error) {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("contract: %w", err)
		}
		t, err := Parse(p, b)
		if err != nil {
			return nil, err
		}
		t.fsys = fsys
		return t, nil
	})
}

func load(paths []string, where string, loadFile func(string) (*Table, error)) ([]*Table, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("contract: no *%s files in %s", Suffix, where)
	}
	var out []*Table
	byName := map[string]string{}
	for _, p := range paths {
		t, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		if prev, ok := byName[t.Name]; ok {
			return nil, &Error{File: p, Field: "table", Msg: fmt.Sprintf("table %q is already defined in %s", t.Name, prev)}
		}
		byName[t.Name] = p
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Find returns the contract for the lake table name, or an error wrapping
// ErrUnknownTable that lists the known tables.
func Find(tables []*Table, name string) (*Table, error) {
	var names []string
	for _, t := range tables {
		if t.Name == name {
			return t, nil
		}
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("contract: table %q (known: %s): %w", name, strings.Join(names, ", "), ErrUnknownTable)
}
