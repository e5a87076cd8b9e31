package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
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

// startService runs `scripts/<script> start`, reads the `export NAME=value`
// lines it prints, checks that every name in want is set, and registers
// `scripts/<script> stop <dirVar's value>` to run when Main ends.
func startService(script, dirVar string, want ...string) (map[string]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(Script(script), "start")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/%s start: %v: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[name] = strings.Trim(value, "'")
		}
	}
	for _, name := range append([]string{dirVar}, want...) {
		if vars[name] == "" {
			return nil, fmt.Errorf("scripts/%s start printed no %s: %q", script, name, stdout.String())
		}
	}
	dir := vars[dirVar]
	atExit(func() error {
		out, err := exec.Command(Script(script), "stop", dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("scripts/%s stop %s: %v: %s", script, dir, err, out)
		}
		return nil
	})
	return vars, nil
}
