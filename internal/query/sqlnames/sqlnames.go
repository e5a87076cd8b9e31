// Package sqlnames finds the qualified names of an SQL statement (a.b,
// "a"."b", a . b . c) with their byte positions, outside string literals
// and comments. The query layer uses it to tell which lake tables a
// statement reads (internal/query, on DuckDB) and to rewrite their
// database names and time travel for Athena (internal/query/athena).
//
// It knows the lexical rules that DuckDB and Athena (Trino) share:
// '...' string literals and "..." quoted identifiers, each with its quote
// doubled to escape it, and -- and /* */ comments. Pure Go.
package sqlnames

import (
	"fmt"
	"strings"
)

// Part is one identifier of a qualified name.
type Part struct {
	// Name is the identifier as written, without its quotes (a doubled
	// quote inside a quoted identifier is one quote).
	Name string
	// Quoted: the identifier was written in double quotes.
	Quoted bool
	// Start and End are its byte span in the statement, quotes included.
	Start, End int
}

// Folded is the name as the engines compare it case-insensitively (lower
// case).
func (p Part) Folded() string { return strings.ToLower(p.Name) }

// Name is a qualified name: two or more identifiers joined by dots, with
// white space or comments allowed around the dots.
type Name []Part

// Find returns the qualified names of sql in the order they appear.
// Identifiers that stand alone (a column, an unqualified table) are not
// names here. It fails on an unterminated literal, quoted identifier or
// comment, naming where it starts.
func Find(sql string) ([]Name, error) {
	var names []Name
	var cur Name // the name being read
	dot := false // a dot followed cur's last part
	end := func() {
		if len(cur) >= 2 {
			names = append(names, cur)
		}
		cur, dot = nil, false
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			j, err := closing(sql, i, '\'')
			if err != nil {
				return nil, err
			}
			end()
			i = j
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return finish(names, cur), nil
			}
			i += j
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("sqlnames: SQL has an unterminated /* comment at byte %d", i)
			}
			i += 2 + j + 2
		case c == '"' || isIdentStart(c):
			p := Part{Start: i, Quoted: c == '"'}
			if p.Quoted {
				j, err := closing(sql, i, '"')
				if err != nil {
					return nil, err
				}
				p.End, p.Name = j, strings.ReplaceAll(sql[i+1:j-1], `""`, `"`)
			} else {
				j := i
				for j < len(sql) && isIdentPart(sql[j]) {
					j++
				}
				p.End, p.Name = j, sql[i:j]
			}
			if !dot {
				end()
			}
			cur, dot = append(cur, p), false
			i = p.End
		case c == '.':
			if dot || len(cur) == 0 {
				end()
			} else {
				dot = true
			}
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			end()
			i++
		}
	}
	return finish(names, cur), nil
}

func finish(names []Name, cur Name) []Name {
	if len(cur) >= 2 {
		names = append(names, cur)
	}
	return names
}

// closing returns the index just past the quote that closes the literal
// or quoted identifier opening at sql[start] (a doubled quote is an
// escaped one).
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
	return 0, fmt.Errorf("sqlnames: SQL has an unterminated %c at byte %d", q, start)
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '$' }
