// Package gateway plays API Gateway for the local stack: the WebSocket API
// (route selection, a REQUEST authorizer on $connect, $connect / $disconnect /
// $default and named routes, the @connections management API) and the HTTP API
// (routes with path parameters, payload format 2.0, CORS), each route invoking
// a Lambda function through an Invoker.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/livesupportbot/backend/local/lambdarunner"
)

// Invoker invokes one function with an event and returns its response; an
// error the function returned is reported as an error (a
// *lambdarunner.FunctionError when the function runs under the emulator).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// InvokerFunc adapts a function to an Invoker.
type InvokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// functionError returns the message of an error the function returned, or
// false for a failure to invoke it at all.
func functionError(err error) (string, bool) {
	var fe *lambdarunner.FunctionError
	if errors.As(err, &fe) {
		return fe.Message, true
	}
	return "", false
}

const accountID = "123456789012"

// newID returns a random id of n bytes, base64 encoded like API Gateway's
// connection ids ("L0SM9cOFvHcCIhw=").
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// requestID returns a random request id shaped like a UUID.
func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// requestTime formats t as API Gateway's requestTime ("09/Apr/2015:12:34:56 +0000").
func requestTime(t time.Time) string { return t.UTC().Format("02/Jan/2006:15:04:05 -0700") }

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// headersOf returns the headers in API Gateway's two forms: values joined by
// commas, and lists. lower lower-cases the names (HTTP API payload 2.0).
func headersOf(h http.Header, lower bool) (map[string]string, map[string][]string) {
	one := make(map[string]string, len(h))
	multi := make(map[string][]string, len(h))
	for k, v := range h {
		if lower {
			k = strings.ToLower(k)
		}
		one[k] = strings.Join(v, ",")
		multi[k] = v
	}
	return one, multi
}

// Listen binds addr or returns an error that says the port is taken.
func Listen(name, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s (is the port in use? set another one): %w", name, addr, err)
	}
	return l, nil
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
