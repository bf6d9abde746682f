package stack

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// serialProxy forwards requests to moto one at a time. moto_server serves
// requests on threads, and its DynamoDB backend is not safe for concurrent
// writes ("dictionary changed size during iteration" under load); DynamoDB
// itself is, so the stack makes moto see one request at a time.
func serialProxy(target string, slow func(op string, d time.Duration)) (string, func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("moto proxy: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 4}
	rp.ErrorLog = log.New(io.Discard, "", 0) // a client that gave up is no news
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		start := time.Now()
		rp.ServeHTTP(w, r)
		if d := time.Since(start); d > time.Second && slow != nil {
			slow(r.Header.Get("X-Amz-Target"), d)
		}
	})}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}
