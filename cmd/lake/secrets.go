package main

import (
	"bytes"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sync"
)

// The source database's password must never be printed: not as a flag's
// default in -h or after a flag typo, not in a log line or an error. Two
// defences: the --source flag shows its value with the password masked
// (sourceFlag), and everything a command writes to stdout and stderr goes
// through a redactingWriter that masks every password the command line was
// given, wherever a library may have quoted it.

// mask replaces a password in what is printed.
const mask = "xxxxx"

// passwordPatterns find the password in the forms of connection string
// pgx accepts; group 1 is the password as written.
var passwordPatterns = []*regexp.Regexp{
	// postgres://user:PASSWORD@host/db: up to the last @ of the authority
	regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:([^/?#]*)@`),
	// ...?password=PASSWORD&...
	regexp.MustCompile(`[?&]password=([^&#]*)`),
	// keyword/value: password=PASSWORD or password='pass word'
	regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`),
}

// redactSource returns the connection string s with its password masked:
// postgres://user:xxxxx@host/db.
func redactSource(s string) string {
	for _, re := range passwordPatterns {
		var out []byte
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			if m[3] > m[2] {
				out = append(append(out, s[last:m[2]]...), mask...)
				last = m[3]
			}
		}
		s = string(append(out, s[last:]...))
	}
	return s
}

// sourcePasswords returns the passwords in the connection string s, as
// written and decoded.
func sourcePasswords(s string) []string {
	var found []string
	for _, re := range passwordPatterns {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			raw := m[1]
			found = append(found, raw)
			if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' {
				found = append(found, raw[1:len(raw)-1])
			}
			if p, err := url.PathUnescape(raw); err == nil {
				found = append(found, p)
			}
			if p, err := url.QueryUnescape(raw); err == nil {
				found = append(found, p)
			}
		}
	}
	return found
}

// minSecret is the shortest password the output filter masks: masking a
// shorter one would garble everything printed. (sourceFlag masks any.)
const minSecret = 4

// secretSet holds the passwords the command line was given.
type secretSet struct {
	mu   sync.Mutex
	list [][]byte // longest first, so that one containing another is masked whole
}

// secrets are this process's passwords: registered by sourceFlag, masked by
// lakeMain's stdout and stderr.
var secrets secretSet

// addSource registers the passwords of the connection string s.
func (s *secretSet) addSource(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range sourcePasswords(source) {
		if len(p) >= minSecret && !slices.ContainsFunc(s.list, func(b []byte) bool { return string(b) == p }) {
			s.list = append(s.list, []byte(p))
		}
	}
	slices.SortFunc(s.list, func(a, b []byte) int { return len(b) - len(a) })
}

// redact returns b with every password masked (b itself when it holds
// none).
func (s *secretSet) redact(b []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.list {
		if bytes.Contains(b, p) {
			b = bytes.ReplaceAll(b, p, []byte(mask))
		}
	}
	return b
}

// safeCut returns how much of b can be masked and written now, when more
// may follow: all of it but a tail that could be the start of a password,
// moved back before any password that the cut would split.
func (s *secretSet) safeCut(b []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		return len(b)
	}
	cut := max(0, len(b)-len(s.list[0])+1)
	for moved := true; moved; {
		moved = false
		for _, p := range s.list {
			i := bytes.LastIndex(b[:min(len(b), cut+len(p)-1)], p)
			if i >= 0 && i < cut && i+len(p) > cut {
				cut, moved = i, true
			}
		}
	}
	return cut
}

// sourceFlag is the --source flag's value. Its String, which the flag
// package prints as the default in -h and after a flag typo, masks the
// password; Set registers it with secrets.
type sourceFlag struct{ url *string }

func (f sourceFlag) String() string {
	if f.url == nil {
		return ""
	}
	return redactSource(*f.url)
}

func (f sourceFlag) Set(v string) error {
	secrets.addSource(v)
	*f.url = v
	return nil
}

// redactingWriter writes to w with every password in secrets masked. A
// password could be cut across two writes, so it passes whole lines on
// and holds back the end of an unfinished one (beyond a long password's
// length) until the line ends or Flush.
type redactingWriter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (r *redactingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	end := bytes.LastIndexByte(r.buf, '\n') + 1
	if end == 0 {
		if len(r.buf) < 64<<10 {
			return len(p), nil
		}
		end = secrets.safeCut(r.buf) // a long unfinished line
	}
	_, err := r.w.Write(secrets.redact(r.buf[:end]))
	r.buf = append(r.buf[:0], r.buf[end:]...)
	return len(p), err
}

// Flush writes what is held back.
func (r *redactingWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.w.Write(secrets.redact(r.buf))
	r.buf = r.buf[:0]
	return err
}
