package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/layout"
)

// lakeProcess starts the lake command (this test binary, as TestMain
// allows) with args; its stderr is collected.
type lakeProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

func startLake(t *testing.T, args ...string) *lakeProcess {
	t.Helper()
	p := &lakeProcess{cmd: exec.Command(os.Args[0], args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "LAKE_TEST_AS_LAKE=1")
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *lakeProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *lakeProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLog waits until the process has logged want.
func (p *lakeProcess) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.log(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not log %q in 30s:\n%s", p.cmd.Process.Pid, want, p.log())
		}
	}
}

// exit waits for the process to end and returns its exit status.
func (p *lakeProcess) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("pid %d did not exit in 30s:\n%s", p.cmd.Process.Pid, p.log())
		return -1
	}
}

// TestServeTwoProcesses: a second `lake serve` over a lake refuses, naming
// the first; once the first is killed (kill -9), a waiting one takes over
// when the dead one's lease expires, and releases it when stopped.
func TestServeTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	serve := []string{"serve", "--lake", "file://" + dir, "--schemas", "../../schemas", "--schedule", "off", "--poll", "100ms", "--lease-ttl", "4s"} // long enough that the third finds the dead lease unexpired on a busy machine

	first := startLake(t, serve...)
	first.waitLog(t, "holding the lake's lease")

	second := startLake(t, serve...)
	if code := second.exit(t); code != 1 {
		t.Errorf("second lake serve exited %d, want 1", code)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"another lake serve is serving this lake", "host " + host, fmt.Sprintf("pid %d", first.cmd.Process.Pid), "since ", "--wait"} {
		if !strings.Contains(second.log(), want) {
			t.Errorf("second lake serve's message lacks %q:\n%s", want, second.log())
		}
	}

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.exit(t)
	start := time.Now()
	third := startLake(t, append(serve, "--wait", "20s")...)
	third.waitLog(t, fmt.Sprintf("holding the lake's lease %s (host %s, pid %d)", layout.ServeLease, host, third.cmd.Process.Pid))
	t.Logf("the dead holder's lease was taken over after %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(third.log(), "waiting up to") {
		t.Errorf("third lake serve did not say it waits:\n%s", third.log())
	}

	if err := third.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := third.exit(t); code != 0 {
		t.Errorf("lake serve stopped by SIGTERM exited %d:\n%s", code, third.log())
	}
	b, err := os.ReadFile(filepath.Join(dir, layout.ServeLease))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		PID      int  `json:"pid"`
		Released bool `json:"released"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID != third.cmd.Process.Pid || !rec.Released {
		t.Errorf("lease after a clean stop: %s (%v), want released by pid %d", b, err, third.cmd.Process.Pid)
	}
}
