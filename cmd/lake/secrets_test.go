package main

import (
	"bytes"
	"context"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/testenv"
)

// planted is the source password the secrets test plants. It holds a
// character that URLs escape, so that both spellings are looked for; both
// contain plantedMark.
const (
	planted     = "S3cret-planted/pw"
	plantedMark = "S3cret-planted"
)

// withPassword returns the PostgreSQL URL u with planted as its password.
func withPassword(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword(pu.User.Username(), planted)
	if !strings.Contains(pu.String(), "S3cret-planted%2Fpw") {
		t.Fatalf("URL %s does not hold the escaped password", pu)
	}
	return pu.String()
}

// leakCheck runs lake commands as the binary does (lakeMain) and fails the
// test if anything they print shows the planted password.
type leakCheck struct {
	t   *testing.T
	ran int
}

// run runs `lake args...` with ctx and returns its stdout and exit status.
func (c *leakCheck) run(ctx context.Context, args ...string) (string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := lakeMain(ctx, args, &out, &errb)
	c.ran++
	for name, b := range map[string][]byte{"stdout": out.Bytes(), "stderr": errb.Bytes()} {
		if bytes.Contains(b, []byte(plantedMark)) {
			c.t.Errorf("lake %s: %s shows the password:\n%s", strings.Join(args, " "), name, b)
		}
	}
	return out.String(), code
}

// files fails the test if any file under dir holds the planted password,
// and returns how many it read.
func (c *leakCheck) files(dir string) int {
	c.t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, []byte(plantedMark)) {
			c.t.Errorf("%s shows the password", path)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// TestNoOutputShowsThePassword plants a password in LAKE_SOURCE_URL and
// looks for it in everything every lake command prints (help, a flag
// typo, a URL that does not parse, a failed connection, a whole run
// against a real PostgreSQL) and in every file written in the lake.
func TestNoOutputShowsThePassword(t *testing.T) {
	lakeDir := t.TempDir()
	t.Setenv("LAKE_URL", "file://"+lakeDir)
	t.Setenv("LAKE_SCHEMAS", "../../schemas")
	c := &leakCheck{t: t}
	ctx := t.Context()

	t.Run("help and typos", func(t *testing.T) {
		c.t = t
		t.Setenv("LAKE_SOURCE_URL", "postgres://lake:S3cret-planted%2Fpw@db.example:5432/orders?sslmode=require")
		for _, args := range [][]string{{}, {"help"}, {"-h"}, {"nosuch"}} {
			c.run(ctx, args...)
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range commands {
				if !yield(n) {
					return
				}
			}
		})
		for _, name := range names {
			c.run(ctx, name, "-h")
			c.run(ctx, name, "--no-such-flag")
			c.run(ctx, name, "--sourc", "x") // a typo of the flag itself
		}
		if out, _ := c.run(ctx, "ingest", "-h"); out != "" {
			t.Errorf("lake ingest -h printed %q on stdout, want help on stderr only", out)
		}
		var errb bytes.Buffer
		lakeMain(ctx, []string{"seed", "-h"}, &bytes.Buffer{}, &errb)
		if !strings.Contains(errb.String(), "postgres://lake:xxxxx@db.example:5432/orders") {
			t.Errorf("lake seed -h does not show the source with its password masked:\n%s", errb.String())
		}
	})

	t.Run("bad source URLs", func(t *testing.T) {
		c.t = t
		for _, tt := range []struct {
			source string
			run    bool // also `lake run`, whose execution retries with backoff (about 15 s)
		}{
			{"postgres://lake:S3cret-planted%2Fpw@127.0.0.1:notaport/orders", true}, // does not parse
			{"postgres://lake:S3cret-planted%2Fpw@127.0.0.1:1/orders", false},       // nothing listens
			{"host=127.0.0.1 port=1 user=lake password='S3cret-planted/pw' dbname=orders", false},
			{"postgres://lake@127.0.0.1:1/orders?password=S3cret-planted%2Fpw", false},
		} {
			t.Setenv("LAKE_SOURCE_URL", tt.source)
			commands := [][]string{{"seed", "--rows", "10"}, {"ingest"}}
			if tt.run {
				commands = append(commands, []string{"run"})
			}
			for _, args := range commands {
				if _, code := c.run(ctx, args...); code == 0 {
					t.Errorf("lake %s with source %s succeeded", args[0], redactSource(tt.source))
				}
			}
		}
	})

	t.Run("a whole run", func(t *testing.T) {
		c.t = t
		t.Setenv("LAKE_SOURCE_URL", withPassword(t, testenv.Postgres(t)))
		for _, args := range [][]string{{"seed", "--rows", "500", "--defects", "0.1"}, {"ingest"}} {
			if _, code := c.run(ctx, args...); code != 0 {
				t.Fatalf("lake %s failed", args[0])
			}
			time.Sleep(1100 * time.Millisecond) // ingest holds its bound a second behind the present
		}
		out, code := c.run(ctx, "run", "--format", "json")
		if code != 0 {
			t.Fatalf("lake run failed:\n%s", out)
		}
		var name string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, `"name": "`) && name == "" {
				name = strings.Split(line, `"`)[3]
			}
		}
		objects, _ := filepath.Glob(filepath.Join(lakeDir, "archive", "orders", "*", "*.parquet"))
		if len(objects) == 0 {
			objects, _ = filepath.Glob(filepath.Join(lakeDir, "archive", "orders", "*.parquet"))
		}
		for _, args := range [][]string{
			{"executions"}, {"executions", name}, {"executions", "--format", "json", name},
			{"query", "SELECT count(*) FROM silver.orders"}, {"query", "--named", "discard_rate_per_rule"},
			{"seed", "--rows", "0", "--update", "0.2"},
		} {
			if _, code := c.run(ctx, args...); code != 0 {
				t.Errorf("lake %s failed", strings.Join(args, " "))
			}
		}
		if len(objects) > 0 {
			if _, code := c.run(ctx, "validate", "--rules", "../../schemas/orders.dqdl", objects[0]); code != 0 {
				t.Errorf("lake validate %s failed", objects[0])
			}
		} else {
			t.Errorf("no archived object under %s to validate", lakeDir)
		}
		time.Sleep(1100 * time.Millisecond)
		if _, code := c.run(ctx, "ingest"); code != 0 { // leaves an object for serve
			t.Fatal("second lake ingest failed")
		}
		sctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		c.run(sctx, "serve", "--poll", "200ms", "--schedule", "rate(1 minute)")
	})

	read := c.files(lakeDir)
	t.Logf("%d commands run, %d files in the lake read", c.ran, read)
	if read < 10 {
		t.Errorf("only %d files in the lake: the runs wrote less than expected", read)
	}
}

func TestRedactSource(t *testing.T) {
	tests := []struct{ source, want string }{
		{"postgres://u:p%40ss@h:5432/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require"},
		{"postgresql://u:pass@word@h/db", "postgresql://u:xxxxx@h/db"},
		{"postgres://u@h/db?sslmode=disable&password=pw1", "postgres://u@h/db?sslmode=disable&password=xxxxx"},
		{"host=h user=u password='a b' dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password=secret", "host=h password=xxxxx"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := redactSource(tt.source); got != tt.want {
			t.Errorf("redactSource(%q)=%q, want %q", tt.source, got, tt.want)
		}
	}
}

func TestRedactingWriter(t *testing.T) {
	secrets.addSource("postgres://u:Wr1ter-secret@h/db")
	tests := []struct {
		description string
		writes      []string
	}{
		{"one line", []string{"error: Wr1ter-secret failed\n"}},
		{"cut across writes", []string{"error: Wr1ter", "-sec", "ret failed\n"}},
		{"no newline until Flush", []string{"error: Wr1ter-", "secret"}},
		{"a long unfinished line", []string{strings.Repeat("a", 70<<10) + "Wr1ter-se", "cret" + strings.Repeat("b", 70<<10)}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			var out bytes.Buffer
			w := &redactingWriter{w: &out}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write: n=%d err=%v", n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(strings.Join(tt.writes, ""), "Wr1ter-secret", mask)
			if out.String() != want {
				t.Errorf("wrote %.80q..., want %.80q...", out.String(), want)
			}
		})
	}
}
