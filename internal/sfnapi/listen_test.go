package sfnapi_test

import (
	"net"
	"strings"
	"testing"

	"github.com/medallionlake/lake/internal/sfnapi"
)

// TestListen checks which addresses the API listens on.
func TestListen(t *testing.T) {
	for _, tt := range []struct {
		addr, host string
		remote     bool
		err        string
	}{
		{addr: "0", host: "127.0.0.1"},
		{addr: ":0", host: "127.0.0.1"},
		{addr: "127.0.0.1:0", host: "127.0.0.1"},
		{addr: "localhost:0", host: "127.0.0.1"},
		{addr: "[::1]:0", host: "::1"},
		{addr: "0.0.0.0:0", err: "not a loopback address"},
		{addr: "0.0.0.0:0", remote: true, host: "0.0.0.0"},
		{addr: "example.com:0", err: "not a loopback address"},
		{addr: "nonsense", err: "want HOST:PORT"},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			ln, err := sfnapi.Listen(tt.addr, tt.remote)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Listen(%q) err=%v, want %q", tt.addr, err, tt.err)
				}
				return
			}
			if err != nil {
				if strings.Contains(err.Error(), "cannot assign") || strings.Contains(err.Error(), "address family") {
					t.Skipf("no %s on this machine: %v", tt.host, err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			host, _, _ := net.SplitHostPort(ln.Addr().String())
			if host != tt.host && !(tt.host == "0.0.0.0" && net.ParseIP(host).IsUnspecified()) {
				t.Fatalf("Listen(%q) on %s, want %s", tt.addr, host, tt.host)
			}
		})
	}
}
