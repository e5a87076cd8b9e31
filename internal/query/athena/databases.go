package athena

import (
	"fmt"
	"strings"
)

// DatabaseNames returns the renaming of Runner.Databases for a deployment
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

// RenameDatabases rewrites the database part of every qualified name in sql
// whose database is a key of names to the name it maps to: with
// {"silver": "lake_silver"}, silver.orders, "silver"."orders", SILVER.orders
// and awsdatacatalog.silver.orders all name lake_silver. A name counts as a
// database when a dot follows it and it is the first part of the qualified
// name (or the second, after the awsdatacatalog catalog), so a column
// qualified by a table alias spelled like a database would be renamed too:
// do not alias tables silver, discarded or meta. String literals, quoted
// identifiers that are not qualifiers and comments are left alone. It
// fails on an unterminated literal, identifier or comment.
func RenameDatabases(sql string, names map[string]string) (string, error) {
	if len(names) == 0 {
		return sql, nil
	}
	var b strings.Builder
	// prev and prev2 are the last two tokens that were not white space or
	// comments: "." for a dot, "id:<lower-case name>" for an identifier.
	var prev, prev2 string
	push := func(tok string) { prev2, prev = prev, tok }
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			end, err := closing(sql, i, '\'')
			if err != nil {
				return "", err
			}
			b.WriteString(sql[i:end])
			push("literal")
			i = end
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				end = len(sql) - i
			}
			b.WriteString(sql[i : i+end])
			i += end
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return "", fmt.Errorf("athena: SQL has an unterminated /* comment at byte %d", i)
			}
			b.WriteString(sql[i : i+2+end+2])
			i += 2 + end + 2
		case c == '"' || isIdentStart(c):
			var name, text string
			end := i
			if c == '"' {
				var err error
				if end, err = closing(sql, i, '"'); err != nil {
					return "", err
				}
				text = sql[i:end]
				name = strings.ReplaceAll(text[1:len(text)-1], `""`, `"`)
			} else {
				for end < len(sql) && isIdentPart(sql[end]) {
					end++
				}
				text = sql[i:end]
				name = strings.ToLower(text)
			}
			to, ok := names[name]
			first := prev != "." || prev2 == "id:awsdatacatalog"
			if ok && first && nextIsDot(sql, end) {
				if c == '"' {
					text = `"` + strings.ReplaceAll(to, `"`, `""`) + `"`
				} else {
					text = to
				}
			}
			b.WriteString(text)
			push("id:" + name)
			i = end
		case c == '.':
			b.WriteByte(c)
			push(".")
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			push(string(c))
			i++
		}
	}
	return b.String(), nil
}

// closing returns the index just past the quote that closes the literal or
// quoted identifier opening at sql[start] (a doubled quote is an escaped
// one).
func closing(sql string, start int, q byte) (int, error) {
	for i := start + 1; i < len(sql); i++ {
		if sql[i] != q {
			continue
		}
		if i+1 < len(sql) && sql[i+1] == q {
			i++
			continue
		}
		return i + 1, nil
	}
	return 0, fmt.Errorf("athena: SQL has an unterminated %c at byte %d", q, start)
}

// nextIsDot reports whether the next character from i, after white space,
// is a dot.
func nextIsDot(sql string, i int) bool {
	rest := strings.TrimLeft(sql[i:], " \t\r\n")
	return strings.HasPrefix(rest, ".")
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }
