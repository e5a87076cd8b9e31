package lease_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const key = "_meta/serve/lease.json"

// forEachBackend runs fn on a folder lake and on versitygw.
func forEachBackend(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range testenv.Lakes {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

func acquire(t *testing.T, st store.Store, opts lease.Options) *lease.Lease {
	t.Helper()
	l, err := lease.Acquire(t.Context(), st, key, opts)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

// wantHeld fails t unless err says that holder holds the lease.
func wantHeld(t *testing.T, err error, holder *lease.Lease) {
	t.Helper()
	var held *lease.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("err=%v, want a *lease.HeldError", err)
	}
	if held.Holder != holder.Holder() {
		t.Errorf("HeldError names %+v, want %+v", held.Holder, holder.Holder())
	}
	host, _ := os.Hostname()
	for _, want := range []string{"host " + host, "pid ", "since "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestOneHolderAtATime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st store.Store) {
		a := acquire(t, st, lease.Options{})
		_, err := lease.Acquire(t.Context(), st, key, lease.Options{})
		wantHeld(t, err, a)
		if err := a.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		b := acquire(t, st, lease.Options{}) // at once: released
		if b.Holder() == a.Holder() {
			t.Error("the second holder has the first one's token")
		}
	})
}

func TestDeadHolderExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st store.Store) {
		const ttl = 400 * time.Millisecond
		a := acquire(t, st, lease.Options{TTL: ttl}) // and dies: no Keep
		_, err := lease.Acquire(t.Context(), st, key, lease.Options{})
		wantHeld(t, err, a)
		start := time.Now()
		var log strings.Builder
		b := acquire(t, st, lease.Options{Wait: 10 * time.Second, Log: &log})
		if waited := time.Since(start); waited > 5*time.Second {
			t.Errorf("waited %s for a lease with a TTL of %s", waited, ttl)
		}
		if !strings.Contains(log.String(), "waiting up to") {
			t.Errorf("no waiting message: %q", log.String())
		}
		// the first holder, back from the dead, has lost it
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var lost *lease.LostError
		if err := a.Keep(ctx); !errors.As(err, &lost) || lost.By == nil || *lost.By != b.Holder() {
			t.Errorf("Keep of the expired holder: %v, want a *lease.LostError naming the new holder", err)
		}
	})
}

func TestKeepHoldsIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st store.Store) {
		const ttl = 300 * time.Millisecond
		a := acquire(t, st, lease.Options{TTL: ttl})
		ctx, cancel := context.WithCancel(t.Context())
		kept := make(chan error, 1)
		go func() { kept <- a.Keep(ctx) }()
		start := time.Now()
		_, err := lease.Acquire(t.Context(), st, key, lease.Options{Wait: 5 * ttl})
		wantHeld(t, err, a)
		if waited := time.Since(start); waited < 5*ttl {
			t.Errorf("gave up after %s, want the whole wait of %s", waited, 5*ttl)
		}
		cancel()
		if err := <-kept; err != nil {
			t.Errorf("Keep: %v", err)
		}
		if err := a.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		acquire(t, st, lease.Options{})
	})
}

func TestContendersRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st store.Store) {
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = lease.Acquire(t.Context(), st, key, lease.Options{}) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			var held *lease.HeldError
			switch {
			case err == nil:
				won++
			case !errors.As(err, &held):
				t.Errorf("contender %d: %v, want nil or a *lease.HeldError", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d contenders hold the lease, want 1", won, n)
		}
	})
}

// TestLostAnswers: a write that reaches the server but whose answer is
// lost (the client's retry then fails its condition) still holds or
// renews the lease, on versitygw through a fault proxy.
func TestLostAnswers(t *testing.T) {
	cfg, p := testenv.S3(t).ThroughProxy(t)
	st, err := s3store.New(t.Context(), cfg.Options("lake"))
	if err != nil {
		t.Fatal(err)
	}
	lost := faultproxy.Fault{Method: "PUT", Path: key + "$", Action: faultproxy.ResetBeforeResponse, Forward: true, Times: 1}
	in, err := p.Inject(lost)
	if err != nil {
		t.Fatal(err)
	}
	a := acquire(t, st, lease.Options{TTL: 3 * time.Second})
	if in.Hits() != 1 {
		t.Fatalf("the create's answer was not lost (%d hits)", in.Hits())
	}
	if in, err = p.Inject(lost); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond) // two renewals
	defer cancel()
	if err := a.Keep(ctx); err != nil {
		t.Fatalf("Keep with a lost answer: %v", err)
	}
	if in.Hits() != 1 {
		t.Fatalf("no renewal's answer was lost (%d hits)", in.Hits())
	}
	_, err = lease.Acquire(t.Context(), st, key, lease.Options{})
	wantHeld(t, err, a)
	// a release whose answer is lost has released it all the same
	if in, err = p.Inject(lost); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatalf("Release with a lost answer: %v", err)
	}
	if in.Hits() != 1 {
		t.Fatalf("the release's answer was not lost (%d hits)", in.Hits())
	}
	acquire(t, st, lease.Options{})
}

// TestRenewalFailures: renewals that fail for a while are tried again; a
// holder that cannot renew before its lease expires has lost it.
func TestRenewalFailures(t *testing.T) {
	cfg, p := testenv.S3(t).ThroughProxy(t)
	st, err := s3store.New(t.Context(), cfg.Options("lake"))
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 3 * time.Second
	a := acquire(t, st, lease.Options{TTL: ttl, Log: &strings.Builder{}})
	slow, err := p.Inject(faultproxy.Fault{Method: "PUT", Path: key + "$", Action: faultproxy.SlowDown})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*ttl)
	defer cancel()
	err = a.Keep(ctx)
	var lost *lease.LostError
	var su *store.StoreUnavailableError
	if !errors.As(err, &lost) || lost.By != nil || !errors.As(err, &su) {
		t.Fatalf("Keep while every renewal is throttled: %v, want a *lease.LostError from StoreUnavailableError", err)
	}
	if slow.Hits() < 2 {
		t.Errorf("%d renewals tried, want several", slow.Hits())
	}
}

// TestHold: a held lease is renewed past its TTL and released by release;
// one lost meanwhile (its object removed) cancels the held context with
// the *LostError as its cause.
func TestHold(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st store.Store) {
		ttl := lease.Options{TTL: 300 * time.Millisecond}
		held, release := acquire(t, st, ttl).Hold(t.Context())
		time.Sleep(600 * time.Millisecond)
		if _, err := lease.Acquire(t.Context(), st, key, ttl); err == nil {
			t.Fatal("the held lease was taken after two TTLs: not renewed")
		}
		release()
		if held.Err() == nil {
			t.Error("the held context is not done after release")
		}
		l := acquire(t, st, ttl) // released: taken at once
		held, release = l.Hold(t.Context())
		defer release()
		if err := st.Delete(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		select {
		case <-held.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the held context is not cancelled after the lease was lost")
		}
		var lost *lease.LostError
		if err := context.Cause(held); !errors.As(err, &lost) {
			t.Errorf("cause %v, want a *lease.LostError", err)
		}
	})
}
