package faultsuite

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store/faultstore"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

// A faulty run runs `lake run` once with its fault in place, takes the
// fault away and returns how many times it struck and the errors of the
// executions that failed (env.run's).
type faultyRun func(t *testing.T, e *env) (hits int, failed []string)

// clean is the control: a run without faults.
func clean(t *testing.T, e *env) (int, []string) { return 0, e.run(t, e.faulty) }

// proxied runs with faults in the proxy in front of the S3 lake.
func proxied(faults ...faultproxy.Fault) faultyRun {
	return func(t *testing.T, e *env) (int, []string) {
		var in []*faultproxy.Injected
		for _, f := range faults {
			x, err := e.proxy.Inject(f)
			if err != nil {
				t.Fatal(err)
			}
			in = append(in, x)
		}
		n := e.run(t, e.faulty)
		e.proxy.Clear()
		hits := 0
		for _, x := range in {
			hits += x.Hits()
		}
		return hits, n
	}
}

// diskFull runs with the folder lake's disk full from the point p on
// (p.Times 0: it stays full until the run ends).
func diskFull(p faultstore.Point) faultyRun {
	return func(t *testing.T, e *env) (int, []string) {
		a, err := e.disk.FailWrites(p)
		if err != nil {
			t.Fatal(err)
		}
		n := e.run(t, e.faulty)
		e.disk.Clear()
		return a.Hits(), n
	}
}

// pgTerminate terminates the ingest's PostgreSQL backends (application
// name lake-ingest) during the run, up to times of them: a transaction
// of the test holds the orders table locked, so that the ingest's read
// waits on the lock where it can be found and terminated; once times
// backends are terminated the lock is released.
func pgTerminate(times int) faultyRun {
	return func(t *testing.T, e *env) (int, []string) {
		ctx := context.Background()
		locker, err := pgx.Connect(ctx, e.source)
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Close(ctx)
		tx, err := locker.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		killer, err := pgx.Connect(ctx, e.source)
		if err != nil {
			t.Fatal(err)
		}
		defer killer.Close(ctx)
		done := make(chan int)
		go func() {
			killed := 0
			for deadline := time.Now().Add(time.Minute); killed < times && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				var n int
				err := killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'lake-ingest' AND wait_event_type = 'Lock'`).Scan(&n)
				if err != nil {
					break
				}
				killed += n
			}
			tx.Rollback(ctx) // the lock goes; the ingest's retry reads
			done <- killed
		}()
		n := e.run(t, e.faulty)
		return <-done, n
	}
}

// killAt starts `lake run` as a process over the lake, waits until an
// object appears under prefix (the step is at work) and kills the
// process with SIGKILL.
func killAt(prefix string) faultyRun {
	return func(t *testing.T, e *env) (int, []string) {
		ctx := context.Background()
		before := map[string]bool{}
		for info, err := range e.direct.List(ctx, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			before[info.Key] = true
		}
		time.Sleep(1100 * time.Millisecond) // the process's ingest holds its bound a second behind the present
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(append(os.Environ(), e.procEnv...), envLakeRun+"=1", "LAKE_URL="+e.url, "LAKE_SOURCE_URL="+e.source, "LAKE_SCHEMAS="+e.schemas)
		cmd.Stderr = e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for {
			select {
			case err := <-exited:
				t.Fatalf("lake run ended (%v) before anything appeared under %s", err, prefix)
			case <-time.After(5 * time.Millisecond):
			}
			for info, err := range e.direct.List(ctx, prefix) {
				if err == nil && !before[info.Key] && !strings.Contains(info.Key, "/.") {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					<-exited
					e.requireRunning(t)
					return 1, []string{"killed"}
				}
			}
		}
	}
}

// requireRunning fails unless the killed process left an execution
// RUNNING (its lease is still there), for the rerun to mark ABORTED.
func (e *env) requireRunning(t *testing.T) {
	t.Helper()
	for _, err := range e.direct.List(context.Background(), layout.ExecutionLeasesPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("the killed lake run left no execution RUNNING")
}
