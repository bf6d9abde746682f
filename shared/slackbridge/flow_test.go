package slackbridge_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestFullLoop_VisitorThreadAgentReplyReachesVisitor drives the whole bridge:
// install, a widget visitor's messages stored by ws-message and delivered by
// dispatch into one Slack thread, a signed human reply in that thread stored as
// an agent message, and dispatch pushing it to the visitor's connection with the
// agent's name.
func TestFullLoop_VisitorThreadAgentReplyReachesVisitor(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	vid := ids.New(ids.Contact)
	auth := h.Connect(t, ten.ID, vid, "conn-A")
	h.frame(t, "ws-identify.json", auth, "conn-A", map[string]any{"action": "identify", "name": "Ada <Visitor>", "email": "ada@example.com"})
	h.pageView(t, ten.ID, vid, "/", time.Now().Add(-2*time.Minute))
	h.pageView(t, ten.ID, vid, "/pricing", time.Now().Add(-time.Minute))
	h.frame(t, "ws-send-message.json", auth, "conn-A", map[string]any{"action": "sendMessage", "clientMessageId": "cm-1", "text": "Hello & <b>help</b>"})
	if n := len(h.slack.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("the request that received the message posted to Slack %d times; delivery belongs to dispatch", n)
	}
	if res := h.Pump(t); len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch failures: %+v", res.BatchItemFailures)
	}
	live := h.slack.Live()
	if len(live) != 2 {
		t.Fatalf("slack has %d messages after the first visitor message, want header + message: %+v", len(live), live)
	}
	header, first := live[0], live[1]
	c, err := h.st.Contact(context.Background(), ten.ID, vid)
	if err != nil {
		t.Fatal(err)
	}
	convID := c.OpenConversationID
	if header.Channel != h.slack.ChannelID || header.ThreadTS != "" {
		t.Errorf("header in %s (thread %q), want a new thread in %s", header.Channel, header.ThreadTS, h.slack.ChannelID)
	}
	for _, want := range []string{"Ada &lt;Visitor&gt;", consoleURL + "?conversation=" + convID, "widget", "Page: /pricing"} {
		if !strings.Contains(header.Text, want) {
			t.Errorf("header %q lacks %q", header.Text, want)
		}
	}
	if first.ThreadTS != header.TS || first.Text != "*Ada &lt;Visitor&gt;*: Hello &amp; &lt;b&gt;help&lt;/b&gt;" {
		t.Errorf("first message %+v, want in thread %s with escaped text", first, header.TS)
	}

	h.frame(t, "ws-send-message.json", auth, "conn-A", map[string]any{"action": "sendMessage", "clientMessageId": "cm-2", "text": "Anyone?"})
	h.Pump(t)
	live = h.slack.Live()
	if len(live) != 3 || live[2].ThreadTS != header.TS {
		t.Fatalf("second visitor message not in the same thread: %+v", live)
	}

	body := replyEvent("Ev0FULL1", h.slack.TeamID, h.slack.ChannelID, header.TS, "1795860000.000300", "UAGENT01", "Hi Ada &lt;3 &amp; welcome", nil)
	res := h.post(t, signedEvent(t, body, time.Now(), nil))
	if res.StatusCode != 200 {
		t.Fatalf("events: %d %s", res.StatusCode, res.Body)
	}
	agent := h.agentMessages(t, ten.ID, convID)
	if len(agent) != 1 || agent[0].Author.Name != "Alice" || agent[0].Text != "Hi Ada <3 & welcome" || agent[0].Channel != chat.ChannelWidget {
		t.Fatalf("agent messages %+v, want one from Alice with the unescaped text on the widget channel", agent)
	}
	if res := h.Pump(t); len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch failures: %+v", res.BatchItemFailures)
	}
	var got []map[string]any
	for _, f := range h.Frames(t, "conn-A") {
		if f["type"] == "message" {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("visitor connection got %d message frames, want the agent reply: %v", len(got), h.Frames(t, "conn-A"))
	}
	m := got[0]["message"].(map[string]any)
	author := m["author"].(map[string]any)
	if author["kind"] != "agent" || author["name"] != "Alice" || m["text"] != "Hi Ada <3 & welcome" || m["conversationId"] != convID {
		t.Errorf("frame %v, want the agent reply from Alice", got[0])
	}
	if n := len(h.slack.Live()); n != 3 {
		t.Errorf("the agent reply was echoed to Slack: %d messages, want 3", n)
	}
	for _, secret := range []string{h.slack.BotToken, h.slack.ClientSecret, signingSecret, "Hello &", "Hi Ada", "ada@example.com"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestDeliver_RateLimitedIsRetriedWithoutLossOrDuplication: a 429 fails the
// delivery; through dispatch it is parked, not a failed stream record, and the
// retry run posts the thread and the message exactly once; redeliveries post
// nothing.
func TestDeliver_RateLimitedIsRetriedWithoutLossOrDuplication(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	vid := ids.New(ids.Contact)
	m1 := h.storeVisitorMessage(t, ten.ID, vid, "first")

	h.slack.RateLimit("chat.postMessage", 7) // the thread header
	err := h.bridge.Deliver(ctx, m1)
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("deliver under 429: %v, want a RateLimitedError with RetryAfter 7s", err)
	}
	if _, err := h.st.SlackThread(ctx, ten.ID, m1.ConversationID); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("a thread was recorded although its header was refused: %v", err)
	}
	if err := h.bridge.Deliver(ctx, m1); err != nil {
		t.Fatalf("retry: %v", err)
	}
	live := h.slack.Live()
	if len(live) != 2 || live[1].Text != "*Visitor*: first" || live[1].ThreadTS != live[0].TS {
		t.Fatalf("after retry slack has %+v, want header + first in its thread", live)
	}

	// A 429 on a thread reply, through dispatch: the record does not fail (the
	// stream would re-run the widget); the delivery is parked and the retry run
	// completes it, and neither a second run nor a redelivered record posts again.
	h.Pump(t) // drain the stream of m1 (already delivered: nothing is posted again)
	if n := len(h.slack.Live()); n != 2 {
		t.Fatalf("redelivery of a delivered message posted again: %d messages", n)
	}
	m2 := h.storeVisitorMessage(t, ten.ID, vid, "second")
	recs, err := h.Stream.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.slack.RateLimit("chat.postMessage", 1)
	res, err := h.Dispatch.Batch(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("batch failures %+v %v, want none: Slack's 429 is retried by the retry run", res.BatchItemFailures, err)
	}
	if parked, _ := h.st.HasParkedDeliveries(ctx, ten.ID, "slack"); !parked {
		t.Fatal("the rate-limited delivery was not parked")
	}
	for range 2 {
		if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Failed != 0 {
			t.Fatalf("retry run: %+v %v", sum, err)
		}
	}
	if res, err := h.Dispatch.Batch(ctx, events.DynamoDBEvent{Records: recs}); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("redelivered record: %+v %v", res.BatchItemFailures, err)
	}
	live = h.slack.Live()
	if len(live) != 3 || live[2].Text != "*Visitor*: second" || live[2].ThreadTS != live[0].TS {
		t.Fatalf("slack has %+v, want header, first, second in one thread", live)
	}
	if n := len(h.slack.Messages()); n != 3 {
		t.Errorf("%d messages were ever posted, want 3 (no duplicate to take back)", n)
	}
	if _, err := h.st.SlackPost(ctx, ten.ID, m2.ConversationID, m2.ID); err != nil {
		t.Errorf("post of %s not recorded: %v", m2.ID, err)
	}
}

// TestDeliver_SkipsAgentMessagesAndTenantsWithoutSlack; bot messages and
// system notes (the bot's handoff) go into the thread.
func TestDeliver_SkipsAgentMessagesAndTenantsWithoutSlack(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	with, without := h.tenant(t), h.tenant(t)
	h.install(t, with.ID)
	vid := ids.New(ids.Contact)
	m := h.storeVisitorMessage(t, with.ID, vid, "hello")
	if err := h.bridge.Deliver(ctx, m); err != nil {
		t.Fatal(err)
	}
	calls := len(h.slack.Calls("chat.postMessage"))
	am := *m
	am.ID, am.Author = ids.New(ids.Message), chat.Author{Kind: chat.AuthorAgent, Name: "Alice"}
	if err := h.bridge.Deliver(ctx, &am); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(t, without.ID, ids.New(ids.Contact), "hi")); err != nil {
		t.Fatal(err)
	}
	if n := len(h.slack.Calls("chat.postMessage")); n != calls {
		t.Errorf("%d posts after an agent message and a tenant without Slack, want %d", n, calls)
	}
	bot := *m
	bot.ID, bot.Author = ids.New(ids.Message), chat.Author{Kind: chat.AuthorBot, Name: "Helper"}
	if err := h.bridge.Deliver(ctx, &bot); err != nil {
		t.Fatal(err)
	}
	live := h.slack.Live()
	if last := live[len(live)-1]; last.Text != ":robot_face: *Helper*: hello" || last.ThreadTS != live[0].TS {
		t.Errorf("bot message posted as %+v, want in the thread", last)
	}
	note := *m
	note.ID, note.Author, note.Text = ids.New(ids.Message), chat.Author{Kind: chat.AuthorSystem}, "The bot handed this conversation to people."
	if err := h.bridge.Deliver(ctx, &note); err != nil {
		t.Fatal(err)
	}
	live = h.slack.Live()
	if last := live[len(live)-1]; last.Text != ":information_source: _The bot handed this conversation to people._" || last.ThreadTS != live[0].TS {
		t.Errorf("system note posted as %+v, want in the thread", last)
	}
}

// TestEraseSubject_DeletesOurPostsAboutTheSubjectOnly.
func TestEraseSubject_DeletesOurPostsAboutTheSubjectOnly(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	subject, other := ids.New(ids.Contact), ids.New(ids.Contact)
	var subjectConv string
	for _, v := range []string{subject, other} {
		for _, text := range []string{"one", "two"} {
			m := h.storeVisitorMessage(t, ten.ID, v, text)
			if err := h.bridge.Deliver(ctx, m); err != nil {
				t.Fatal(err)
			}
			if v == subject {
				subjectConv = m.ConversationID
			}
		}
	}
	th, err := h.st.SlackThread(ctx, ten.ID, subjectConv)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.slack.Live()); n != 6 {
		t.Fatalf("%d live messages before erasure, want 6", n)
	}
	if err := h.bridge.EraseSubject(ctx, ten.ID, subject); err != nil {
		t.Fatal(err)
	}
	if n := len(h.slack.Calls("chat.delete")); n != 3 {
		t.Errorf("%d chat.delete calls, want 3 (header and two posts)", n)
	}
	for _, m := range h.slack.Messages() {
		inSubjectThread := m.TS == th.ThreadTS || m.ThreadTS == th.ThreadTS
		if m.Deleted != inSubjectThread {
			t.Errorf("message %s (thread %s) deleted=%v, want %v", m.TS, m.ThreadTS, m.Deleted, inSubjectThread)
		}
	}
	items, err := h.st.SlackItemsOfContact(ctx, ten.ID, subject)
	if err != nil || len(items) != 0 {
		t.Fatalf("records left after erasure: %+v %v", items, err)
	}
	if _, err := h.st.SlackThreadByTS(ctx, ten.ID, th.TeamID, th.ChannelID, th.ThreadTS); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("thread lookup survived erasure: %v", err)
	}
	if items, _ := h.st.SlackItemsOfContact(ctx, ten.ID, other); len(items) != 1 || len(items[0].Posts) != 2 {
		t.Errorf("the other visitor's records changed: %+v", items)
	}
	// A reply in the erased thread now finds nothing to attach to.
	body := replyEvent("Ev0ERASE", h.slack.TeamID, h.slack.ChannelID, th.ThreadTS, "1795860001.000100", "UAGENT01", "late", nil)
	if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 200 {
		t.Fatalf("events: %d", res.StatusCode)
	}
	if n := len(h.agentMessages(t, ten.ID, subjectConv)); n != 0 {
		t.Errorf("%d agent messages stored in an erased thread", n)
	}
	if err := h.bridge.EraseSubject(ctx, ten.ID, subject); err != nil || len(h.slack.Calls("chat.delete")) != 3 {
		t.Errorf("second erasure: %v, %d deletes", err, len(h.slack.Calls("chat.delete")))
	}
}

// TestEraseSubject_WithoutSlackRemovesRecords: after an uninstall nothing can be
// deleted in Slack, and the records about the subject still go.
func TestEraseSubject_WithoutSlackRemovesRecords(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	vid := ids.New(ids.Contact)
	if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(t, ten.ID, vid, "hello")); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.Uninstall(ctx, ten.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.bridge.EraseSubject(ctx, ten.ID, vid); err != nil {
		t.Fatal(err)
	}
	if n := len(h.slack.Calls("chat.delete")); n != 0 {
		t.Errorf("%d chat.delete calls without an integration", n)
	}
	if items, err := h.st.SlackItemsOfContact(ctx, ten.ID, vid); err != nil || len(items) != 0 {
		t.Errorf("records left: %+v %v", items, err)
	}
}

// TestDeliver_KeepsAnIntegrationInUseFromExpiring: the installation and its
// route are personal data kept while in use; a delivery moves their expiresAt
// forward once a day.
func TestDeliver_KeepsAnIntegrationInUseFromExpiring(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	ctx := context.Background()
	past := time.Now().Add(-40 * 24 * time.Hour)
	old := h.bridge.WithClock(func() time.Time { return past })
	h.slack.ResetCode("code-old")
	so := start(t, old, ten.ID, apiCtx)
	res, err := old.Handle(ctx, so.callback(t, map[string]string{"code": "code-old", "state": so.State}))
	if err != nil || res.StatusCode != 302 {
		t.Fatalf("install: %d %s %v", res.StatusCode, res.Body, err)
	}
	expiry := func(pk, sk string) int64 {
		t.Helper()
		out, err := h.tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(h.tt.Data), Key: testaws.Key(pk, sk)})
		if err != nil || out.Item == nil {
			t.Fatalf("get %s: %v", pk, err)
		}
		n, _ := strconv.ParseInt(out.Item["expiresAt"].(*types.AttributeValueMemberN).Value, 10, 64)
		return n
	}
	want := retention.ExpiresAt(retention.Defaults, retention.Personal, past)
	if got := expiry(store.SlackPK(ten.ID), "INTEGRATION"); got != want {
		t.Fatalf("installed expiresAt %d, want %d", got, want)
	}
	if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(t, ten.ID, ids.New(ids.Contact), "hello")); err != nil {
		t.Fatal(err)
	}
	floor := retention.ExpiresAt(retention.Defaults, retention.Personal, time.Now().Add(-time.Minute))
	for _, k := range [][2]string{{store.SlackPK(ten.ID), "INTEGRATION"}, {store.SlackRoutePK(h.slack.TeamID), "ROUTE"}} {
		if got := expiry(k[0], k[1]); got < floor {
			t.Errorf("%s expiresAt %d after use, want at least %d", k[0], got, floor)
		}
	}
}

// TestItems_CarryClassExpiryAndTenantKeys runs install, delivery, a reply and a
// rate-limited retry, then reads every item the bridge left: each has a data
// class and a future expiresAt, and every key starts with the tenant, except the
// workspace route under the reserved pseudo-tenant (see docs/SLACK.md).
func TestItems_CarryClassExpiryAndTenantKeys(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	ctx := context.Background()
	body := replyEvent("Ev0ITEMS", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.000700", "UAGENT01", "hi", nil)
	if res := h.post(t, signedEvent(t, body, time.Now(), nil)); res.StatusCode != 200 {
		t.Fatal(res.StatusCode)
	}
	c, _ := h.st.Conversation(ctx, tid, convID)
	h.slack.RateLimit("chat.postMessage", 1)
	m := h.storeVisitorMessage(t, tid, c.ContactID, "more")
	if err := h.bridge.Deliver(ctx, m); err == nil {
		t.Fatal("429 not reported")
	}
	if err := h.bridge.Deliver(ctx, m); err != nil {
		t.Fatal(err)
	}
	res, err := h.tt.DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(h.tt.Data)}) // tests may scan
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	entities := map[string]bool{}
	for _, av := range res.Items {
		var it store.Base
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			t.Fatal(err)
		}
		if it.Entity == "tenant" {
			continue // the tenant profile is the foundation's, kept while the account is open
		}
		entities[it.Entity] = true
		route := it.PK == store.SlackRoutePK(h.slack.TeamID) && av["tenantId"].(*types.AttributeValueMemberS).Value == tid
		if !route && !strings.HasPrefix(it.PK, store.TenantPrefix(tid)) {
			t.Errorf("item %s %s is not under the tenant", it.PK, it.SK)
		}
		for _, k := range []string{it.GSI1PK, it.GSI2PK} {
			if k != "" && !strings.HasPrefix(k, store.TenantPrefix(tid)) {
				t.Errorf("item %s %s has index key %s", it.PK, it.SK, k)
			}
		}
		if !it.DataClass.Valid() || it.ExpiresAt <= now {
			t.Errorf("item %s %s: class %q expiresAt %d", it.PK, it.SK, it.DataClass, it.ExpiresAt)
		}
	}
	for _, e := range []string{"slackIntegration", "slackRoute", "slackMember", "slackThread", "slackThreadRef", "slackPost", "message", "dedupe"} {
		if !entities[e] {
			t.Errorf("no %s item was checked", e)
		}
	}
}

// TestDeliver_LostAnswerIsFoundNotReposted: Slack took a post but its answer was
// lost; the retry finds the message in the thread by the message id in its
// metadata and records it instead of posting it again.
func TestDeliver_LostAnswerIsFoundNotReposted(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	vid := ids.New(ids.Contact)
	if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(t, ten.ID, vid, "first")); err != nil {
		t.Fatal(err)
	}
	m := h.storeVisitorMessage(t, ten.ID, vid, "second")
	h.slack.LoseResponse("chat.postMessage")
	if err := h.bridge.Deliver(ctx, m); err == nil {
		t.Fatal("a lost answer was reported as delivered")
	}
	if n := len(h.slack.Live()); n != 3 {
		t.Fatalf("slack has %d messages, want the lost-answer post to be there (3)", n)
	}
	if rec, err := h.st.SlackPost(ctx, ten.ID, m.ConversationID, m.ID); err != nil || rec.TS != "" {
		t.Fatalf("record after the lost answer: %+v %v, want one without ts", rec, err)
	}
	posts := len(h.slack.Calls("chat.postMessage"))
	for range 2 {
		if err := h.bridge.Deliver(ctx, m); err != nil {
			t.Fatalf("retry: %v", err)
		}
	}
	if n := len(h.slack.Calls("chat.postMessage")); n != posts {
		t.Errorf("the retry posted %d more times", n-posts)
	}
	if n := len(h.slack.Calls("conversations.replies")); n != 1 {
		t.Errorf("%d conversations.replies lookups, want 1", n)
	}
	live := h.slack.Live()
	rec, err := h.st.SlackPost(ctx, ten.ID, m.ConversationID, m.ID)
	if err != nil || len(live) != 3 || len(h.slack.Messages()) != 3 || rec.TS != live[2].TS {
		t.Errorf("record %+v %v, slack %+v: want the one post recorded", rec, err, live)
	}
	if md := live[2].Metadata; md["event_type"] != "livesupportbot_message" {
		t.Errorf("post metadata %v", md)
	}
}
