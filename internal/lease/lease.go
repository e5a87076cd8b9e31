// Package lease is a mutual-exclusion lease kept as one JSON object in the
// lake, taken and renewed with the store's conditional writes, so that it
// works wherever the lake is (a folder, S3, an S3-compatible server) with
// no other coordination service. `lake serve` holds one so that a lake is
// served by one process at a time. Imported by internal/localrun.
//
// The object records its holder (host, pid, a random token), when it was
// taken, when it was last renewed and when it expires. A holder renews it
// (Keep) every third of its TTL; a holder that dies stops renewing, and
// once the lease has expired another process takes it over, again with a
// conditional write, so that of two contenders exactly one wins.
//
// Expiry is read from the holder's clock, so hosts' clocks must agree to
// well within the TTL; a process that waits also counts a lease whose
// object has not changed for a whole TTL, by its own clock, as expired.
package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/medallionlake/lake/internal/store"
)

// DefaultTTL is Options.TTL when it is 0.
const DefaultTTL = 30 * time.Second

// Options configure Acquire.
type Options struct {
	// TTL is how long the lease outlives its holder's last renewal; 0
	// means DefaultTTL.
	TTL time.Duration
	// Wait is how long Acquire waits for a lease held by another process
	// to be released or to expire; 0 refuses at once.
	Wait time.Duration
	// Log receives a line when Acquire starts waiting, and when Keep fails
	// to renew (nil: none).
	Log io.Writer
}

// Holder identifies a lease's holder.
type Holder struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Token string `json:"token"` // random, one per Acquire
}

// record is the lease object.
type record struct {
	Holder
	Since    time.Time `json:"since"`
	Renewed  time.Time `json:"renewed"`
	Expires  time.Time `json:"expires"`
	TTLMs    int64     `json:"ttl_ms"`
	Released bool      `json:"released,omitempty"`
}

// ttl is the holder's TTL (DefaultTTL for a record without one).
func (r *record) ttl() time.Duration {
	if r.TTLMs <= 0 {
		return DefaultTTL
	}
	return time.Duration(r.TTLMs) * time.Millisecond
}

// HeldError means another process holds the lease: Acquire did not wait,
// or waited Options.Wait in vain.
type HeldError struct {
	Key     string
	Holder  Holder
	Since   time.Time
	Renewed time.Time
	Expires time.Time
}

func (e *HeldError) Error() string {
	now := time.Now()
	return fmt.Sprintf("held by host %s, pid %d, since %s (lease %s renewed %s ago, expires in %s)",
		e.Holder.Host, e.Holder.PID, e.Since.UTC().Format(time.RFC3339), e.Key,
		now.Sub(e.Renewed).Round(time.Second), e.Expires.Sub(now).Round(time.Second))
}

// LostError means a holder could not keep its lease: another process took
// it over, or renewals failed until it expired. The holder must stop what
// the lease protects.
type LostError struct {
	Key string
	By  *Holder // who holds it now, when known
	Err error   // the last renewal's error, when that was the cause
}

func (e *LostError) Error() string {
	if e.By != nil {
		return fmt.Sprintf("lease %s lost: taken over by host %s, pid %d", e.Key, e.By.Host, e.By.PID)
	}
	return fmt.Sprintf("lease %s lost: not renewed before it expired: %v", e.Key, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Lease is a lease held by this process.
type Lease struct {
	st   store.Store
	key  string
	ttl  time.Duration
	log  io.Writer
	rec  record
	etag string
}

// Holder is who holds l: this process.
func (l *Lease) Holder() Holder { return l.rec.Holder }

// Acquire takes the lease at key in st: at once when nobody holds it, it
// was released or it expired; otherwise it waits up to opts.Wait, and then
// returns a *HeldError naming the holder. Store errors are returned as
// they are.
func Acquire(ctx context.Context, st store.Store, key string, opts Options) (*Lease, error) {
	l := &Lease{st: st, key: key, ttl: opts.TTL, log: opts.Log}
	if l.ttl <= 0 {
		l.ttl = DefaultTTL
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var tok [12]byte
	rand.Read(tok[:])
	l.rec.Holder = Holder{Host: host, PID: os.Getpid(), Token: hex.EncodeToString(tok[:])}

	deadline := time.Now().Add(opts.Wait)
	var seen string // the holder's ETag as last read, and since when
	var seenAt time.Time
	waiting := false
	for {
		now := time.Now()
		l.rec.Since = now
		err := l.write(ctx, &store.PutOptions{IfNoneMatch: true})
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return nil, err
		}
		cur, etag, err := read(ctx, st, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue // released and removed meanwhile
		case err != nil:
			return nil, err
		case cur.Token == l.rec.Token:
			// our create landed though its answer was lost
			l.rec, l.etag = *cur, etag
			return l, nil
		}
		if etag != seen {
			seen, seenAt = etag, now
		}
		if cur.Released || now.After(cur.Expires) || now.Sub(seenAt) >= cur.ttl() {
			l.rec.Since = now
			err := l.write(ctx, &store.PutOptions{IfMatch: etag})
			if err == nil {
				return l, nil
			}
			if !errors.Is(err, store.ErrPreconditionFailed) {
				return nil, err
			}
			continue // someone else was quicker; look again
		}
		held := &HeldError{Key: key, Holder: cur.Holder, Since: cur.Since, Renewed: cur.Renewed, Expires: cur.Expires}
		if !now.Before(deadline) {
			return nil, held
		}
		if !waiting && l.log != nil {
			fmt.Fprintf(l.log, "lease: %s; waiting up to %s for it to be released or to expire\n", held, deadline.Sub(now).Round(time.Second))
		}
		waiting = true
		t := time.NewTimer(min(deadline.Sub(now), max(cur.ttl()/3, 100*time.Millisecond), 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// write puts l's record, renewed now, with opts' condition, and keeps its
// ETag.
func (l *Lease) write(ctx context.Context, opts *store.PutOptions) error {
	now := time.Now()
	l.rec.Renewed, l.rec.Expires, l.rec.TTLMs = now, now.Add(l.ttl), l.ttl.Milliseconds()
	b, err := json.Marshal(&l.rec)
	if err != nil {
		return err
	}
	opts.ContentType = "application/json"
	info, err := l.st.Put(ctx, l.key, bytes.NewReader(b), opts)
	if err != nil {
		return err
	}
	l.etag = info.ETag
	return nil
}

// read returns the lease object at key and its ETag.
func read(ctx context.Context, st store.Store, key string) (*record, string, error) {
	rc, info, err := st.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	var r record
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&r); err != nil {
		var su *store.StoreUnavailableError
		if errors.As(err, &su) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("lease %s: not a lease object: %w", key, err)
	}
	return &r, info.ETag, nil
}

// renew extends the lease by its TTL (and writes what changed in the
// record), conditionally on its ETag. A failed condition means a lost
// lease, unless the object is still ours: an earlier write landed though
// its answer was lost (or its caller gave up on it), so its ETag is not
// the one we know.
func (l *Lease) renew(ctx context.Context) error {
	for adopted := false; ; adopted = true {
		err := l.write(ctx, &store.PutOptions{IfMatch: l.etag})
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return err
		}
		cur, etag, rerr := read(ctx, l.st, l.key)
		switch {
		case rerr == nil && cur.Token == l.rec.Token && !cur.Released:
			if adopted {
				return fmt.Errorf("lease %s: changed while being renewed", l.key) // tried again at the next tick
			}
			l.etag = etag // and write again, on the ETag it has
		case rerr == nil:
			return &LostError{Key: l.key, By: &cur.Holder}
		case errors.Is(rerr, store.ErrNotFound):
			return &LostError{Key: l.key, Err: rerr}
		default:
			return rerr
		}
	}
}

// Keep renews the lease every third of its TTL until ctx is done, when it
// returns nil. A renewal that fails for a transient reason is tried again
// at the next tick; it returns a *LostError once the lease is taken over,
// or has expired because renewals kept failing.
func (l *Lease) Keep(ctx context.Context) error {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		expires := l.rec.Expires
		err := l.renew(ctx)
		var lost *LostError
		switch {
		case err == nil:
		case errors.As(err, &lost):
			return lost
		case ctx.Err() != nil:
			return nil
		case time.Now().After(expires):
			return &LostError{Key: l.key, Err: err}
		case l.log != nil:
			fmt.Fprintf(l.log, "lease: renewing %s: %v (trying again in %s)\n", l.key, err, l.ttl/3)
		}
	}
}

// Release gives the lease up, so that another process can take it at once:
// it marks the object released, if it is still this process's.
func (l *Lease) Release(ctx context.Context) error {
	l.rec.Released = true
	err := l.renew(ctx)
	var lost *LostError
	if errors.As(err, &lost) {
		return nil // not ours any more
	}
	return err
}

// Hold keeps l renewed (Keep) until release is called, which stops
// renewing and gives the lease up (Release, allowed 30 s; a failure is
// logged to Options.Log, and the lease then expires by itself). The
// returned context is ctx, cancelled with the *LostError as its cause
// should the lease be lost: the holder must then stop what it protects.
// release must be called once; the context is cancelled then too.
func (l *Lease) Hold(ctx context.Context) (held context.Context, release func()) {
	held, lost := context.WithCancelCause(ctx)
	keepCtx, stopKeeping := context.WithCancel(context.WithoutCancel(ctx))
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if err := l.Keep(keepCtx); err != nil {
			lost(err)
		}
	}()
	return held, func() {
		stopKeeping()
		<-kept
		lost(nil)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := l.Release(rctx); err != nil && l.log != nil {
			fmt.Fprintf(l.log, "lease: releasing %s: %v (it expires by itself)\n", l.key, err)
		}
	}
}
