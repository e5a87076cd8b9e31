package faultproxy_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

const body = "0123456789abcdefghijklmnopqrstuvwxyz"

// start runs a proxy in front of an upstream that answers every request
// with body and echoes the Host header it received.
func start(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("Content-Length", "36")
		io.WriteString(w, body)
	}))
	t.Cleanup(up.Close)
	p, err := faultproxy.Start(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client does not retry and keeps no connections, so that each request
// is one request at the proxy.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// do sends one request and reads the whole answer.
func do(p *faultproxy.Proxy, method, path string) (status int, got string, err error) {
	req, err := http.NewRequest(method, p.URL()+path, strings.NewReader("request body"))
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestPassThroughKeepsHost(t *testing.T) {
	p := start(t)
	resp, err := client.Get(p.URL() + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != body {
		t.Errorf("body=%q, want %q", b, body)
	}
	if got, want := resp.Header.Get("X-Host"), strings.TrimPrefix(p.URL(), "http://"); got != want {
		t.Errorf("upstream saw Host %q, want the proxy's %q (SigV4 signs it)", got, want)
	}
}

func TestSelection(t *testing.T) {
	tests := []struct {
		description string
		fault       faultproxy.Fault
		requests    []string // "METHOD path"
		want        []int    // indexes of the requests that get a 503
	}{
		{"8th GET under a prefix",
			faultproxy.Fault{Method: "GET", Path: "bronze/landing/", Nth: 8, Times: 1},
			slices.Repeat([]string{"GET /b/bronze/landing/t/x", "PUT /b/bronze/landing/t/x", "GET /b/silver/x"}, 9),
			[]int{21}},
		{"every third from the second, twice",
			faultproxy.Fault{Nth: 2, Every: 3, Times: 2},
			slices.Repeat([]string{"GET /k"}, 10),
			[]int{1, 4}},
		{"every matching request",
			faultproxy.Fault{Method: "PUT"},
			[]string{"GET /a", "PUT /a", "PUT /b", "DELETE /a"},
			[]int{1, 2}},
		{"by query",
			faultproxy.Fault{Query: "partNumber="},
			[]string{"PUT /b/k?partNumber=1&uploadId=u", "PUT /b/k", "POST /b/k?uploadId=u"},
			[]int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			p := start(t)
			f := tt.fault
			f.Action = faultproxy.SlowDown
			in, err := p.Inject(f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i, r := range tt.requests {
				method, path, _ := strings.Cut(r, " ")
				status, _, err := do(p, method, path)
				if err != nil {
					t.Fatalf("%s: %v", r, err)
				}
				if status == http.StatusServiceUnavailable {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("faulted requests %v, want %v", got, tt.want)
			}
			if in.Hits() != len(tt.want) {
				t.Errorf("Hits()=%d, want %d", in.Hits(), len(tt.want))
			}
		})
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		description string
		fault       faultproxy.Fault
		check       func(t *testing.T, status int, got string, err error, took time.Duration)
	}{
		{"503 SlowDown", faultproxy.Fault{Action: faultproxy.SlowDown},
			func(t *testing.T, status int, got string, err error, _ time.Duration) {
				if err != nil || status != 503 || !strings.Contains(got, "<Code>SlowDown</Code>") {
					t.Errorf("status %d, body %q, err %v; want 503 with an S3 SlowDown error", status, got, err)
				}
			}},
		{"reset before the response", faultproxy.Fault{Action: faultproxy.ResetBeforeResponse},
			func(t *testing.T, status int, got string, err error, _ time.Duration) {
				if status != 0 || err == nil {
					t.Errorf("status %d, err %v; want no response at all", status, err)
				}
			}},
		{"reset after the server answered", faultproxy.Fault{Action: faultproxy.ResetBeforeResponse, Forward: true},
			func(t *testing.T, status int, got string, err error, _ time.Duration) {
				if status != 0 || err == nil {
					t.Errorf("status %d, err %v; want no response at all", status, err)
				}
			}},
		{"reset mid-body", faultproxy.Fault{Action: faultproxy.ResetMidBody, Bytes: 10},
			func(t *testing.T, status int, got string, err error, _ time.Duration) {
				if status != 200 || got != body[:10] || !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("status %d, body %q, err %v; want 200, %q, then connection reset", status, got, err, body[:10])
				}
			}},
		{"closed mid-body", faultproxy.Fault{Action: faultproxy.CloseMidBody, Bytes: 10},
			func(t *testing.T, status int, got string, err error, _ time.Duration) {
				if status != 200 || got != body[:10] || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("status %d, body %q, err %v; want 200, %q, then unexpected EOF", status, got, err, body[:10])
				}
			}},
		{"latency before the response", faultproxy.Fault{Action: faultproxy.Latency, Delay: 300 * time.Millisecond},
			func(t *testing.T, status int, got string, err error, took time.Duration) {
				if err != nil || got != body || took < 300*time.Millisecond {
					t.Errorf("body %q, err %v, took %v; want the whole body after at least 300ms", got, err, took)
				}
			}},
		{"latency mid-body", faultproxy.Fault{Action: faultproxy.Latency, Bytes: 5, Delay: 300 * time.Millisecond},
			func(t *testing.T, status int, got string, err error, took time.Duration) {
				if err != nil || got != body || took < 300*time.Millisecond {
					t.Errorf("body %q, err %v, took %v; want the whole body after at least 300ms", got, err, took)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			p := start(t)
			in, err := p.Inject(tt.fault)
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			status, got, err := do(p, "GET", "/b/k")
			tt.check(t, status, got, err, time.Since(begin))
			p.Remove(in)
			if status, got, err := do(p, "GET", "/b/k"); err != nil || status != 200 || got != body {
				t.Errorf("after Remove: status %d, body %q, err %v; want the plain answer", status, got, err)
			}
		})
	}
}

func TestInjectRefusesBadFaults(t *testing.T) {
	p := start(t)
	for _, f := range []faultproxy.Fault{{}, {Action: faultproxy.SlowDown, Path: "("}} {
		if _, err := p.Inject(f); err == nil {
			t.Errorf("Inject(%+v) succeeded, want an error", f)
		}
	}
}
