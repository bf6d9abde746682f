package stack

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// serialProxy forwards requests to moto one at a time. moto_server serves
// requests on threads, and its DynamoDB backend is not safe for concurrent
// writes ("dictionary changed size during iteration" under load); DynamoDB
// itself is, so the stack makes moto see one request at a time. The returned
// stall, off until started, holds moto's answers (see Stack.StallMoto).
func serialProxy(target string, slow func(op string, d time.Duration)) (string, func(), *stall, *serialTransport, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("moto proxy: %w", err)
	}
	st := &stall{}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := &serialTransport{base: &http.Transport{MaxIdleConnsPerHost: 4}, slow: slow, stall: st}
	rp.Transport = tr
	rp.ErrorLog = log.New(io.Discard, "", 0) // a client that gave up is no news
	srv := &http.Server{Handler: rp}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, st, tr, nil
}

// serialTransport makes one round trip to moto at a time, reading each answer
// whole before the next request goes, then holds the answer while a stall
// lasts (outside the lock: the requests behind it still reach moto).
type serialTransport struct {
	mu    sync.Mutex
	base  http.RoundTripper
	slow  func(op string, d time.Duration)
	stall *stall
	load  map[string]OpLoad // by operation, under mu
}

// OpLoad is how much of moto's time one operation took.
type OpLoad struct {
	Calls int
	Busy  time.Duration
}

// operation names a request to moto: its X-Amz-Target operation
// ("DynamoDB_20120810.Query"), else its method (S3, KMS form posts).
func operation(r *http.Request) string {
	if op := r.Header.Get("X-Amz-Target"); op != "" {
		return op
	}
	return r.Method
}

func (t *serialTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.roundTrip(r)
	t.stall.hold(r)
	return res, err
}

func (t *serialTransport) roundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	start := time.Now()
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("moto proxy: read answer: %w", err)
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	d := time.Since(start)
	if t.load == nil {
		t.load = map[string]OpLoad{}
	}
	l := t.load[operation(r)]
	t.load[operation(r)] = OpLoad{l.Calls + 1, l.Busy + d}
	if d > time.Second && t.slow != nil {
		t.slow(operation(r), d)
	}
	return res, nil
}

// snapshot copies the load so far.
func (t *serialTransport) snapshot() map[string]OpLoad {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.load)
}

// stall withholds moto's answers for a while: a request still reaches moto
// (a write is applied), but its caller hears nothing until the stall ends, as
// when DynamoDB applies a write whose answer is lost or late.
type stall struct {
	mu   sync.Mutex
	ends chan struct{} // closed when the current stall ends; nil when none
	ops  map[string]bool
}

// StallMoto holds moto's answers to the functions and the stack for d: to
// requests of the operations ops (X-Amz-Target operations, e.g. "PutItem"),
// or of every operation when none is given. The requests are applied as they
// come; only their answers wait. A new stall replaces the current one. It is
// a fault hook for tests; a stack has none until it is called.
func (s *Stack) StallMoto(d time.Duration, ops ...string) {
	s.stall.start(d, ops)
}

func (st *stall) start(d time.Duration, ops []string) {
	set := map[string]bool{}
	for _, op := range ops {
		set[op] = true
	}
	ends := make(chan struct{})
	st.mu.Lock()
	if st.ends != nil {
		close(st.ends)
	}
	st.ends, st.ops = ends, set
	st.mu.Unlock()
	time.AfterFunc(d, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.ends == ends {
			close(ends)
			st.ends = nil
		}
	})
}

// hold waits while a stall covering r's operation lasts or r's caller waits.
func (st *stall) hold(r *http.Request) {
	st.mu.Lock()
	ends, ops := st.ends, st.ops
	st.mu.Unlock()
	if ends == nil {
		return
	}
	if _, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), "."); len(ops) > 0 && !ops[op] {
		return
	}
	select {
	case <-ends:
	case <-r.Context().Done():
	}
}
