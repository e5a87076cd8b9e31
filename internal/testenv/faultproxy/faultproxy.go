// Package faultproxy is an HTTP proxy for tests that sits in front of an
// S3-compatible server (versitygw) and injects the faults of a bad network
// day into chosen requests: a 503 SlowDown answer, a connection reset
// before the response, a reset or a clean close in the middle of a body,
// and latency. Requests are chosen by method, path and query and by their
// rank among the matching requests ("reset the 8th GET of
// bronze/landing/").
//
// The proxy forwards every request unchanged, Host header included, so
// that SigV4 signatures made for the proxy's address still verify at the
// server. Imported only by tests (internal/store/storetest, and the fault
// tests of the steps); testenv.S3Proxy starts one in front of the test
// server.
package faultproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Action is what a Fault does to the requests it selects.
type Action int

const (
	// SlowDown answers 503 with S3's SlowDown error, without forwarding
	// the request (its body is read first, as a server would).
	SlowDown Action = iota + 1
	// ResetBeforeResponse reads the request and resets the connection
	// (TCP RST) before any byte of the response. With Fault.Forward the
	// request reaches the server first, so that a write is applied although
	// the client never hears of it.
	ResetBeforeResponse
	// ResetMidBody forwards the request, relays the status, the headers and
	// the first Fault.Bytes bytes of the response body, then resets the
	// connection.
	ResetMidBody
	// CloseMidBody is ResetMidBody with a clean close (TCP FIN) instead of
	// a reset: the client sees a body shorter than its Content-Length.
	CloseMidBody
	// Latency waits Fault.Delay before forwarding the request or, when
	// Fault.Bytes > 0, after relaying that many bytes of the response
	// body; the rest is relayed unchanged.
	Latency
)

var actionNames = map[Action]string{
	SlowDown:            "SlowDown",
	ResetBeforeResponse: "ResetBeforeResponse",
	ResetMidBody:        "ResetMidBody",
	CloseMidBody:        "CloseMidBody",
	Latency:             "Latency",
}

// String implements fmt.Stringer.
func (a Action) String() string {
	if s, ok := actionNames[a]; ok {
		return s
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Fault selects requests and says what to do to them. A request is
// matched when its method, path and query match; the matching requests
// are counted from 1, and those ranked Nth, Nth+Every, Nth+2*Every, ...
// are faulted, Times of them at most.
type Fault struct {
	Method string // "GET", "PUT", ...; empty matches every method
	// Path is a regular expression matched against the request's decoded
	// URL path; with path-style addressing that is /BUCKET/KEY, so
	// "bronze/landing/" selects the objects under that prefix. Empty
	// matches every path.
	Path string
	// Query is a regular expression matched against the raw query string,
	// e.g. "partNumber=" selects multipart part uploads and "list-type="
	// listings. Empty matches every query.
	Query string

	Nth   int // rank of the first faulted request among the matching ones; 0 means 1
	Every int // fault every Every-th matching request from Nth on; 0 means each one
	Times int // how many requests to fault at most; 0 means no limit

	Action  Action
	Forward bool          // ResetBeforeResponse: forward the request to the server first
	Bytes   int64         // ResetMidBody, CloseMidBody, Latency: response body bytes relayed first
	Delay   time.Duration // Latency: how long to wait
}

// Injected is a fault in place; it counts what it saw.
type Injected struct {
	Fault
	path, query *regexp.Regexp

	mu      sync.Mutex
	matched int
	hits    int
	removed bool
}

// Matched is how many requests matched the fault's method, path and query.
func (in *Injected) Matched() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.matched
}

// Hits is how many requests the fault was applied to.
func (in *Injected) Hits() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hits
}

// take counts r if it matches and reports whether to fault it.
func (in *Injected) take(r *http.Request) bool {
	if in.Method != "" && !strings.EqualFold(in.Method, r.Method) {
		return false
	}
	if in.path != nil && !in.path.MatchString(r.URL.Path) {
		return false
	}
	if in.query != nil && !in.query.MatchString(r.URL.RawQuery) {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.removed {
		return false
	}
	in.matched++
	nth, every := max(in.Nth, 1), max(in.Every, 1)
	switch {
	case in.matched < nth, (in.matched-nth)%every != 0, in.Times > 0 && in.hits >= in.Times:
		return false
	}
	in.hits++
	return true
}

// Proxy is a running fault-injecting proxy. It is safe for concurrent use.
type Proxy struct {
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	tr     *http.Transport

	mu     sync.Mutex
	faults []*Injected
}

// Start starts a proxy on a free loopback port in front of target (a base
// URL such as http://127.0.0.1:7070). Close stops it.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not a base URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		target: u,
		ln:     ln,
		tr: &http.Transport{
			Proxy:               nil, // never an environment proxy
			DisableCompression:  true,
			MaxIdleConnsPerHost: 16,
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: time.Minute}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's base URL, to use as the S3 endpoint.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.tr.CloseIdleConnections()
	return err
}

// Inject puts f in place. Faults apply in the order they were injected: a
// request is faulted by the first one that takes it (every fault counts
// the requests it matches). It fails on an unknown action or a bad
// regular expression.
func (p *Proxy) Inject(f Fault) (*Injected, error) {
	if _, ok := actionNames[f.Action]; !ok {
		return nil, fmt.Errorf("faultproxy: unknown action %v", f.Action)
	}
	in := &Injected{Fault: f}
	for _, c := range []struct {
		expr string
		re   **regexp.Regexp
	}{{f.Path, &in.path}, {f.Query, &in.query}} {
		if c.expr == "" {
			continue
		}
		re, err := regexp.Compile(c.expr)
		if err != nil {
			return nil, fmt.Errorf("faultproxy: %w", err)
		}
		*c.re = re
	}
	p.mu.Lock()
	p.faults = append(p.faults, in)
	p.mu.Unlock()
	return in, nil
}

// Remove takes in out of place; it stops matching at once.
func (p *Proxy) Remove(in *Injected) {
	in.mu.Lock()
	in.removed = true
	in.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if f == in {
			p.faults = append(p.faults[:i], p.faults[i+1:]...)
			return
		}
	}
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	faults := p.faults
	p.faults = nil
	p.mu.Unlock()
	for _, in := range faults {
		in.mu.Lock()
		in.removed = true
		in.mu.Unlock()
	}
}

// pick returns the fault to apply to r, or nil. Every fault sees r, so
// that each counts the requests it matches.
func (p *Proxy) pick(r *http.Request) *Injected {
	p.mu.Lock()
	faults := append([]*Injected(nil), p.faults...)
	p.mu.Unlock()
	var chosen *Injected
	for _, in := range faults {
		if in.take(r) && chosen == nil {
			chosen = in
		}
	}
	return chosen
}

// hopHeaders are the headers that belong to one connection, not the
// request (RFC 9110, section 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.pick(r)
	var action Action
	if f != nil {
		action = f.Action
	}
	switch {
	case action == SlowDown:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected by faultproxy).</Message><Resource>%s</Resource></Error>", r.URL.Path)
		return
	case action == ResetBeforeResponse && !f.Forward:
		io.Copy(io.Discard, r.Body)
		hangUp(w, true)
		return
	case action == Latency && f.Bytes == 0:
		sleep(r, f.Delay)
	}

	resp, err := p.forward(r)
	if err != nil {
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if action == ResetBeforeResponse {
		io.Copy(io.Discard, resp.Body)
		hangUp(w, true)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	w.WriteHeader(resp.StatusCode)
	switch action {
	case ResetMidBody, CloseMidBody, Latency:
		if f.Bytes > 0 {
			if _, err := io.CopyN(w, resp.Body, f.Bytes); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
		}
		if action == Latency {
			sleep(r, f.Delay)
			break
		}
		hangUp(w, action == ResetMidBody)
		return
	}
	io.Copy(w, resp.Body)
}

// forward sends r to the target, Host header and all.
func (p *Proxy) forward(r *http.Request) (*http.Response, error) {
	u := *p.target
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	u.RawQuery = r.URL.RawQuery
	var body io.Reader = r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	return p.tr.RoundTrip(out)
}

// hangUp closes the client's connection after what was written so far
// (Hijack sends it; nothing is sent when nothing was written): with a
// reset (RST) when reset is set, else cleanly (FIN).
func hangUp(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("faultproxy: hijack: %v", err)) // http.Server recovers and drops the connection
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		tc.SetLinger(0) // close sends RST
	}
	conn.Close()
}

// sleep waits d or until the client goes away.
func sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
