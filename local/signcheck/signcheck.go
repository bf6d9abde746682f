// Package signcheck is a test server that records the requests an AWS client
// sends and answers them as told, and a check that a request's SigV4
// signature verifies: the tests of the packages that sign their own AWS calls
// (shared/awscall and its users) compare their requests with the SDK
// client's.
package signcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Creds are the credentials of Config.
var Creds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token"}

// Config is an AWS configuration in eu-west-1 with Creds whose base endpoint
// is endpoint.
func Config(endpoint string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.StaticCredentialsProvider{Value: Creds}}
}

// Request is one request as the server received it.
type Request struct {
	Method, URI, Host string
	Header            http.Header
	Body              []byte
}

// Recorder answers the n-th request with Statuses[n] (the last one repeats),
// ErrorType as X-Amzn-ErrorType on a status that is not 2xx, and Body.
type Recorder struct {
	Statuses  []int
	ErrorType string
	Body      string

	mu   sync.Mutex
	reqs []Request
}

func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{req.Method, req.RequestURI, req.Host, req.Header.Clone(), body})
	status := r.Statuses[min(len(r.reqs), len(r.Statuses))-1]
	r.mu.Unlock()
	if status/100 != 2 && r.ErrorType != "" {
		w.Header().Set("X-Amzn-ErrorType", r.ErrorType)
	}
	w.WriteHeader(status)
	io.WriteString(w, r.Body)
}

// Requests are the requests received so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Verify recomputes the request's Authorization header with the SDK's v4
// signer, from its own X-Amz-Date and signed headers, with Creds, and fails
// the test when it differs or is not for service in region.
func Verify(tb testing.TB, r Request, service, region string) {
	tb.Helper()
	auth := r.Header.Get("Authorization")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		tb.Fatalf("X-Amz-Date: %v", err)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URI, bytes.NewReader(r.Body))
	if err != nil {
		tb.Fatal(err)
	}
	for h := range strings.SplitSeq(signed, ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(r.Body)
	if err := v4.NewSigner().SignHTTP(context.Background(), Creds, req, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		tb.Fatal(err)
	}
	if got := req.Header.Get("Authorization"); got != auth || !strings.Contains(auth, "/"+region+"/"+service+"/aws4_request") {
		tb.Errorf("the signature does not verify:\n sent     %s\n expected %s", auth, got)
	}
}

// VerifyLink recomputes the signature of a request sent to a presigned link
// (SigV4 in the query) with the SDK's v4 signer, from the link's own
// X-Amz-Date, X-Amz-Expires and X-Amz-SignedHeaders and the request's signed
// headers, with Creds, and fails the test when it differs or is not for
// service in region. The payload is UNSIGNED-PAYLOAD, as in S3's links, and for
// S3 the path is signed as sent, not escaped a second time.
func VerifyLink(tb testing.TB, r Request, service, region string) {
	tb.Helper()
	u, err := url.Parse("http://" + r.Host + r.URI)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	when, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		tb.Fatalf("X-Amz-Date: %v", err)
	}
	sig, signed, scope := q.Get("X-Amz-Signature"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Credential")
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
		"X-Amz-Security-Token", "X-Amz-Signature"} {
		q.Del(k) // the signer adds them again
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	for h := range strings.SplitSeq(signed, ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = int64(len(r.Body))
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	link, _, err := v4.NewSigner().PresignHTTP(context.Background(), Creds, req, "UNSIGNED-PAYLOAD", service, region, when,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		tb.Fatal(err)
	}
	want, err := url.Parse(link)
	if err != nil {
		tb.Fatal(err)
	}
	if got := want.Query().Get("X-Amz-Signature"); got != sig || !strings.HasSuffix(scope, "/"+region+"/"+service+"/aws4_request") {
		tb.Errorf("the link's signature does not verify:\n sent     %s (%s)\n expected %s", sig, scope, got)
	}
}

// Same fails the test when got differs from the SDK's want in method, URI
// (escaped path and query), body or one of the headers.
func Same(tb testing.TB, got, want Request, headers ...string) {
	tb.Helper()
	if got.Method != want.Method || got.URI != want.URI || !bytes.Equal(got.Body, want.Body) {
		tb.Errorf("request %s %s %q\n the SDK's %s %s %q", got.Method, got.URI, got.Body, want.Method, want.URI, want.Body)
	}
	for _, h := range headers {
		if got.Header.Get(h) != want.Header.Get(h) {
			tb.Errorf("%s: %q, the SDK's %q", h, got.Header.Get(h), want.Header.Get(h))
		}
	}
}
