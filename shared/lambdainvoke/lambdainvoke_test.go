package lambdainvoke_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/livesupportbot/backend/shared/lambdainvoke"
)

// captured is one request as the server saw it.
type captured struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// recorder answers each request with the next status (the last one repeats)
// and keeps what it received.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	code     string
	reqs     []captured
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, captured{req.Method, req.RequestURI, req.Host, req.Header.Clone(), body})
	status := r.statuses[min(len(r.reqs), len(r.statuses))-1]
	if status != http.StatusAccepted && r.code != "" {
		w.Header().Set("X-Amzn-ErrorType", r.code)
	}
	w.WriteHeader(status)
}

func config(endpoint string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token")}
}

func noEnv(string) string { return "" }

// verifySignature recomputes the request's Authorization with the SDK's v4
// signer, from its own X-Amz-Date and signed headers.
func verifySignature(t *testing.T, c captured, service, region string) {
	t.Helper()
	auth := c.header.Get("Authorization")
	when, err := time.Parse("20060102T150405Z", c.header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	req, _ := http.NewRequest(c.method, "http://"+c.host+c.uri, bytes.NewReader(c.body))
	for h := range strings.SplitSeq(signed, ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = c.header.Values(h)
		}
	}
	sum := sha256.Sum256(c.body)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Authorization"); got != auth || !strings.Contains(auth, "/"+region+"/"+service+"/aws4_request") {
		t.Errorf("the signature does not verify:\n sent   %s\n expect %s", auth, got)
	}
}

// The request is the SDK client's Invoke with InvocationType Event, for plain
// names, qualified names and ARNs, and its signature verifies.
func TestInvokeAsync_SendsWhatTheSDKSends(t *testing.T) {
	for _, fn := range []string{"privacy-erase", "privacy-erase:live",
		"arn:aws:lambda:eu-west-1:123456789012:function:privacy-erase", "odd name/+%é"} {
		t.Run(fn, func(t *testing.T) {
			rec := &recorder{statuses: []int{http.StatusAccepted}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			ctx := context.Background()
			payload := []byte(`{"tenantId":"t1","requestId":"r1"}`)
			sdk := lambda.NewFromConfig(config(srv.URL), func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
			if _, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn),
				InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload}); err != nil {
				t.Fatalf("sdk: %v", err)
			}
			if err := lambdainvoke.New(config(srv.URL), noEnv).InvokeAsync(ctx, fn, payload); err != nil {
				t.Fatalf("ours: %v", err)
			}
			if len(rec.reqs) != 2 {
				t.Fatalf("%d requests", len(rec.reqs))
			}
			want, got := rec.reqs[0], rec.reqs[1]
			if got.method != want.method || got.uri != want.uri || !bytes.Equal(got.body, want.body) {
				t.Errorf("request %s %s %q, the SDK's %s %s %q", got.method, got.uri, got.body, want.method, want.uri, want.body)
			}
			for _, h := range []string{"X-Amz-Invocation-Type", "Content-Type", "Content-Length", "X-Amz-Security-Token"} {
				if got.header.Get(h) != want.header.Get(h) {
					t.Errorf("%s: %q, the SDK's %q", h, got.header.Get(h), want.header.Get(h))
				}
			}
			if got.header.Get("X-Amz-Invocation-Type") != "Event" {
				t.Errorf("invocation type %q", got.header.Get("X-Amz-Invocation-Type"))
			}
			verifySignature(t, got, "lambda", "eu-west-1")
		})
	}
}

// AWS_ENDPOINT_URL_LAMBDA comes before the base endpoint.
func TestNew_PrefersTheLambdaEndpoint(t *testing.T) {
	rec := &recorder{statuses: []int{http.StatusAccepted}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	getenv := func(k string) string { return map[string]string{"AWS_ENDPOINT_URL_LAMBDA": srv.URL}[k] }
	if err := lambdainvoke.New(config("http://127.0.0.1:1"), getenv).InvokeAsync(context.Background(), "fn", []byte("{}")); err != nil || len(rec.reqs) != 1 {
		t.Fatalf("%v, %d requests", err, len(rec.reqs))
	}
}

// Throttling and server errors are tried three times; other errors once. The
// error names the function and the status, never the payload.
func TestInvokeAsync_RetriesThrottlingAndServerErrors(t *testing.T) {
	payload := []byte(`{"tenantId":"t1","requestId":"secret-request"}`)
	for _, tc := range []struct {
		name     string
		statuses []int
		code     string
		requests int
		ok       bool
		errHas   string
	}{
		{"recovers after two 5xx", []int{500, 503, 202}, "ServiceException", 3, true, ""},
		{"gives up after three 429", []int{429}, "TooManyRequestsException", 3, false, "status 429 TooManyRequestsException"},
		{"not found is final", []int{404}, "ResourceNotFoundException", 1, false, "status 404 ResourceNotFoundException"},
		{"200 is not a queued event", []int{200}, "", 1, false, "status 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{statuses: tc.statuses, code: tc.code}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			err := lambdainvoke.New(config(srv.URL), noEnv).InvokeAsync(context.Background(), "erase-fn", payload)
			if len(rec.reqs) != tc.requests || (err == nil) != tc.ok {
				t.Fatalf("%d requests, err %v", len(rec.reqs), err)
			}
			if err != nil && (!strings.Contains(err.Error(), "invoke erase-fn: ") || !strings.Contains(err.Error(), tc.errHas) ||
				strings.Contains(err.Error(), "secret-request")) {
				t.Errorf("error %q", err)
			}
		})
	}
}

// A connection that fails is tried again, and the error says why.
func TestInvokeAsync_RetriesConnectionErrors(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := lambdainvoke.New(config(srv.URL), noEnv).InvokeAsync(context.Background(), "fn", []byte("{}")); err != nil || n != 3 {
		t.Fatalf("%v after %d requests", err, n)
	}
}
