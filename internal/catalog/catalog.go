// Package catalog catalogs the lake's meta tables (meta.watermarks,
// meta.dq_results, meta.executions): JSON records under _meta/ that the
// crawl step registers ((*crawl.Crawler).RegisterMeta) and the query
// layer and Athena read. The data tables (silver.<table>,
// silver.<table>_current, discarded.<table>) are Iceberg tables, not in
// this catalog: see internal/icetable and internal/icecatalog.
//
// The Catalog interface has one package per backend:
// catalog/localcatalog keeps the catalog in the lake under _meta/catalog/,
// catalog/gluecatalog is the AWS Glue Data Catalog. One conformance suite,
// catalog/catalogtest, runs against both. The package also holds the
// catalog types of JSON records (RecordColumns) and the check of column
// names that Glue and Athena can hold (CheckColumnNames).
//
// Imported by crawl, query, pipeline, ingest and bronze. It is pure Go
// (the crawl Lambda builds with CGO_ENABLED=0).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrNotFound is returned (wrapped) when a database or table does not exist.
var ErrNotFound = errors.New("catalog: not found")

// ErrConflict is returned (wrapped) by PutTable when the table changed since
// it was read (its Version no longer matches), or when creating a table that
// already exists with a different definition.
var ErrConflict = errors.New("catalog: conflicting update")

// ErrInvalid is returned (wrapped) for a name or column the catalog cannot
// hold.
var ErrInvalid = errors.New("catalog: invalid definition")

// Format is the file format of a table's objects.
type Format string

// FormatJSON is one JSON document per object, the format of the meta
// tables.
const FormatJSON Format = "json"

// Column is a column of a table. Type is a Hive type as the Glue Data
// Catalog and Athena spell it: boolean, tinyint, smallint, int, bigint,
// float, double, decimal(p,s), string, binary, date, timestamp,
// array<T>, map<K,V>, struct<name:T,...>.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Table is one catalogued table.
type Table struct {
	Database    string `json:"database"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Location is the table's prefix relative to the lake root, ending in
	// "/" (e.g. "_meta/watermarks/history/"). Backends map it to their own
	// form (Glue: s3://bucket/prefix/_meta/watermarks/history/).
	Location string `json:"location"`
	Format   Format `json:"format"`
	// Files, when set, is a glob that the names of the table's objects
	// match (e.g. "execution.json"); other objects under Location are not
	// part of it. Empty: every object of the format. Athena cannot filter
	// by name, so tables that need it are for local queries.
	Files string `json:"files,omitempty"`
	// Columns are the columns stored in the files, in order.
	Columns []Column `json:"columns"`

	// Version identifies the stored definition; it is set by GetTable and
	// ListTables and is the condition of PutTable. Empty for a new table.
	Version string `json:"-"`
}

// Catalog is implemented by every backend. Every method is safe for
// concurrent use, also by several processes (crawls) at once.
type Catalog interface {
	// EnsureDatabase creates the database if it does not exist. A database
	// that exists already is success.
	EnsureDatabase(ctx context.Context, name string) error

	// GetTable returns the table with its Version set, or an error wrapping
	// ErrNotFound.
	GetTable(ctx context.Context, database, name string) (*Table, error)

	// ListTables returns the database's tables sorted by name, each with its
	// Version set. A database without tables, or one that does not exist,
	// gives an empty list.
	ListTables(ctx context.Context, database string) ([]*Table, error)

	// PutTable stores t. With t.Version empty it creates the table; if the
	// table exists already with the same definition that is success, with
	// a different one an error wrapping ErrConflict. With t.Version set it
	// replaces the table only if its stored Version is still t.Version,
	// else it returns an error wrapping ErrConflict (or ErrNotFound when
	// the table is gone). The database must exist (ErrNotFound otherwise).
	PutTable(ctx context.Context, t *Table) error
}

// maxUpdateAttempts bounds Update's optimistic retries.
const maxUpdateAttempts = 10

// Update reads the table (nil when it does not exist), lets fn compute its
// new definition and stores it with PutTable, starting over when another
// writer changed the table in between (ErrConflict). fn may be called
// several times; returning nil leaves the table unchanged. An error from fn
// is returned as is. Update returns the stored table.
func Update(ctx context.Context, c Catalog, database, name string, fn func(cur *Table) (*Table, error)) (*Table, error) {
	for range maxUpdateAttempts {
		cur, err := c.GetTable(ctx, database, name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err != nil {
			cur = nil
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return cur, nil
		}
		next.Database, next.Name = database, name
		next.Version = ""
		if cur != nil {
			next.Version = cur.Version
		}
		err = c.PutTable(ctx, next)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrConflict) && !(cur != nil && errors.Is(err, ErrNotFound)) {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("catalog: update %s.%s: still conflicting after %d attempts: %w", database, name, maxUpdateAttempts, ErrConflict)
}

// SameDefinition reports whether a and b define the same table, ignoring
// Version.
func SameDefinition(a, b *Table) bool {
	return a.Database == b.Database && a.Name == b.Name && a.Description == b.Description &&
		a.Location == b.Location && a.Format == b.Format && a.Files == b.Files &&
		slices.Equal(a.Columns, b.Columns)
}

// nameRE is what a database, table or column name may be: a lower-case
// plain identifier, which Glue, Athena and DuckDB all keep as written.
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,127}$`)

// ValidName checks a database, table or column name.
func ValidName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("catalog: %s name %q: not a lower-case identifier (a-z, 0-9, _): %w", kind, name, ErrInvalid)
	}
	return nil
}

// Validate checks a table definition before a backend stores it.
func (t *Table) Validate() error {
	if err := ValidName("database", t.Database); err != nil {
		return err
	}
	if err := ValidName("table", t.Name); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("catalog: table %s.%s: %s: %w", t.Database, t.Name, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if t.Location == "" || t.Location[len(t.Location)-1] != '/' {
		return bad("location %q must be a prefix ending in /", t.Location)
	}
	if t.Format != FormatJSON {
		return bad("unknown format %q", t.Format)
	}
	if strings.ContainsAny(t.Files, "/'\\") {
		return bad("files pattern %q must be a file-name glob", t.Files)
	}
	if len(t.Columns) == 0 {
		return bad("no columns")
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if err := ValidName("column", c.Name); err != nil {
			return err
		}
		if seen[c.Name] {
			return bad("column %q twice", c.Name)
		}
		seen[c.Name] = true
		if c.Type == "" {
			return bad("column %q has no type", c.Name)
		}
	}
	return nil
}

// SplitTypeList splits a comma-separated list of Hive types (the inside of
// struct<...> or map<...>) at the commas outside <...> and (...).
func SplitTypeList(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '<', '(':
			depth++
		case '>', ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
