// Package fakeserver starts the providers' fakes (metafake, telegramfake,
// linefake, viberfake): on a free port for a test, or on an address of this
// machine for the local stack, never on every interface.
package fakeserver

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// New serves h on a local port until the test ends.
func New(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// Start serves h on addr ("127.0.0.1:4010"; a missing host is 127.0.0.1).
// name says whose fake it is in errors. Close the server to stop it.
func Start(name, addr string, h http.Handler) (*httptest.Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: address %q: %w", name, addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv, nil
}
