// Package testenv starts the real services that tests need (a disposable
// PostgreSQL, versitygw as the S3-compatible server, moto_server for AWS
// APIs with no open-source server) through the scripts in scripts/.
//
// Outside CI a test whose service cannot be started is skipped with a
// message saying what is missing; when CI=true it fails instead.
// Imported only by tests.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Unavailable skips t (or fails it when CI=true) because service could not
// be started: err says why.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required when CI=true but could not be started: %v", service, err)
	}
	t.Skipf("%s not available (%v); run `make test`, which starts it, or set CI=true to make this a failure", service, err)
}

// RepoRoot is the repository's root folder (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Script is the path of a script in scripts/.
func Script(name string) string {
	return filepath.Join(RepoRoot(), "scripts", name)
}
