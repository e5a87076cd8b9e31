package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	pgOnce sync.Once
	pgURL  string
	pgErr  error
)

// PostgresURL returns the superuser URL of the test cluster's postgres
// database: LAKE_TEST_PG_URL when set, else a cluster started once per
// test process with scripts/pg.sh (and stopped by Main).
func PostgresURL() (string, error) {
	pgOnce.Do(func() {
		if u := os.Getenv("LAKE_TEST_PG_URL"); u != "" {
			pgURL = u
			return
		}
		pgURL, pgErr = startPostgres()
	})
	return pgURL, pgErr
}

func startPostgres() (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(Script("pg.sh"), "start")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/pg.sh start: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[name] = strings.Trim(value, "'")
		}
	}
	dir, u := vars["LAKE_TEST_PG_DIR"], vars["LAKE_TEST_PG_URL"]
	if u == "" || dir == "" {
		return "", fmt.Errorf("scripts/pg.sh start printed no LAKE_TEST_PG_URL/LAKE_TEST_PG_DIR: %q", stdout.String())
	}
	atExit(func() error {
		out, err := exec.Command(Script("pg.sh"), "stop", dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("scripts/pg.sh stop %s: %v: %s", dir, err, out)
		}
		return nil
	})
	return u, nil
}

// Postgres returns the URL of a fresh, empty database on the test cluster,
// owned by the cluster's superuser, and drops it when t ends. When the
// cluster cannot be started it calls Unavailable.
func Postgres(t testing.TB) string {
	t.Helper()
	admin, err := PostgresURL()
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}
