package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	stopMu    sync.Mutex
	stopFuncs []func() error
)

// atExit registers f to run when Main ends: each service that testenv
// starts registers how to stop it.
func atExit(f func() error) {
	stopMu.Lock()
	defer stopMu.Unlock()
	stopFuncs = append(stopFuncs, f)
}

// Main runs the tests, then stops every service testenv started for them,
// then exits with the tests' status. Call it from TestMain in each package
// that uses testenv:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	stopMu.Lock()
	fs := stopFuncs
	stopFuncs = nil
	stopMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		if err := fs[i](); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping a service: %v\n", err)
		}
	}
	os.Exit(code)
}
