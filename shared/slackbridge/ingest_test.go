package slackbridge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/store"
)

// TestEvents_RetryAfterHalfWriteStoresOne plays a webhook-slack instance that
// times out between the dedupe marker of an event_id and the message (the
// message write fails after the marker succeeded): Slack gets a 500 and
// retries the event three times. The reply is stored once, at the key the
// marker names.
func TestEvents_RetryAfterHalfWriteStoresOne(t *testing.T) {
	hook := &testaws.HookDB{}
	h := newHookedHarness(t, nil, hook)
	tid, convID, threadTS := threadFixture(t, h)
	hook.Hook = testaws.FailFirstMessagePut()
	body := replyEvent("Ev0HALF", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000700", "UAGENT01", "on its way", nil)
	if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 500 {
		t.Fatalf("first delivery: %d %s, want 500 so that Slack retries", res.StatusCode, res.Body)
	}
	for i := 1; i <= 3; i++ {
		res := h.post(t, signedEvent(t, body, time.Now(), map[string]string{"X-Slack-Retry-Num": fmt.Sprint(i), "X-Slack-Retry-Reason": "http_error"}))
		if res.StatusCode != 200 {
			t.Fatalf("retry %d: %d %s", i, res.StatusCode, res.Body)
		}
	}
	var want string
	for _, it := range h.partition(t, tid, convID) {
		if sk := it["SK"].(*types.AttributeValueMemberS).Value; sk == "CMID#slack:Ev0HALF" {
			want = it["messageSk"].(*types.AttributeValueMemberS).Value
		}
	}
	if want == "" {
		t.Fatal("no dedupe marker for the event")
	}
	var keys []string
	for _, it := range h.partition(t, tid, convID) {
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if kind, ok := it["authorKind"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(sk, "MSG#") && kind.Value == "agent" {
			keys = append(keys, sk)
		}
	}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("stored replies %v, want exactly the marker's %s", keys, want)
	}
	agent := h.agentMessages(t, tid, convID)
	if len(agent) != 1 || store.MessageSK(agent[0].CreatedAt, agent[0].ID) != want || agent[0].Text != "on its way" {
		t.Fatalf("agent messages %+v, want the one at %s", agent, want)
	}
}
