package slackbridge_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// The Slack adapters fill the channel seam.
var (
	_ channel.Inbound = slackbridge.Inbound{}
	_ channel.Sender  = (*slackbridge.Bridge)(nil)
)

// TestInbound_ChannelContract runs the inbound contract against Slack's Events
// API adapter and, through the webhook, the store in moto: agent replies in a
// conversation's thread.
func TestInbound_ChannelContract(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: slackbridge.Inbound{},
		Secret:  signingSecret,
		Sign: func(tb testing.TB, body []byte, secret string) channel.Request {
			now := time.Now().Unix()
			return channel.Request{Method: "POST", Body: body, Headers: map[string]string{
				"content-type":              "application/json",
				"x-slack-request-timestamp": strconv.FormatInt(now, 10),
				"x-slack-signature":         slackfake.Sign(secret, now, body)}}
		},
		Message: func(id, text string) []byte {
			return replyEvent(id, h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860001."+strings.TrimPrefix(id, "EvContract"), "UAGENT01", text, nil)
		},
		Malformed: []byte(`{"hello":"world"}`),
		Deliver: func(tb testing.TB, req channel.Request) {
			var r events.APIGatewayV2HTTPRequest
			testaws.LoadEvent(tb, "webhook-slack-events.json", &r)
			r.Body, r.Headers = string(req.Body), req.Headers
			h.post(tb, r)
		},
		Stored: func(tb testing.TB) int { return len(h.agentMessages(t, tid, convID)) },
	})
}

// TestSender_ChannelContract runs the outbound contract against the bridge and
// the fake Slack.
func TestSender_ChannelContract(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	channeltest.RunSender(t, channeltest.Sender{
		Sender: h.bridge,
		Message: func(tb testing.TB) *chat.Message {
			return h.storeVisitorMessage(tb, ten.ID, ids.New(ids.Contact), "contract "+ids.New(ids.Message))
		},
		Shown: func(tb testing.TB, m *chat.Message) int {
			n := 0
			for _, p := range h.slack.Live() {
				if strings.HasSuffix(p.Text, ": "+m.Text) {
					n++
				}
			}
			return n
		},
		RateLimit: func(testing.TB) { h.slack.RateLimit("chat.postMessage", 3) },
	})
}

// TestInbound_ParseCarriesIdentityAndThread: a thread reply is a message from
// team + user in "<channel>/<thread ts>", text unescaped, dedupe key the
// event_id; a url_verification is a challenge; other callbacks are other.
func TestInbound_ParseCarriesIdentityAndThread(t *testing.T) {
	in := slackbridge.Inbound{}
	evs, err := in.Parse(replyEvent("Ev0001", "T0001", "C0001", "1700000000.000100", "1700000000.000200", "U0001", "a &lt; b", nil))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
	ev := evs[0]
	want := channel.Identity{Channel: "slack", Account: "T0001", UserID: "U0001"}
	if ev.Kind != channel.KindMessage || ev.DedupeKey != "Ev0001" || ev.From != want ||
		ev.Thread != "C0001/1700000000.000100" || ev.Text != "a < b" {
		t.Errorf("reply event %+v", ev)
	}
	evs, err = in.Parse([]byte(`{"type":"url_verification","challenge":"ch4ll","token":"x"}`))
	if err != nil || len(evs) != 1 || evs[0].Kind != channel.KindChallenge || evs[0].Challenge != "ch4ll" {
		t.Errorf("url_verification: %v %+v", err, evs)
	}
	// A thread parent (ts = thread_ts) is no reply: other, still with its key.
	evs, err = in.Parse(replyEvent("Ev0002", "T0001", "C0001", "1700000000.000100", "1700000000.000100", "U0001", "hi", nil))
	if err != nil || len(evs) != 1 || evs[0].Kind != channel.KindOther || evs[0].DedupeKey != "Ev0002" {
		t.Errorf("thread parent: %v %+v", err, evs)
	}
}
