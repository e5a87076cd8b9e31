// Package queries holds the lake's named example queries, one .sql file
// each, embedded in the lake command (`lake query --named NAME`). Every
// one is written in the SQL that DuckDB and Athena (Trino) share, over
// tables both engines have (silver.<table>_current is an Iceberg table in
// both), so it runs on both.
package queries

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Names lists the named queries, sorted.
func Names() []string {
	entries, _ := fs.Glob(files, "*.sql")
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = strings.TrimSuffix(e, ".sql")
	}
	sort.Strings(names)
	return names
}

// Get returns the SQL of a named query.
func Get(name string) (string, error) {
	b, err := files.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("queries: no query named %q (have: %s)", name, strings.Join(Names(), ", "))
	}
	return string(b), nil
}

// Summary is a query's first comment line.
func Summary(name string) string {
	sql, err := Get(name)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(sql, "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "--"))
}
