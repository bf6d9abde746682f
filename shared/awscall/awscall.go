// Package awscall sends SigV4-signed requests to one AWS service API, with the
// SDK's own v4 signer and a short retry, so a function that makes one or two
// kinds of call does not link (and initialise, at every cold start) the
// service's SDK client, its schemas and its endpoint rules. Each caller
// builds its request as the service's protocol says (REST, JSON 1.1); this
// package adds the endpoint, the signature and the retries, and turns a
// failure answer into an *Error that carries the status and the service's
// error code, never the bodies sent or received.
package awscall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Attempts is how many times a call is sent while it fails in a way worth
// another try (see Retryable).
const Attempts = 3

// Client calls one service in one region.
type Client struct {
	service  string // the signing name, e.g. "lambda", "kms"
	region   string
	endpoint string // scheme://host[:port], no trailing slash
	creds    aws.CredentialsProvider
	http     aws.HTTPClient
	now      func() time.Time
	backoff  time.Duration // the first pause between attempts; it doubles
}

// New returns the client of service in cfg's region. The endpoint is
// AWS_ENDPOINT_URL_<envID> (e.g. AWS_ENDPOINT_URL_LAMBDA), else the
// configuration's base endpoint (AWS_ENDPOINT_URL), else
// https://<service>.<region>.amazonaws.com, as the SDK clients choose it. A nil
// getenv reads no variable.
func New(cfg aws.Config, getenv func(string) string, service, envID string) *Client {
	var ep string
	if getenv != nil {
		ep = getenv("AWS_ENDPOINT_URL_" + envID)
	}
	if ep == "" {
		ep = aws.ToString(cfg.BaseEndpoint)
	}
	if ep == "" {
		ep = "https://" + service + "." + cfg.Region + ".amazonaws.com"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{service: service, region: cfg.Region, endpoint: strings.TrimRight(ep, "/"),
		creds: cfg.Credentials, http: hc, now: time.Now, backoff: 100 * time.Millisecond}
}

// Request is one call: method, the escaped path (and query) under the
// endpoint, headers of the protocol (Content-Type, X-Amz-Target...), body.
type Request struct {
	Method     string
	EscapedURI string // e.g. "/2015-03-31/functions/my%3Afn/invocations"
	Header     http.Header
	Body       []byte
}

// Response is a 2xx answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is an answer that is not 2xx, or a call that could not be sent.
type Error struct {
	Status int    // 0 when no answer came
	Code   string // the service's error code (e.g. "ThrottlingException"), "" if none
	Err    error  // the transport error when no answer came
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return e.Err.Error()
	}
	if e.Code == "" {
		return fmt.Sprintf("status %d", e.Status)
	}
	return fmt.Sprintf("status %d %s", e.Status, e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether another attempt may succeed: no answer came, or
// the service answered 5xx, 429, or a throttling code.
func (e *Error) Retryable() bool {
	return e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests ||
		e.Code == "TooManyRequestsException" || e.Code == "ThrottlingException"
}

// Do sends the request, signed, up to Attempts times while it fails in a
// retryable way, pausing briefly between attempts. A failure is an *Error
// (or the context's error).
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	var err error
	for attempt := range Attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(c.backoff << (attempt - 1)):
			}
		}
		var res *Response
		if res, err = c.once(ctx, r); err == nil {
			return res, nil
		}
		if e, ok := errors.AsType[*Error](err); !ok || !e.Retryable() || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// once makes one attempt.
func (c *Client) once(ctx context.Context, r Request) (*Response, error) {
	req, err := c.Sign(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Err: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, &Error{Err: err}
	}
	if res.StatusCode/100 != 2 {
		return nil, &Error{Status: res.StatusCode, Code: errorCode(res.Header, body)}
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// Sign builds the signed HTTP request of r (the payload hash is signed).
func (c *Client) Sign(ctx context.Context, r Request) (*http.Request, error) {
	if c.creds == nil {
		return nil, fmt.Errorf("%s: no credentials", c.service)
	}
	u, err := url.Parse(c.endpoint + r.EscapedURI)
	if err != nil {
		return nil, fmt.Errorf("%s: endpoint: %w", c.service, err)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.service, err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", c.service, err)
	}
	sum := sha256.Sum256(r.Body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.service, c.region, c.now().UTC()); err != nil {
		return nil, fmt.Errorf("%s: sign: %w", c.service, err)
	}
	return req, nil
}

// errorCode is the service's error code of a failure answer: the
// X-Amzn-ErrorType header, else the body's "__type" (JSON protocols) or
// "code", without the namespace ("com.amazonaws.kms#") or the trailing
// ":http://..." some services add.
func errorCode(h http.Header, body []byte) string {
	code := h.Get("X-Amzn-ErrorType")
	if code == "" {
		var doc struct {
			Type string `json:"__type"`
			Code string `json:"code"`
		}
		if json.Unmarshal(body, &doc) == nil {
			code = doc.Type
			if code == "" {
				code = doc.Code
			}
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code
}
