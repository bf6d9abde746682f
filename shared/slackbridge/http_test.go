package slackbridge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/slackbridge"
)

// TestProblems_BodiesAreByteForByte pins the webhook's error answers: status,
// headers and the exact problem body each route gives (the statuses come
// from apierror, the bodies are what Slack and admins have always seen).
func TestProblems_BodiesAreByteForByte(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	unsigned := signedEvent(t, []byte(`{"type":"url_verification","challenge":"c"}`), time.Now(), nil)
	delete(unsigned.Headers, "x-slack-signature")
	otherRoute := oauthRequest(t, nil)
	otherRoute.RequestContext.HTTP.Method, otherRoute.RawPath = http.MethodGet, "/dev/webhooks/slack/nothing"
	s := start(t, h.bridge, ten.ID, apiCtx)
	noCookie := oauthRequest(t, map[string]string{"code": "x", "state": s.State})
	problem := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"}
	noRetry := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "X-Slack-No-Retry": "1"}
	for _, tc := range []struct {
		name    string
		handle  func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		req     events.APIGatewayV2HTTPRequest
		status  int
		headers map[string]string
		body    string
	}{
		{"unknown route", h.bridge.Handle, otherRoute, 404, problem,
			`{"detail":"no such route","status":404,"title":"Not Found","type":"about:blank"}`},
		{"unsigned event", h.bridge.Handle, unsigned, 401, problem,
			`{"detail":"missing, invalid or expired Slack signature","status":401,"title":"Unauthorized","type":"about:blank"}`},
		{"signed body that is no event", h.bridge.Handle, signedEvent(t, []byte(`{"hello":1}`), time.Now(), nil), 400, noRetry,
			`{"detail":"not an Events API request","status":400,"title":"Bad request","type":"about:blank"}`},
		{"signed body over 1 MiB", h.bridge.Handle, signedEvent(t, []byte(`{"type":"x","pad":"`+strings.Repeat("x", 1<<20)+`"}`), time.Now(), nil), 413, noRetry,
			`{"detail":"the body is larger than 1 MiB","status":413,"title":"Content Too Large","type":"about:blank"}`},
		{"not configured", slackbridge.NotConfigured, unsigned, 503, noRetry,
			`{"detail":"Slack is not configured for this deployment","status":503,"title":"Service Unavailable","type":"about:blank"}`},
		{"install cancelled", h.bridge.Handle, oauthRequest(t, map[string]string{"error": "access_denied"}), 400, problem,
			`{"detail":"the installation was cancelled in Slack","status":400,"title":"Slack was not connected","type":"about:blank"}`},
		{"bad state", h.bridge.Handle, oauthRequest(t, map[string]string{"code": "x", "state": "nope"}), 400, problem,
			`{"detail":"the install link is invalid or has expired; start the installation again","status":400,"title":"Bad request","type":"about:blank"}`},
		{"another browser", h.bridge.Handle, noCookie, 400, problem,
			`{"detail":"this browser did not start this installation (or it was started too long ago); start the installation again in this browser","status":400,"title":"Slack was not connected","type":"about:blank"}`},
		{"no code", h.bridge.Handle, s.callback(t, map[string]string{"state": s.State}), 400, problem,
			`{"detail":"code is missing","status":400,"title":"Bad request","type":"about:blank"}`},
	} {
		res, err := tc.handle(context.Background(), tc.req)
		if err != nil || res.StatusCode != tc.status || res.Body != tc.body {
			t.Errorf("%s: %d %s %v\nwant %d %s", tc.name, res.StatusCode, res.Body, err, tc.status, tc.body)
		}
		for k, v := range tc.headers {
			if res.Headers[k] != v {
				t.Errorf("%s: header %s = %q, want %q", tc.name, k, res.Headers[k], v)
			}
		}
		if len(res.Headers) != len(tc.headers) {
			t.Errorf("%s: headers %v, want %v", tc.name, res.Headers, tc.headers)
		}
	}
}
