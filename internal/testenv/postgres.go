package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
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
	vars, err := startService("pg.sh", "LAKE_TEST_PG_DIR", "LAKE_TEST_PG_URL")
	if err != nil {
		return "", err
	}
	return vars["LAKE_TEST_PG_URL"], nil
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
