// Package fakeserver starts the providers' fakes (metafake, telegramfake,
// linefake, viberfake): on a free port for a test, or on an address of this
// machine for the local stack, never on every interface.
package fakeserver

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
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

// Host is the running server a fake embeds: it gives the fake Close and
// URL (the server's root), and lets Serve and Listen start it.
type Host struct{ srv *httptest.Server }

// Close stops the server.
func (h *Host) Close() { h.srv.Close() }

// URL is the server's root, "http://127.0.0.1:<port>".
func (h *Host) URL() string { return h.srv.URL }

// FakeHost is the Host itself (what makes a type that embeds it a Fake).
func (h *Host) FakeHost() *Host { return h }

// Fake is a provider's fake: a handler that embeds a Host.
type Fake interface {
	http.Handler
	FakeHost() *Host
}

// Serve starts f on a local port until the test ends (New), and returns it.
func Serve[F Fake](tb testing.TB, f F) F {
	tb.Helper()
	f.FakeHost().srv = New(tb, f)
	return f
}

// Listen starts f on addr for the local stack (Start; name says whose fake
// it is in errors), and returns it; Close stops it.
func Listen[F Fake](name, addr string, f F) (F, error) {
	srv, err := Start(name, addr, f)
	if err != nil {
		var none F
		return none, err
	}
	f.FakeHost().srv = srv
	return f, nil
}

// Faults is the queue of the faults a fake answers its next requests with,
// in order: a test adds n of one kind, the fake's handler takes the next.
// It has its own lock, so a handler may take one under the fake's.
type Faults[T any] struct {
	mu sync.Mutex
	q  []T
}

// Add queues fault n times.
func (f *Faults[T]) Add(n int, fault T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.q = append(f.q, fault)
	}
}

// Next takes the next fault; ok is false when none is queued.
func (f *Faults[T]) Next() (fault T, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return fault, false
	}
	fault, f.q = f.q[0], f.q[1:]
	return fault, true
}
