package dqdl

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Pos is a position in a ruleset file: 1-based line and column (columns
// count characters, not bytes).
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a load error: the ruleset is outside what this package accepts.
// Pos names where, Msg what was expected or what is wrong.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("dqdl: %s: %s", e.Pos, e.Msg) }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString // "..." with \" and \\ escapes
	tNumber // 12, 1.5 (sign is a separate token)
	tPunct  // = != < <= > >= ( ) [ ] { } , : $ - + !
)

type token struct {
	kind tokKind
	text string // identifier, punctuation, number literal, or the decoded string
	pos  Pos
	off  int // byte offset of the token's first byte
	end  int // byte offset just past the token
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return fmt.Sprintf("string %q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// lex splits src into tokens. # comments run to the end of the line.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			advance(1)
		case c == '#':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			advance(j)
		case c == '"':
			start, p := i, Pos{line, col}
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\\' && j+1 < len(src) && (src[j+1] == '"' || src[j+1] == '\\') {
					b.WriteByte(src[j+1])
					j += 2
					continue
				}
				if src[j] == '"' {
					closed = true
					break
				}
				if src[j] == '\n' {
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, &Error{p, "unterminated string: expected a closing '\"' on the same line"}
			}
			if b.Len() > maxStringLen {
				return nil, &Error{p, fmt.Sprintf("string longer than %d bytes", maxStringLen)}
			}
			advance(j + 1 - i)
			toks = append(toks, token{tString, b.String(), p, start, i})
		case c >= '0' && c <= '9':
			start, p := i, Pos{line, col}
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && isIdentByte(src[j]) {
				// 3days: DQDL needs a space between a number and a unit
				return nil, &Error{p, fmt.Sprintf("malformed number %q: expected a space after the number", src[i:j+1])}
			}
			advance(j - i)
			toks = append(toks, token{tNumber, src[start:j], p, start, j})
		case isIdentByte(c):
			start, p := i, Pos{line, col}
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			advance(j - i)
			toks = append(toks, token{tIdent, src[start:j], p, start, j})
		default:
			start, p := i, Pos{line, col}
			n := 1
			if i+1 < len(src) {
				two := src[i : i+2]
				if two == "<=" || two == ">=" || two == "!=" {
					n = 2
				}
			}
			if !strings.ContainsRune("=<>()[]{},:$-+!", rune(c)) {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, &Error{p, fmt.Sprintf("unexpected character %q", r)}
			}
			advance(n)
			toks = append(toks, token{tPunct, src[start : start+n], p, start, i})
		}
	}
	toks = append(toks, token{kind: tEOF, pos: Pos{line, col}, off: len(src), end: len(src)})
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
