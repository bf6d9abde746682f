package slackbridge_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack/slackevents"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// FuzzSignedEvents posts arbitrary Events API bodies, correctly signed, to the
// events endpoint of a bridge installed in a workspace that has a live
// conversation thread (moto, the fake Slack; seeds in
// testdata/fuzz/FuzzSignedEvents: the body of events/webhook-slack-events.json
// and the event types the bridge handles, aimed at that thread). The endpoint
// is called directly (no recover), so a panic fails the run; and as ParseEvent
// turns a panic of the slackevents library into a malformed-request error,
// the body also goes to slackevents.ParseEvent itself, the way ParseEvent
// calls it, so a library panic fails the run too instead of being swallowed.
// A signed body is never refused as unsigned, gets a 200 or a 400, never a
// 500 (with moto and the fake healthy, that would be our failure, and it is
// logged as such); a url_verification answers its challenge; and the same
// body with one byte changed under the original signature is refused (401).
func FuzzSignedEvents(f *testing.F) {
	var sample events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(f, "webhook-slack-events.json", &sample)
	f.Add([]byte(sample.Body), 0, byte(1))
	f.Add([]byte(`{"token":"x","challenge":"abc","type":"url_verification"}`), 5, byte(0x20))
	h := newHarness(f)
	ten := h.tenant(f)
	h.install(f, ten.ID)
	h.storeVisitorMessage(f, ten.ID, ids.New(ids.Contact), "Hello")
	if res := h.Pump(f); len(res.BatchItemFailures) != 0 {
		f.Fatalf("dispatch: %+v", res.BatchItemFailures)
	}
	f.Fuzz(func(t *testing.T, body []byte, at int, flip byte) {
		if len(body) <= 1<<20 && json.Valid(body) {
			// As ParseEvent calls it, minus the recover.
			_, _ = slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
		}
		logged := len(h.logs.String())
		res, err := h.bridge.Handle(context.Background(), signedEvent(t, body, time.Now(), nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		switch {
		case len(body) > 1<<20:
			if res.StatusCode != 401 {
				t.Fatalf("an oversized body answered %d", res.StatusCode)
			}
		case res.StatusCode == 400, res.StatusCode == 200:
		default:
			t.Fatalf("signed %q answered %d %s", body, res.StatusCode, res.Body)
		}
		if logs := h.logs.String()[logged:]; strings.Contains(logs, `"level":"ERROR"`) {
			t.Fatalf("signed %q logged an error: %s", body, logs)
		}
		if ev, err := slackbridge.ParseEvent(body); err == nil && ev.Kind == slackbridge.KindURLVerification &&
			len(body) <= 1<<20 && (res.StatusCode != 200 || res.Body != ev.Challenge) {
			t.Fatalf("url_verification answered %d %q, want the challenge %q", res.StatusCode, res.Body, ev.Challenge)
		}
		if len(body) == 0 {
			return
		}
		req := signedEvent(t, body, time.Now(), nil)
		b := []byte(req.Body)
		b[at&0x7fffffff%len(b)] ^= flip | 1
		req.Body = string(b)
		if res, err := h.bridge.Handle(context.Background(), req); err != nil || res.StatusCode != 401 {
			t.Fatalf("a changed body under the original signature answered %d %v", res.StatusCode, err)
		}
	})
}
