package athena

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medallionlake/lake/internal/query/sqlnames"
)

// Tables says how the lake's table names read in a deployment's Athena:
// the Glue database each lake database is in, which databases hold
// Iceberg tables, and the time to read those at.
type Tables struct {
	// Databases renames the lake's databases to the Glue databases that
	// hold them (DatabaseNames; nil: the same names).
	Databases map[string]string
	// Iceberg lists the lake databases whose tables are Iceberg tables
	// (silver, discarded), which can be read as of a time.
	Iceberg []string
	// AsOf, when not zero, reads every table of the Iceberg databases as
	// of that time: FOR TIMESTAMP AS OF TIMESTAMP '<AsOf in UTC>' after its
	// name.
	AsOf time.Time
}

// DatabaseNames returns the renaming of Tables.Databases for a deployment
// whose Glue databases are the lake's databases with prefix in front
// (template.yaml's NamePrefix lake gives the prefix "lake_": silver is
// lake_silver). An empty prefix gives no renaming.
func DatabaseNames(prefix string, lakeDatabases ...string) map[string]string {
	if prefix == "" {
		return nil
	}
	m := make(map[string]string, len(lakeDatabases))
	for _, db := range lakeDatabases {
		m[db] = prefix + db
	}
	return m
}

// Rewrite returns sql with the lake's table names as the deployment's
// Athena reads them. A qualified name whose database part (the first
// part, or the second after the catalog awsdatacatalog) is a key of
// Databases has that part renamed: with {"silver": "lake_silver"},
// silver.orders, "silver"."orders", SILVER.orders and
// awsdatacatalog.silver.orders all name lake_silver. With AsOf set, a
// table of an Iceberg database (database.table, not a column qualified by
// it) gets Athena's time travel clause after its name:
//
//	FROM silver.orders o  ->  FROM silver.orders FOR TIMESTAMP AS OF TIMESTAMP '2025-01-31 10:00:00.000000 UTC' o
//
// A column qualified by a table alias spelled like a database would be
// taken for a table: do not alias tables silver, discarded or meta.
// String literals and comments are left alone. It fails on an
// unterminated literal, identifier or comment, and on a table that has a
// FOR ... AS OF clause of its own while AsOf is set.
func (t Tables) Rewrite(sql string) (string, error) {
	if len(t.Databases) == 0 && t.AsOf.IsZero() {
		return sql, nil
	}
	names, err := sqlnames.Find(sql)
	if err != nil {
		return "", fmt.Errorf("athena: %w", err)
	}
	var b strings.Builder
	last := 0
	for _, n := range names {
		i := 0
		if len(n) >= 3 && databaseName(n[0]) == "awsdatacatalog" {
			i = 1
		}
		db := databaseName(n[i])
		if to, ok := t.Databases[db]; ok {
			b.WriteString(sql[last:n[i].Start])
			if n[i].Quoted {
				b.WriteString(`"` + strings.ReplaceAll(to, `"`, `""`) + `"`)
			} else {
				b.WriteString(to)
			}
			last = n[i].End
		}
		if t.AsOf.IsZero() || len(n) != i+2 || !slices.Contains(t.Iceberg, db) {
			continue
		}
		end := n[i+1].End
		if nextWord(sql[end:]) == "for" {
			return "", fmt.Errorf("athena: %s.%s has a FOR ... AS OF clause of its own: drop it or --as-of", n[i].Name, n[i+1].Name)
		}
		b.WriteString(sql[last:end])
		b.WriteString(" FOR TIMESTAMP AS OF TIMESTAMP '" + t.AsOf.UTC().Format("2006-01-02 15:04:05.000000") + " UTC'")
		last = end
	}
	b.WriteString(sql[last:])
	return b.String(), nil
}

// databaseName is p as Athena compares database names: unquoted names in
// lower case, quoted ones as written.
func databaseName(p sqlnames.Part) string {
	if p.Quoted {
		return p.Name
	}
	return p.Folded()
}

// nextWord is the word (letters) that s starts with after white space, in
// lower case.
func nextWord(s string) string {
	s = strings.TrimLeft(s, " \t\r\n")
	i := 0
	for i < len(s) && ('a' <= s[i]|0x20 && s[i]|0x20 <= 'z') {
		i++
	}
	return strings.ToLower(s[:i])
}
