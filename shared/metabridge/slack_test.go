package metabridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// An agent's reply in the Slack thread of a Messenger conversation is stored
// with the conversation's channel and sent to the contact through the Graph
// API by the Meta sender, like a reply from the admin API.
func TestSlackThreadReplyIsSentToMessenger(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.connect(t, ten, meta.ChannelMessenger, "1001", false)
	in := h.inbound(t, ten, meta.ChannelMessenger, "1001", "psid-slack")
	h.pump(t)
	const signing, team, slackChannel, threadTS = "slack-signing-secret-for-meta", "TMETA01", "CSUPPORT", "1795860000.000100"
	if err := h.st.PutSlackIntegration(ctx, &chat.SlackIntegration{TenantID: ten.ID, TeamID: team, ChannelID: slackChannel,
		BotUserID: "UBOT", InstalledAt: time.Now(), TokenEncrypted: []byte("not read here")}, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.st.PutSlackThread(ctx, &chat.SlackThread{TenantID: ten.ID, ConversationID: in.ConversationID, ContactID: in.ContactID,
		Channel: meta.ChannelMessenger, TeamID: team, ChannelID: slackChannel, ThreadTS: threadTS}, time.Now(), retention.Defaults); err != nil {
		t.Fatal(err)
	}
	sb := slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{ClientID: "1.2", SigningSecret: signing}, Store: h.st})
	body, _ := json.Marshal(map[string]any{"token": "x", "team_id": team, "api_app_id": "AAPP", "type": "event_callback",
		"event_id": "EvSlackMeta1", "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "message", "user": "UAGENT", "text": "Replied from Slack", "ts": "1795860001.000200",
			"thread_ts": threadTS, "channel": slackChannel, "channel_type": "channel"}})
	now := time.Now().Unix()
	res, err := sb.Handle(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/webhooks/slack/events", Body: string(body),
		Headers:        map[string]string{"x-slack-request-timestamp": strconv.FormatInt(now, 10), "x-slack-signature": slackfake.Sign(signing, now, body)},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost}}})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("slack event: %d %s %v", res.StatusCode, res.Body, err)
	}
	h.pump(t)
	sends := h.graph.Sends()
	if len(sends) != 1 || sends[0].Recipient != "psid-slack" || sends[0].Text != "Replied from Slack" || sends[0].MessagingType != "RESPONSE" {
		t.Fatalf("sends %+v, want the Slack reply to the PSID", sends)
	}
}
