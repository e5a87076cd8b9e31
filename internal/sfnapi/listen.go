package sfnapi

import (
	"fmt"
	"net"
	"strconv"
)

// Listen opens the API's listening socket at addr: HOST:PORT, :PORT or
// PORT, the host defaulting to 127.0.0.1. The API has no authentication,
// so a host that is not a loopback address is refused unless allowRemote.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, perr := strconv.Atoi(addr); perr != nil {
			return nil, fmt.Errorf("sfnapi: address %q: want HOST:PORT, :PORT or PORT", addr)
		}
		host, port = "", addr
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); !allowRemote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("sfnapi: %s is not a loopback address, and the API has no authentication: listen on 127.0.0.1, or allow it explicitly (--api-allow-remote)", host)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("sfnapi: %w", err)
	}
	return ln, nil
}
