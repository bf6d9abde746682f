package lambdainvoke_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/livesupportbot/backend/local/signcheck"
	"github.com/livesupportbot/backend/shared/lambdainvoke"
)

func noEnv(string) string { return "" }

// The request is the SDK client's Invoke with InvocationType Event, for plain
// names, qualified names and ARNs, and its signature verifies.
func TestInvokeAsync_SendsWhatTheSDKSends(t *testing.T) {
	for _, fn := range []string{"privacy-erase", "privacy-erase:live",
		"arn:aws:lambda:eu-west-1:123456789012:function:privacy-erase", "odd name/+%é"} {
		t.Run(fn, func(t *testing.T) {
			rec := &signcheck.Recorder{Statuses: []int{http.StatusAccepted}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			ctx := context.Background()
			payload := []byte(`{"tenantId":"t1","requestId":"r1"}`)
			sdk := lambda.NewFromConfig(signcheck.Config(srv.URL), func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
			if _, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn),
				InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload}); err != nil {
				t.Fatalf("sdk: %v", err)
			}
			if err := lambdainvoke.New(signcheck.Config(srv.URL), noEnv).InvokeAsync(ctx, fn, payload); err != nil {
				t.Fatalf("ours: %v", err)
			}
			reqs := rec.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			signcheck.Same(t, reqs[1], reqs[0], "X-Amz-Invocation-Type", "Content-Type", "Content-Length", "X-Amz-Security-Token")
			if reqs[1].Header.Get("X-Amz-Invocation-Type") != "Event" {
				t.Errorf("invocation type %q", reqs[1].Header.Get("X-Amz-Invocation-Type"))
			}
			signcheck.Verify(t, reqs[1], "lambda", "eu-west-1")
		})
	}
}

// AWS_ENDPOINT_URL_LAMBDA comes before the base endpoint.
func TestNew_PrefersTheLambdaEndpoint(t *testing.T) {
	rec := &signcheck.Recorder{Statuses: []int{http.StatusAccepted}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	getenv := func(k string) string { return map[string]string{"AWS_ENDPOINT_URL_LAMBDA": srv.URL}[k] }
	err := lambdainvoke.New(signcheck.Config("http://127.0.0.1:1"), getenv).InvokeAsync(context.Background(), "fn", []byte("{}"))
	if err != nil || len(rec.Requests()) != 1 {
		t.Fatalf("%v, %d requests", err, len(rec.Requests()))
	}
}

// Throttling and server errors are tried three times; other errors once. The
// error names the function and the status, never the payload.
func TestInvokeAsync_RetriesThrottlingAndServerErrors(t *testing.T) {
	payload := []byte(`{"tenantId":"t1","requestId":"secret-request"}`)
	for _, tc := range []struct {
		name      string
		statuses  []int
		errorType string
		requests  int
		ok        bool
		errHas    string
	}{
		{"recovers after two 5xx", []int{500, 503, 202}, "ServiceException", 3, true, ""},
		{"gives up after three 429", []int{429}, "TooManyRequestsException", 3, false, "status 429 TooManyRequestsException"},
		{"not found is final", []int{404}, "ResourceNotFoundException", 1, false, "status 404 ResourceNotFoundException"},
		{"200 is not a queued event", []int{200}, "", 1, false, "status 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &signcheck.Recorder{Statuses: tc.statuses, ErrorType: tc.errorType}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			err := lambdainvoke.New(signcheck.Config(srv.URL), noEnv).InvokeAsync(context.Background(), "erase-fn", payload)
			if n := len(rec.Requests()); n != tc.requests || (err == nil) != tc.ok {
				t.Fatalf("%d requests, err %v", n, err)
			}
			if err != nil && (!strings.Contains(err.Error(), "invoke erase-fn: ") || !strings.Contains(err.Error(), tc.errHas) ||
				strings.Contains(err.Error(), "secret-request")) {
				t.Errorf("error %q", err)
			}
		})
	}
}

// A connection that fails is tried again.
func TestInvokeAsync_RetriesConnectionErrors(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n < 3 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := lambdainvoke.New(signcheck.Config(srv.URL), noEnv).InvokeAsync(context.Background(), "fn", []byte("{}")); err != nil || n != 3 {
		t.Fatalf("%v after %d requests", err, n)
	}
}
