package slackbridge_test

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
)

// TestTemplate_WebhookPolicyAllowsEveryCall: what webhook-slack does with the
// Data table (an install, agents' replies that keep a member item, the
// user_change of a member with an item, of one without and of a deactivated
// one, a team_join, an uninstall) needs only DynamoDB actions that
// WebhookSlackFunction's role allows (it has no UpdateItem: a rename is a
// conditional PutItem).
func TestTemplate_WebhookPolicyAllowsEveryCall(t *testing.T) {
	m := testaws.NewMeter()
	h := newMeteredHarness(t, m)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	msg := h.storeVisitorMessage(t, ten.ID, ids.New(ids.Contact), "hello")
	if err := h.bridge.Deliver(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	th, err := h.st.SlackThread(context.Background(), ten.ID, msg.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	m.Reset()
	h.install(t, ten.ID) // a reinstall
	h.reply(t, ten.ID, msg.ConversationID, th.ThreadTS, "EvP1", "UAGENT01", nil)
	h.reply(t, ten.ID, msg.ConversationID, th.ThreadTS, "EvP2", "UAGENT02", map[string]any{"user_profile": nil})
	for i, ev := range []string{
		`{"type":"user_change","user":{"id":"UAGENT01","name":"alice","profile":{"display_name":"Alice B."}}}`,
		`{"type":"user_change","user":{"id":"UQUIET01","name":"carol","profile":{"display_name":"Carol Q."}}}`,
		`{"type":"user_change","user":{"id":"UAGENT02","name":"bob","deleted":true,"profile":{}}}`,
		`{"type":"team_join","user":{"id":"UNEW0001","name":"dave","profile":{"display_name":"Dave"}}}`,
		`{"type":"app_uninstalled"}`,
	} {
		body := []byte(`{"type":"event_callback","team_id":"` + h.slack.TeamID + `","api_app_id":"AAPP0001","event_id":"EvP` +
			string(rune('a'+i)) + `","event_time":1795860000,"event":` + ev + `}`)
		if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 200 {
			t.Fatalf("event %d: %d %s", i, res.StatusCode, res.Body)
		}
	}
	allowed := testaws.Template(t).Allowed("WebhookSlackFunction", "DataTable.Arn", "dynamodb")
	var missing []string
	for a := range m.Actions() {
		if !slices.Contains(allowed, a) {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("webhook-slack calls %v, which its policy (%v) does not allow", missing, allowed)
	}
}
