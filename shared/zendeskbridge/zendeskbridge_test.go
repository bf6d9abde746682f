package zendeskbridge_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/privacytest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

// Connecting checks the agent's token with Zendesk and names bad fields;
// nothing is stored for a refused connect; reconnecting the same subdomain
// keeps the webhook URL; no credential is returned or logged.
func TestConnect(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	before := h.items(t)
	_, err := h.bridge.Connect(ctx, ten, "zendesk", chat.ChannelConnect{Subdomain: "Not A Domain!", Email: "nope", APIToken: "short", BotToken: "x", WebhookBase: webhookBase})
	if e, ok := err.(*chat.Error); !ok || len(e.Fields) != 5 {
		t.Errorf("bad input: %v, want subdomain, email, apiToken, webhookSecret and botToken named", err)
	}
	_, err = h.bridge.Connect(ctx, ten, "zendesk", chat.ChannelConnect{Subdomain: "acme", Email: "who@acme.example",
		APIToken: ids.Secret(40), WebhookSecret: ids.Secret(32), WebhookBase: webhookBase})
	if chat.ErrorCode(err) != chat.EInvalid || !strings.Contains(err.Error(), "refused") {
		t.Errorf("an unknown token: %v", err)
	}
	if after := h.items(t); after != before {
		t.Errorf("refused connects wrote: %d -> %d", before, after)
	}
	a := h.connect(t, ten)
	if !strings.HasPrefix(a.in.WebhookURL, webhookBase+"/webhooks/zendesk/") || a.in.AccountName != "API Agent" {
		t.Errorf("integration %+v", a.in)
	}
	again, err := h.bridge.Connect(ctx, ten, "zendesk", chat.ChannelConnect{Subdomain: a.in.AccountID, Email: a.email,
		APIToken: a.token, WebhookSecret: ids.Secret(32), WebhookBase: webhookBase})
	if err != nil || again.WebhookURL != a.in.WebhookURL {
		t.Errorf("reconnect: %v, URL %q -> %q", err, a.in.WebhookURL, again.WebhookURL)
	}
	for _, s := range []string{a.token, a.secret} {
		if strings.Contains(h.logs.String(), s) {
			t.Error("the logs hold a credential")
		}
	}
}

// A handoff opens one ticket with the transcript and the visitor as
// requester, however often and however concurrently it is asked for; the
// handoff is recorded in the conversation.
func TestHandoffOpensOneTicket(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	h.connect(t, ten)
	cv, _ := h.visitor(t, ten, "My order 4521 never came", "Can someone help?")
	var wg sync.WaitGroup
	created := make(chan bool, 4)
	for range 4 {
		wg.Go(func() {
			hf, c, err := h.bridge.Handoff(ctx, ten, cv, "Eve")
			if err != nil || hf.TicketID == "" {
				t.Errorf("handoff: %+v %v", hf, err)
			}
			created <- c
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	tickets := h.zd.Tickets()
	if len(tickets) != 1 || n != 1 {
		t.Fatalf("%d tickets, %d handoffs created; want 1 and 1", len(tickets), n)
	}
	tk := tickets[0]
	first := tk.Comments[0].Body
	if tk.ExternalID != cv.ID || !strings.Contains(first, "My order 4521 never came") || !strings.Contains(first, "Can someone help?") ||
		!strings.Contains(first, "handed off by Eve") {
		t.Errorf("ticket %+v", tk)
	}
	if u, _ := h.zd.User(tk.RequesterID); u.Email != "ada@example.com" {
		t.Errorf("requester %+v, want the visitor's email", u)
	}
	if hf, err := h.st.Handoff(ctx, ten.ID, cv.ID, "zendesk"); err != nil || hf.TicketID != tk.ID || hf.By != "Eve" {
		t.Errorf("recorded %+v %v", hf, err)
	}
}

// A Zendesk agent's public comment reaches the visitor's widget as an agent
// message, once, however often Zendesk delivers it; a bad or stale
// signature, private notes, the requester's own comments, the integration's
// own comments and tickets of no handoff store nothing.
func TestAgentCommentReachesVisitorOnce(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	a := h.connect(t, ten)
	cv, conn := h.visitor(t, ten, "Where is my parcel?")
	hf, _, err := h.bridge.Handoff(context.Background(), ten, cv, "Eve")
	if err != nil {
		t.Fatal(err)
	}
	bob := h.zd.AddAgent("bob@acme.example", ids.Secret(30), "Bob")
	comment := h.zd.AgentComment(hf.TicketID, bob, "It ships today.", true)
	body := h.zd.CommentEvent(hf.TicketID, comment)
	before := h.items(t)
	for name, c := range map[string]struct {
		headers map[string]string
		want    int
	}{
		"wrong secret":   {zendeskfake.SignedHeaders("not-the-secret-0123456789", body, time.Now(), "inv-1"), http.StatusUnauthorized},
		"stale":          {zendeskfake.SignedHeaders(a.secret, body, time.Now().Add(-10*time.Minute), "inv-1"), http.StatusUnauthorized},
		"no signature":   {map[string]string{"x-zendesk-webhook-invocation-id": "inv-1"}, http.StatusUnauthorized},
		"signed garbage": {zendeskfake.SignedHeaders(a.secret, []byte("{not json"), time.Now(), "inv-2"), http.StatusUnauthorized},
	} {
		if res := h.do(t, request(a.in.WebhookID, body, c.headers)); res.StatusCode != c.want {
			t.Errorf("%s: %d %s", name, res.StatusCode, res.Body)
		}
	}
	if res := h.do(t, request(ids.Secret(32), body, zendeskfake.SignedHeaders(a.secret, body, time.Now(), "inv-1"))); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown webhook: %d", res.StatusCode)
	}
	garbage := []byte(`{"type":"zen:event-type:ticket.comment_added"}`)
	if res := h.do(t, request(a.in.WebhookID, garbage, zendeskfake.SignedHeaders(a.secret, garbage, time.Now(), "inv-3"))); res.StatusCode != http.StatusBadRequest {
		t.Errorf("signed malformed event: %d", res.StatusCode)
	}
	if after := h.items(t); after != before {
		t.Fatalf("refused requests wrote: %d -> %d", before, after)
	}
	for _, inv := range []string{"inv-1", "inv-1", "inv-9"} { // a redelivery, and the same comment under another invocation
		if res := h.do(t, request(a.in.WebhookID, body, zendeskfake.SignedHeaders(a.secret, body, time.Now(), inv))); res.StatusCode != http.StatusOK {
			t.Fatalf("delivery: %d %s", res.StatusCode, res.Body)
		}
	}
	for _, c := range []string{
		h.zd.AgentComment(hf.TicketID, bob, "internal note", false),
		h.zd.AgentComment(hf.TicketID, a.agentID, "our own API comment", true),
		h.zd.AgentComment(hf.TicketID, hf.RequesterID, "the requester's comment", true),
	} {
		ev := h.zd.CommentEvent(hf.TicketID, c)
		if res := h.do(t, request(a.in.WebhookID, ev, zendeskfake.SignedHeaders(a.secret, ev, time.Now(), "inv-"+c))); res.StatusCode != http.StatusOK {
			t.Fatalf("delivery: %d", res.StatusCode)
		}
	}
	h.pump(t)
	var agent []*chat.Message
	for _, m := range h.messages(t, cv) {
		if m.Author.Kind == chat.AuthorAgent {
			agent = append(agent, m)
		}
	}
	if len(agent) != 1 || agent[0].Text != "It ships today." || agent[0].Author.Name != "Bob" || agent[0].Channel != "widget" {
		t.Fatalf("agent messages %+v, want Bob's one", agent)
	}
	if got := agentTexts(h.Frames(t, conn)); len(got) != 1 || got[0] != "It ships today." {
		t.Errorf("the widget got %q", got)
	}
	if strings.Contains(h.logs.String(), "It ships today.") || strings.Contains(h.logs.String(), a.secret) {
		t.Error("the logs hold a comment or the secret")
	}
}

// After the handoff the visitor's messages are added to the ticket as the
// requester's public comments, once each (a replayed stream adds none);
// Zendesk's own webhook events of those comments (and of the ticket's
// first comment) come back and store nothing: no loop.
func TestVisitorMessagesAddedWithoutLoop(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	a := h.connect(t, ten)
	h.zd.Webhook(h.serve(t)+"/dev/webhooks/zendesk/"+a.in.WebhookID, a.secret)
	h.zd.EchoAPIComments()
	cv, conn := h.visitor(t, ten, "hello")
	hf, _, err := h.bridge.Handoff(ctx, ten, cv, "the bot")
	if err != nil {
		t.Fatal(err)
	}
	h.say(t, h.auth[conn], conn, 7, "Any news?")
	h.pump(t)
	h.zd.Flush()
	msgs := h.messages(t, cv)
	last := msgs[len(msgs)-1]
	if err := h.bridge.Deliver(ctx, last); err != nil { // a replayed stream record
		t.Fatal(err)
	}
	h.zd.Flush()
	tk, _ := h.zd.Ticket(hf.TicketID)
	var bodies []string
	for _, c := range tk.Comments[1:] {
		bodies = append(bodies, c.Body)
		if c.AuthorID != hf.RequesterID || !c.Public {
			t.Errorf("comment %+v, want the requester's public one", c)
		}
	}
	if len(bodies) != 1 || bodies[0] != "Any news?" {
		t.Fatalf("ticket comments after the first: %q", bodies)
	}
	h.pump(t)
	if n := len(h.messages(t, cv)); n != len(msgs) {
		t.Errorf("the echoes stored messages: %d -> %d", len(msgs), n)
	}
	if len(h.zd.Deliveries()) == 0 {
		t.Error("the fake delivered no echo: the test proves nothing")
	}
}

// A tenant without Zendesk: a handoff is a conflict, and its visitors'
// messages cost dispatch no read of a handoff.
func TestHandoffWithoutZendesk(t *testing.T) {
	m := testaws.NewMeter()
	h := newMeteredHarness(t, m)
	ctx := context.Background()
	ten := h.tenant(t)
	cv, _ := h.visitor(t, ten, "hi")
	if _, _, err := h.bridge.Handoff(ctx, ten, cv, "Eve"); chat.ErrorCode(err) != chat.EConflict {
		t.Errorf("handoff without Zendesk: %v", err)
	}
	if n := len(h.zd.Tickets()); n != 0 {
		t.Errorf("%d tickets", n)
	}
	msg := h.messages(t, cv)[0]
	if err := h.bridge.Deliver(ctx, msg); err != nil { // dispatch's first of the minute: one read of the integration
		t.Fatal(err)
	}
	before, _, _ := m.Snapshot()
	if err := h.bridge.Deliver(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := m.Snapshot(); testaws.Requests(after) != testaws.Requests(before) {
		t.Errorf("a visitor's message of a tenant without Zendesk cost %d requests", testaws.Requests(after)-testaws.Requests(before))
	}
}

// A handed-off conversation's handoff record and Zendesk agent's replies are
// in the contact's export and go with their erasure; the ticket itself stays
// in the tenant's Zendesk.
func TestHandoffExportedAndErased(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ten := h.tenant(t)
	a := h.connect(t, ten)
	cv, _ := h.visitor(t, ten, "Please delete my data later")
	hf, _, err := h.bridge.Handoff(ctx, ten, cv, "Eve")
	if err != nil {
		t.Fatal(err)
	}
	bob := h.zd.AddAgent("bob@acme.example", ids.Secret(30), "Bob")
	ev := h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, "Noted.", true))
	if res := h.do(t, request(a.in.WebhookID, ev, zendeskfake.SignedHeaders(a.secret, ev, time.Now(), "inv-x"))); res.StatusCode != http.StatusOK {
		t.Fatalf("delivery: %d", res.StatusCode)
	}
	bucket := testaws.NewBucket(t)
	doc := privacytest.Export(t, h.st, bucket, nil, ten.ID, cv.ContactID)
	var handoff, reply bool
	for _, p := range doc.Parts {
		handoff = handoff || (p.Entity == "handoff" && p.Data["TicketID"] == hf.TicketID)
		reply = reply || (p.Entity == "message" && p.Data["text"] == "Noted.")
	}
	if !handoff || !reply {
		t.Errorf("export: handoff %v, Bob's reply %v", handoff, reply)
	}
	privacytest.Erase(t, h.st, bucket, ten.ID, cv.ContactID)
	if _, err := h.st.Handoff(ctx, ten.ID, cv.ID, "zendesk"); err == nil {
		t.Error("the handoff record outlived the erasure")
	}
	left, err := h.st.SubjectHoldings(ctx, ten.ID, []string{cv.ContactID}, false)
	if err != nil || len(left.ExportRows()) != 0 {
		t.Errorf("items left after erasure: %d %v", len(left.ExportRows()), err)
	}
}

// A long Zendesk comment is cut to MaxCommentBytes (on a rune boundary,
// marked), so it still fits a WebSocket frame.
func TestLongCommentCut(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	a := h.connect(t, ten)
	cv, conn := h.visitor(t, ten, "hi")
	hf, _, err := h.bridge.Handoff(context.Background(), ten, cv, "Eve")
	if err != nil {
		t.Fatal(err)
	}
	bob := h.zd.AddAgent("bob@acme.example", ids.Secret(30), "Bob")
	long := strings.Repeat("détail ", 8000) // 64,000 bytes
	ev := h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, long, true))
	if res := h.do(t, request(a.in.WebhookID, ev, zendeskfake.SignedHeaders(a.secret, ev, time.Now(), "inv-long"))); res.StatusCode != http.StatusOK {
		t.Fatalf("delivery: %d", res.StatusCode)
	}
	h.pump(t)
	got := agentTexts(h.Frames(t, conn))
	if len(got) != 1 || len(got[0]) > zendeskbridge.MaxCommentBytes+3 || !strings.HasSuffix(got[0], "...") || !strings.HasPrefix(long, strings.TrimSuffix(got[0], "...")) {
		t.Fatalf("pushed %d texts, the first %d bytes", len(got), len(got[0]))
	}
}
