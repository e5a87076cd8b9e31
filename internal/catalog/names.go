package catalog

import (
	"fmt"
	"strings"
)

// ColumnNameError means a table has columns the catalog cannot hold:
// names that are not plain identifiers once lower-cased (a-z, 0-9, _, not
// starting with a digit, at most 128 characters), or two names that differ
// only in case. It is found before anything is written (at ingest's plan,
// and at validate for objects dropped by hand), so the table's objects
// stay in bronze: rename the columns in the source (or a view), then
// replay. Not retryable.
type ColumnNameError struct {
	Table    string
	Problems []string // one per column, naming it
}

func (e *ColumnNameError) Error() string {
	return fmt.Sprintf("catalog: table %s has columns the catalog cannot hold: %s", e.Table, strings.Join(e.Problems, "; "))
}

// CheckColumnNames returns a *ColumnNameError listing every name of
// table's columns that the catalog cannot hold, or nil.
func CheckColumnNames(table string, names []string) error {
	var problems []string
	seen := map[string]string{}
	for _, n := range names {
		low := strings.ToLower(n)
		if !nameRE.MatchString(low) {
			problems = append(problems, fmt.Sprintf("%q is not a plain identifier (a-z, 0-9, _, not starting with a digit, at most 128 characters)", n))
			continue
		}
		if other, dup := seen[low]; dup {
			problems = append(problems, fmt.Sprintf("%q and %q are one name to the catalog (names are case-insensitive)", other, n))
			continue
		}
		seen[low] = n
	}
	if len(problems) > 0 {
		return &ColumnNameError{Table: table, Problems: problems}
	}
	return nil
}
