package slackbridge_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// threadFixture installs Slack for a tenant and opens the thread of one visitor
// conversation; it returns the conversation id and the thread ts.
func threadFixture(t *testing.T, h *harness) (tenantID, convID, threadTS string) {
	t.Helper()
	ten := h.tenant(t)
	h.install(t, ten.ID)
	m := h.storeVisitorMessage(t, ten.ID, ids.New(ids.Contact), "hello")
	if err := h.bridge.Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	th, err := h.st.SlackThread(context.Background(), ten.ID, m.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID, m.ConversationID, th.ThreadTS
}

// partition returns every item of a conversation's partition, so a test can
// tell that nothing at all was written.
func (h *harness) partition(t *testing.T, tenantID, convID string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := h.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(h.tt.Data), KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.ConversationPK(tenantID, convID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

func TestEvents_SignatureChecks(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	before := len(h.partition(t, tid, convID))
	now := time.Now()
	cases := []struct {
		name   string
		at     time.Time
		mutate func(req *events.APIGatewayV2HTTPRequest, body []byte)
		status int
	}{
		{"tampered body", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			req.Body = strings.Replace(req.Body, "signed reply", "forged reply", 1)
		}, 401},
		{"older than five minutes", now.Add(-5*time.Minute - 5*time.Second), nil, 401},
		{"more than five minutes ahead", now.Add(5*time.Minute + 5*time.Second), nil, 401},
		{"missing signature", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			delete(req.Headers, "x-slack-signature")
		}, 401},
		{"missing timestamp", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			delete(req.Headers, "x-slack-request-timestamp")
		}, 401},
		{"signed with another secret", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			req.Headers["x-slack-signature"] = slackfake.Sign("another-secret", now.Unix(), body)
		}, 401},
		{"old signature with a fresh timestamp", now.Add(-10 * time.Minute), func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			req.Headers["x-slack-request-timestamp"] = strconv.FormatInt(now.Unix(), 10)
		}, 401},
		{"not a v0 signature", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			req.Headers["x-slack-signature"] = strings.Replace(req.Headers["x-slack-signature"], "v0=", "v1=", 1)
		}, 401},
		{"mixed-case headers and a base64 body", now, func(req *events.APIGatewayV2HTTPRequest, body []byte) {
			sig, ts := req.Headers["x-slack-signature"], req.Headers["x-slack-request-timestamp"]
			delete(req.Headers, "x-slack-signature")
			delete(req.Headers, "x-slack-request-timestamp")
			req.Headers["X-Slack-Signature"], req.Headers["X-SLACK-REQUEST-TIMESTAMP"] = sig, ts
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}, 200},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := replyEvent("Ev0SIG"+strconv.Itoa(i), h.slack.TeamID, h.slack.ChannelID, threadTS,
				"1795860000.00"+strconv.Itoa(1000+i), "UAGENT01", "signed reply", nil)
			req := signedEvent(t, body, c.at, nil)
			if c.mutate != nil {
				c.mutate(&req, body)
			}
			res := h.post(t, req)
			if res.StatusCode != c.status {
				t.Fatalf("status %d (%s), want %d", res.StatusCode, res.Body, c.status)
			}
			if c.status == 401 {
				if res.Headers["Content-Type"] != "application/problem+json" {
					t.Errorf("content type %q", res.Headers["Content-Type"])
				}
				if after := len(h.partition(t, tid, convID)); after != before {
					t.Errorf("a rejected request wrote %d items", after-before)
				}
			}
		})
	}
	if agent := h.agentMessages(t, tid, convID); len(agent) != 1 || agent[0].Text != "signed reply" {
		t.Errorf("agent messages %+v, want only the valid request's", agent)
	}
}

func TestEvents_URLVerificationAnswersChallenge(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"token":"legacy","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	res := h.post(t, signedEvent(t, body, time.Now(), nil))
	if res.StatusCode != 200 || res.Body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("url_verification: %d %q", res.StatusCode, res.Body)
	}
	unsigned := signedEvent(t, body, time.Now(), nil)
	unsigned.Headers["x-slack-signature"] = slackfake.Sign("wrong", time.Now().Unix(), body)
	if res := h.post(t, unsigned); res.StatusCode != 401 || res.Body == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("unsigned url_verification: %d %q", res.StatusCode, res.Body)
	}
}

// TestEvents_RetriesAndDuplicateEventIDsStoreOne: Slack's retries (same event,
// X-Slack-Retry-Num) and any other delivery of the same event_id store one
// agent message.
func TestEvents_RetriesAndDuplicateEventIDsStoreOne(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	body := replyEvent("Ev0RETRY", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000500", "UAGENT02", "once only", nil)
	sends := []map[string]string{
		nil,
		{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
		{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"},
		{"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "connection_failed"},
	}
	for i, extra := range sends {
		res := h.post(t, signedEvent(t, body, time.Now().Add(time.Duration(i)*time.Second), extra))
		if res.StatusCode != 200 {
			t.Fatalf("send %d: %d %s", i, res.StatusCode, res.Body)
		}
	}
	// The same event_id with a different body (a second authorization of the event).
	again := replyEvent("Ev0RETRY", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000500", "UAGENT02", "once only", map[string]any{"client_msg_id": "x"})
	if res := h.post(t, signedEvent(t, again, time.Now(), nil)); res.StatusCode != 200 {
		t.Fatalf("duplicate: %d", res.StatusCode)
	}
	agent := h.agentMessages(t, tid, convID)
	if len(agent) != 1 || agent[0].Author.Name != "Bob Builder" {
		t.Fatalf("agent messages %+v, want one from Bob Builder (real name, no display name)", agent)
	}
	// A different event in the same thread is a new message.
	other := replyEvent("Ev0OTHER", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000600", "UNEW0001", "new agent", nil)
	if res := h.post(t, signedEvent(t, other, time.Now(), nil)); res.StatusCode != 200 {
		t.Fatal(res.StatusCode)
	}
	agent = h.agentMessages(t, tid, convID)
	if len(agent) != 2 || agent[1].Author.Name != "Agent" {
		t.Fatalf("agent messages %+v, want a second one named Agent (member unknown)", agent)
	}
}

// TestEvents_IgnoresWhatIsNotAHumanThreadReply: our bot's own posts, other bots,
// edits, deletions, thread parents, channel messages, unknown threads, other
// workspaces and other apps are acknowledged and store nothing.
func TestEvents_IgnoresWhatIsNotAHumanThreadReply(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	team, ch := h.slack.TeamID, h.slack.ChannelID
	before := len(h.partition(t, tid, convID))
	cases := []struct {
		name string
		body []byte
	}{
		{"our bot's post", replyEvent("Ev1", team, ch, threadTS, "1795860000.100001", "UBOT0001", "*Visitor*: hello", map[string]any{"bot_id": "BBOT0001"})},
		{"our bot user without bot_id", replyEvent("Ev2", team, ch, threadTS, "1795860000.100002", "UBOT0001", "echo", nil)},
		{"another app's bot message", replyEvent("Ev3", team, ch, threadTS, "1795860000.100003", "", "beep", map[string]any{"subtype": "bot_message", "bot_id": "BOTHER01", "user": nil})},
		{"edit", replyEvent("Ev4", team, ch, threadTS, "1795860000.100004", "", "", map[string]any{"subtype": "message_changed", "user": nil,
			"message": map[string]any{"type": "message", "user": "UAGENT01", "text": "edited", "ts": "1795860000.000300", "thread_ts": threadTS}})},
		{"deletion", replyEvent("Ev5", team, ch, threadTS, "1795860000.100005", "", "", map[string]any{"subtype": "message_deleted", "user": nil, "deleted_ts": "1795860000.000300"})},
		{"channel join", replyEvent("Ev6", team, ch, threadTS, "1795860000.100006", "UAGENT01", "<@UAGENT01> has joined", map[string]any{"subtype": "channel_join"})},
		{"thread parent", replyEvent("Ev7", team, ch, "1795860000.100007", "1795860000.100007", "UAGENT01", "a new thread", nil)},
		{"channel message", replyEvent("Ev8", team, ch, "", "1795860000.100008", "UAGENT01", "not in a thread", map[string]any{"thread_ts": nil})},
		{"unknown thread", replyEvent("Ev9", team, ch, "1699999999.000001", "1795860000.100009", "UAGENT01", "elsewhere", nil)},
		{"same ts in another channel", replyEvent("Ev10", team, "C0OTHER", threadTS, "1795860000.100010", "UAGENT01", "elsewhere", nil)},
		{"another workspace", replyEvent("Ev11", "T0THER", ch, threadTS, "1795860000.100011", "UAGENT01", "elsewhere", nil)},
		{"empty text", replyEvent("Ev12", team, ch, threadTS, "1795860000.100012", "UAGENT01", "  ", nil)},
		{"unknown inner event", []byte(`{"type":"event_callback","team_id":"` + team + `","event_id":"Ev13","event":{"type":"reaction_added_v9","user":"UAGENT01"}}`)},
		{"app rate limited", []byte(`{"token":"x","type":"app_rate_limited","team_id":"` + team + `","minute_rate_limited":1518467820,"api_app_id":"AAPP0001"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := h.post(t, signedEvent(t, c.body, time.Now(), nil))
			if res.StatusCode != 200 {
				t.Fatalf("status %d %s, want 200", res.StatusCode, res.Body)
			}
		})
	}
	// Another app of the same workspace (its api_app_id differs from ours).
	otherApp := replyEvent("Ev14", team, ch, threadTS, "1795860000.100014", "UAGENT01", "other app", nil)
	var m map[string]any
	json.Unmarshal(otherApp, &m)
	m["api_app_id"] = "AOTHERAPP"
	otherApp, _ = json.Marshal(m)
	if res := h.post(t, signedEvent(t, otherApp, time.Now(), nil)); res.StatusCode != 200 {
		t.Fatalf("other app: %d", res.StatusCode)
	}
	if after := len(h.partition(t, tid, convID)); after != before {
		t.Errorf("ignored events wrote %d items", after-before)
	}
	if n := len(h.agentMessages(t, tid, convID)); n != 0 {
		t.Errorf("%d agent messages stored", n)
	}
}

func TestEvents_MalformedSignedBodyIs400WithoutRetry(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{`not json`, `{"type":"event_callback","event":{"type":"message"}}`, `[]`, `{}`} {
		res := h.post(t, signedEvent(t, []byte(body), time.Now(), nil))
		if res.StatusCode != 400 || res.Headers["X-Slack-No-Retry"] != "1" {
			t.Errorf("%s: %d %v, want 400 with X-Slack-No-Retry", body, res.StatusCode, res.Headers)
		}
	}
}

func TestHandle_UnknownRouteIs404(t *testing.T) {
	h := newHarness(t)
	req := signedEvent(t, []byte(`{}`), time.Now(), nil)
	req.RawPath, req.RequestContext.HTTP.Method = "/dev/webhooks/slack/other", "POST"
	if res := h.post(t, req); res.StatusCode != 404 {
		t.Errorf("status %d, want 404", res.StatusCode)
	}
}

func TestEvents_UninstallAndRevocationRemoveTheIntegration(t *testing.T) {
	cases := []struct {
		name    string
		event   string
		removed bool
	}{
		{"app_uninstalled", `{"type":"app_uninstalled"}`, true},
		{"our bot token revoked", `{"type":"tokens_revoked","tokens":{"oauth":["UADMIN01"],"bot":["UBOT0001"]}}`, true},
		{"only a user token revoked", `{"type":"tokens_revoked","tokens":{"oauth":["UADMIN01"],"bot":[]}}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			tid, convID, threadTS := threadFixture(t, h)
			ctx := context.Background()
			h.reply(t, tid, convID, threadTS, "EvU0", "UAGENT01", nil) // an agent's member item
			before := len(h.agentMessages(t, tid, convID))
			body := []byte(`{"token":"x","team_id":"` + h.slack.TeamID + `","api_app_id":"AAPP0001","type":"event_callback","event_id":"EvU1","event_time":1795860000,"event":` + c.event + `}`)
			for range 2 { // a redelivery is harmless
				if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 200 {
					t.Fatalf("status %d %s", res.StatusCode, res.Body)
				}
			}
			_, err := h.st.SlackIntegration(ctx, tid)
			if removed := errors.Is(err, chat.ErrNotFound); removed != c.removed {
				t.Fatalf("integration removed=%v (%v), want %v", removed, err, c.removed)
			}
			if !c.removed {
				return
			}
			if _, err := h.st.SlackTenantOfTeam(ctx, h.slack.TeamID); !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("route survived: %v", err)
			}
			if ms, err := h.st.SlackMembers(ctx, tid); err != nil || len(ms) != 0 {
				t.Errorf("members survived: %d %v", len(ms), err)
			}
			calls := len(h.slack.Calls(""))
			if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(t, tid, ids.New(ids.Contact), "after")); err != nil {
				t.Fatal(err)
			}
			reply := replyEvent("EvU2", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000900", "UAGENT01", "after", nil)
			h.post(t, signedEvent(t, reply, time.Now(), nil))
			if n := len(h.slack.Calls("")); n != calls {
				t.Errorf("%d Slack calls after uninstall", n-calls)
			}
			if n := len(h.agentMessages(t, tid, convID)) - before; n != 0 {
				t.Errorf("%d replies stored after uninstall", n)
			}
		})
	}
}

// rawMember is the stored member item of a Slack user, as DynamoDB holds it
// (nil when there is none).
func (h *harness) rawMember(t *testing.T, tenantID, userID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := h.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(h.tt.Data),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.SlackPK(tenantID)},
			"SK": &types.AttributeValueMemberS{Value: store.SlackMemberSK(h.slack.TeamID, userID)},
		}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// wantMemberItem checks that a member item holds its keys, class and
// retention, the team, the user and the display name, and nothing else.
func wantMemberItem(t *testing.T, it map[string]types.AttributeValue, userID, displayName string) {
	t.Helper()
	if it == nil {
		t.Fatalf("no member item for %s", userID)
	}
	allowed := map[string]bool{"PK": true, "SK": true, "GSI2PK": true, "GSI2SK": true, "dataClass": true,
		"expiresAt": true, "entity": true, "teamId": true, "userId": true, "displayName": true}
	for k := range it {
		if !allowed[k] {
			t.Errorf("member item of %s holds %s", userID, k)
		}
	}
	str := func(k string) string {
		v, _ := it[k].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	if str("userId") != userID || str("displayName") != displayName || str("dataClass") != "personal" || str("entity") != "slackMember" {
		t.Errorf("member item %v, want %s named %q (personal)", it, userID, displayName)
	}
}

// reply posts a thread reply of user (with the user_profile Slack attaches,
// unless extra removes it) and returns the name the stored agent message shows.
func (h *harness) reply(t *testing.T, tid, convID, threadTS, eventID, user string, extra map[string]any) string {
	t.Helper()
	ts := "1795860003." + strconv.Itoa(100000+len(h.agentMessages(t, tid, convID)))
	if res := h.post(t, signedEvent(t, replyEvent(eventID, h.slack.TeamID, h.slack.ChannelID, threadTS, ts, user, "hi", extra), time.Now(), nil)); res.StatusCode != 200 {
		t.Fatalf("reply: %d %s", res.StatusCode, res.Body)
	}
	agent := h.agentMessages(t, tid, convID)
	return agent[len(agent)-1].Author.Name
}

// TestEvents_AgentReplyKeepsItsDisplayNameOnly: a reply shows the name Slack
// sent with it and stores a member item of the replier holding the team, the
// user and that display name only (no email, image or real name, though the
// event's profile carries an avatar); a later reply without a profile shows
// the stored name; an unknown replier without one is "Agent". No member who
// never replied gets an item.
func TestEvents_AgentReplyKeepsItsDisplayNameOnly(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	noProfile := map[string]any{"user_profile": nil}
	steps := []struct {
		name, eventID, user string
		extra               map[string]any
		want, stored        string
	}{
		{"display name", "EvA1", "UAGENT01", nil, "Alice", "Alice"},
		{"real name when no display name", "EvA2", "UAGENT02", nil, "Bob Builder", "Bob Builder"},
		{"stored name when the event has no profile", "EvA3", "UAGENT01", noProfile, "Alice", "Alice"},
		{"unknown replier without a profile", "EvA4", "UNEW0001", noProfile, "Agent", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := h.reply(t, tid, convID, threadTS, s.eventID, s.user, s.extra); got != s.want {
				t.Errorf("reply named %q, want %q", got, s.want)
			}
			wantMemberItem(t, h.rawMember(t, tid, s.user), s.user, s.stored)
		})
	}
	wantNoMemberData(t, h, map[string]bool{"UAGENT01": true, "UAGENT02": true, "UNEW0001": true})
	if calls := h.slack.Calls("users.list"); len(calls) != 0 {
		t.Errorf("%d users.list calls", len(calls))
	}
}

// TestEvents_MemberEventsOnlyRenameAgentsWhoReplied: team_join stores nothing;
// user_change renames the item of an agent who replied (name only, retention
// kept, no email or image) and creates none for anyone else; a deactivated
// agent's item goes; a foreign workspace's events store nothing.
func TestEvents_MemberEventsOnlyRenameAgentsWhoReplied(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	ctx := context.Background()
	member := func(eventID, typ, user string) []byte {
		return []byte(`{"type":"event_callback","team_id":"` + h.slack.TeamID + `","api_app_id":"AAPP0001","event_id":"` + eventID +
			`","event_time":1795860000,"event":{"type":"` + typ + `","user":` + user + `,"event_ts":"1795860000.000100"}}`)
	}
	send := func(body []byte) {
		t.Helper()
		if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 200 {
			t.Fatalf("member event: %d %s", res.StatusCode, res.Body)
		}
	}
	h.reply(t, tid, convID, threadTS, "EvR1", "UAGENT01", nil)
	h.reply(t, tid, convID, threadTS, "EvR2", "UAGENT02", nil)
	before := h.rawMember(t, tid, "UAGENT01")

	send(member("EvM1", "team_join", `{"id":"UNEW0001","team_id":"`+h.slack.TeamID+`","name":"dave","real_name":"Dave New",`+
		`"profile":{"display_name":"Dave","real_name":"Dave New","email":"dave@acme.test","image_192":"https://avatars.example.test/dave.png"}}`))
	if it := h.rawMember(t, tid, "UNEW0001"); it != nil {
		t.Errorf("team_join stored %v", it)
	}

	send(member("EvM2", "user_change", `{"id":"UAGENT01","team_id":"`+h.slack.TeamID+`","name":"alice","real_name":"Alice Example",`+
		`"profile":{"display_name":"Alice B.","real_name":"Alice Example","email":"alice.b@acme.test","image_192":"https://avatars.example.test/alice2.png"}}`))
	after := h.rawMember(t, tid, "UAGENT01")
	wantMemberItem(t, after, "UAGENT01", "Alice B.")
	for _, k := range []string{"expiresAt", "GSI2PK", "GSI2SK"} {
		if b, a := before[k], after[k]; b == nil || a == nil || !attributeEqual(b, a) {
			t.Errorf("rename moved %s: %v -> %v", k, b, a)
		}
	}
	if got := h.reply(t, tid, convID, threadTS, "EvR3", "UAGENT01", map[string]any{"user_profile": nil}); got != "Alice B." {
		t.Errorf("reply after the rename named %q, want Alice B.", got)
	}

	send(member("EvM3", "user_change", `{"id":"UQUIET01","team_id":"`+h.slack.TeamID+`","name":"carol","real_name":"Carol Quiet",`+
		`"profile":{"display_name":"Carol Q.","real_name":"Carol Quiet","email":"carol@acme.test"}}`))
	if it := h.rawMember(t, tid, "UQUIET01"); it != nil {
		t.Errorf("user_change of a member who never replied stored %v", it)
	}

	send(member("EvM4", "user_change", `{"id":"UAGENT02","team_id":"`+h.slack.TeamID+`","name":"bob","deleted":true,"profile":{"real_name":"Bob Builder"}}`))
	if _, err := h.st.SlackMember(ctx, tid, h.slack.TeamID, "UAGENT02"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("deactivated member's item kept: %v", err)
	}

	// A member event of a workspace no tenant installed stores nothing.
	send([]byte(`{"type":"event_callback","team_id":"T0THER","event_id":"EvM9","event":{"type":"user_change","user":{"id":"UAGENT01","name":"x"}}}`))
	if _, err := h.st.SlackMember(ctx, tid, "T0THER", "UAGENT01"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("member of a foreign workspace stored: %v", err)
	}
	// Bob's reply keeps his name in the message (communication data); his item is gone (above).
	wantNoMemberData(t, h, map[string]bool{"UAGENT01": true, "UAGENT02": true})
	for _, leak := range []string{"alice.b@acme.test", "dave@acme.test", "Dave", "alice2.png"} {
		for _, it := range h.tt.ScanAll(t, h.tt.Data) {
			for k, v := range it {
				walk(v, func(s string) {
					if strings.Contains(s, leak) {
						t.Errorf("attribute %s of %v holds %q", k, it["SK"], leak)
					}
				})
			}
		}
	}
}

// attributeEqual compares two scalar attribute values.
func attributeEqual(a, b types.AttributeValue) bool {
	switch x := a.(type) {
	case *types.AttributeValueMemberS:
		y, ok := b.(*types.AttributeValueMemberS)
		return ok && x.Value == y.Value
	case *types.AttributeValueMemberN:
		y, ok := b.(*types.AttributeValueMemberN)
		return ok && x.Value == y.Value
	}
	return false
}
