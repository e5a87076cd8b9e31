package ingest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/testenv"
)

// On a standby, ingest refuses without a replica lag window, and with one
// holds the watermark that far below the last replayed commit.
func TestStandby(t *testing.T) {
	e := newEnv(t, "timestamptz NOT NULL", contract.NullCursorFail)
	e.exec("INSERT INTO items (id) SELECT generate_series(1, 10)")
	standbyURL := startStandby(t, e.url)
	ctx := context.Background()

	in := New(e.st, standbyURL, e.in.Tables, Options{})
	if _, err := in.Run(ctx, Request{Table: "items"}); err == nil {
		t.Fatal("Run on a standby without a lag window succeeded, want *StandbyError")
	} else if _, ok := err.(*StandbyError); !ok {
		t.Fatalf("Run on a standby: err = %v (%T), want *StandbyError", err, err)
	}

	const lag = 200 * time.Millisecond
	in.ReplicaLag = lag
	waitReplayed(t, standbyURL, 10)
	time.Sleep(2 * lag)                          // let the rows age past the lag window
	e.exec("INSERT INTO items (id) VALUES (11)") // the last replayed commit, once replayed
	waitReplayed(t, standbyURL, 11)
	r1, err := in.Run(ctx, Request{Table: "items"})
	if err != nil {
		t.Fatalf("Run on a standby with a lag window: %v", err)
	}
	if !strings.Contains(r1.HiReason, "standby") {
		t.Errorf("hi reason = %q, want the standby's replay position", r1.HiReason)
	}
	if got, want := r1.Rows, int64(10); got != want {
		t.Errorf("run 1 rows = %d, want %d (row 11 is within the lag window)", got, want)
	}
	time.Sleep(2 * lag)
	e.exec("INSERT INTO items (id) VALUES (12)")
	waitReplayed(t, standbyURL, 12)
	if _, err := in.Run(ctx, Request{Table: "items"}); err != nil {
		t.Fatal(err)
	}
	e.exec("DELETE FROM items WHERE id = 12") // still within the lag window: not yet extracted
	e.checkExactlyOnce()
}

// startStandby starts a streaming standby of the test cluster (a
// pg_basebackup of it) on a free port, stops it when t ends, and returns
// the URL of the database of primaryURL on it.
func startStandby(t *testing.T, primaryURL string) string {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_basebackup")); err != nil {
		testenv.Unavailable(t, "PostgreSQL standby", err)
	}
	u, err := url.Parse(primaryURL)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "lake-standby-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: as root, run it as postgres.
	asPG := func(name string, args ...string) *exec.Cmd {
		if os.Getuid() != 0 {
			return exec.Command(name, args...)
		}
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	if os.Getuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			testenv.Unavailable(t, "PostgreSQL standby", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	logFile := filepath.Join(dir, "log")
	run := func(cmd *exec.Cmd) {
		t.Helper()
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("%s: %v\n%s\nlog:\n%s", strings.Join(cmd.Args, " "), err, out, log)
		}
	}
	run(asPG(filepath.Join(bin, "pg_basebackup"), "-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(),
		"-D", data, "-R", "-X", "stream", "--no-sync", "-c", "fast"))
	// A standby needs at least the primary's value of these settings.
	port := freePort(t)
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c hot_standby=on", port, dir)
	conn, err := pgx.Connect(context.Background(), primaryURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction"} {
		var v string
		if err := conn.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		opts += fmt.Sprintf(" -c %s=%s", name, v)
	}
	conn.Close(context.Background())
	run(asPG(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", logFile, "-w", "-t", "60", "-o", opts, "start"))
	t.Cleanup(func() {
		if out, err := asPG(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop").CombinedOutput(); err != nil {
			t.Errorf("stop standby: %v\n%s", err, out)
		}
	})
	su := *u
	su.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return su.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReplayed waits until the standby has the row with id.
func waitReplayed(t *testing.T, standbyURL string, id int64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		conn, err := pgx.Connect(ctx, standbyURL)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM items WHERE id = $1", id).Scan(&n)
			conn.Close(ctx)
		}
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby has not replayed row %d after 30s (last error: %v)", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
