package wsmessage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// framesOf returns the frames of a connection of one type (and inbox event).
func (h *harness) framesOf(tb testing.TB, connID, typ, event string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, f := range h.Frames(tb, connID) {
		if f["type"] == typ && (event == "" || f["event"] == event) {
			out = append(out, f)
		}
	}
	return out
}

// TestAgents_LiveInboxEventsReachEveryConsoleOfTheTenantOnly: a visitor who
// identified and writes opens a conversation; both consoles of the tenant get
// the conversation (with the visitor's name) and each message with the
// summary after it (unread counts visitor messages; an agent's reply resets
// it); closing and assigning are told too. A redelivered batch counts nothing
// twice, and another tenant's console hears nothing.
func TestAgents_LiveInboxEventsReachEveryConsoleOfTheTenantOnly(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tn, other := h.tenant(t), h.tenant(t)
	h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	h.ConnectAgent(t, tn.ID, "keyBen", "Ben", "ben")
	h.ConnectAgent(t, other.ID, "keyX", "Xavier", "xavier")
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "visitor")
	h.Frame(t, "ws-identify.json", a, "visitor", `{"action":"identify","name":"Maria Lopez","email":"maria@example.com"}`)
	h.Frame(t, "ws-send-message.json", a, "visitor", `{"action":"sendMessage","clientMessageId":"m1","text":"Where is my order?"}`)
	h.Frame(t, "ws-send-message.json", a, "visitor", `{"action":"sendMessage","clientMessageId":"m2","text":"It is order 1234."}`)
	recs, err := h.Stream.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time as a redelivery of the same records
		if res, err := h.Dispatch.Batch(ctx, events.DynamoDBEvent{Records: recs}); err != nil || len(res.BatchItemFailures) > 0 {
			t.Fatalf("batch: %+v %v", res, err)
		}
	}
	for _, conn := range []string{"ana", "ben"} {
		cvs := h.framesOf(t, conn, "inbox", "conversation")
		if len(cvs) == 0 {
			t.Fatalf("%s got no conversation event: %v", conn, h.Frames(t, conn))
		}
		cv := cvs[0]["conversation"].(map[string]any)
		if cv["contactName"] != "Maria Lopez" || cv["contactEmail"] != "maria@example.com" || cv["status"] != "open" {
			t.Fatalf("%s: conversation event %v", conn, cv)
		}
		msgs := h.framesOf(t, conn, "inbox", "message")
		if len(msgs) != 4 { // two messages, delivered twice
			t.Fatalf("%s got %d message events, want 4 (2 redelivered)", conn, len(msgs))
		}
		last := msgs[3]
		if last["unread"] != 2.0 || last["lastMessage"].(map[string]any)["text"] != "It is order 1234." ||
			last["message"].(map[string]any)["text"] != "It is order 1234." || last["conversationId"] != cv["id"] {
			t.Fatalf("%s: last message event %v (the redelivery must not count again)", conn, last)
		}
	}
	if f := h.Frames(t, "xavier"); len(f) != 0 {
		t.Fatalf("another tenant's console got %v", f)
	}
	convID := h.framesOf(t, "ana", "inbox", "message")[0]["conversationId"].(string)

	// An agent replies: unread goes back to 0.
	if _, _, err := h.st.PutMessage(ctx, &chat.Message{TenantID: tn.ID, ConversationID: convID, ContactID: v,
		Author: chat.Author{Kind: chat.AuthorAgent, Name: "Ana"}, Text: "Let me check.", Channel: chat.ChannelWidget}, tn.Periods()); err != nil {
		t.Fatal(err)
	}
	h.Pump(t)
	msgs := h.framesOf(t, "ben", "inbox", "message")
	if last := msgs[len(msgs)-1]; last["unread"] != 0.0 || last["lastMessage"].(map[string]any)["authorKind"] != "agent" {
		t.Fatalf("after the reply: %v", last)
	}
	// Assigned, then closed: each is one conversation event.
	before := len(h.framesOf(t, "ben", "inbox", "conversation"))
	if _, err := h.st.AssignConversation(ctx, tn.ID, convID, "keyBen"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.SetConversationStatus(ctx, tn.ID, convID, chat.StatusClosed, 1); err != nil {
		t.Fatal(err)
	}
	h.Pump(t)
	cvs := h.framesOf(t, "ben", "inbox", "conversation")
	if len(cvs) != before+2 {
		t.Fatalf("got %d new conversation events, want 2", len(cvs)-before)
	}
	if cv := cvs[before]["conversation"].(map[string]any); cv["assigneeId"] != "keyBen" {
		t.Fatalf("assignment event %v", cv)
	}
	if cv := cvs[before+1]["conversation"].(map[string]any); cv["status"] != "closed" {
		t.Fatalf("close event %v", cv)
	}
	// The inbox list's summary says the same.
	got := []chat.Conversation{{ID: convID}}
	if err := h.st.WithSummaries(ctx, tn.ID, got); err != nil || got[0].LastMessage == nil || got[0].LastMessage.Text != "Let me check." || got[0].Unread != 0 {
		t.Fatalf("summary %+v %v", got[0], err)
	}
}

// TestAgents_TypingReachesTheOtherSide: a visitor's typing reaches the
// tenant's consoles with the conversation and the visitor's name; an agent's
// reaches the visitor's connections with the agent's name. An agent typing in
// another tenant's conversation gets an error and nothing is sent.
func TestAgents_TypingReachesTheOtherSide(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tn, other := h.tenant(t), h.tenant(t)
	ana := h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	h.ConnectAgent(t, other.ID, "keyX", "Xavier", "xavier")
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "tab1")
	h.Connect(t, tn.ID, v, "tab2")
	h.Frame(t, "ws-identify.json", a, "tab1", `{"action":"identify","name":"Maria","email":"maria@example.com"}`)
	h.Frame(t, "ws-send-message.json", a, "tab1", `{"action":"sendMessage","clientMessageId":"m1","text":"Hi"}`)
	c, err := h.st.Contact(ctx, tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	h.Frame(t, "ws-typing.json", a, "tab1", `{"action":"typing","state":"start"}`)
	typing := h.framesOf(t, "ana", "typing", "")
	if len(typing) != 1 || typing[0]["conversationId"] != c.OpenConversationID || typing[0]["state"] != "start" ||
		typing[0]["author"].(map[string]any)["name"] != "Maria" || typing[0]["author"].(map[string]any)["kind"] != "visitor" {
		t.Fatalf("console got typing %v", typing)
	}
	if f := h.Frames(t, "xavier"); len(f) != 0 {
		t.Fatalf("another tenant's console got %v", f)
	}

	h.Frame(t, "ws-typing.json", ana, "ana", fmt.Sprintf(`{"action":"typing","conversationId":%q,"state":"start"}`, c.OpenConversationID))
	for _, tab := range []string{"tab1", "tab2"} {
		var agent []map[string]any
		for _, f := range h.framesOf(t, tab, "typing", "") {
			if f["author"].(map[string]any)["kind"] == "agent" {
				agent = append(agent, f)
			}
		}
		if len(agent) != 1 || agent[0]["author"].(map[string]any)["name"] != "Ana" || agent[0]["state"] != "start" {
			t.Fatalf("%s got agent typing %v", tab, agent)
		}
	}

	// Xavier names Maria's conversation: refused, and her tabs hear nothing.
	x := h.ConnectAgent(t, other.ID, "keyX", "Xavier", "xavier2")
	n1 := len(h.Frames(t, "tab1"))
	h.Frame(t, "ws-typing.json", x, "xavier2", fmt.Sprintf(`{"action":"typing","conversationId":%q,"state":"start"}`, c.OpenConversationID))
	if errs := h.framesOf(t, "xavier2", "error", ""); len(errs) != 1 || errs[0]["message"] != "not found" {
		t.Fatalf("foreign conversation: %v", h.Frames(t, "xavier2"))
	}
	if n := len(h.Frames(t, "tab1")); n != n1 {
		t.Fatalf("the visitor got %d frames from another tenant's agent", n-n1)
	}
}

// TestAgents_PresenceTellsVisitorsAndAgents: a visitor learns whether an
// agent is online; an agent who sets away is not, and the other agents are
// told, as they are when an agent's console is gone. A bad state changes
// nothing.
func TestAgents_PresenceTellsVisitorsAndAgents(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "visitor")
	ask := func(want bool) {
		t.Helper()
		h.Frame(t, "ws-default.json", a, "visitor", `{"action":"presence"}`)
		p := h.framesOf(t, "visitor", "presence", "")
		if got := p[len(p)-1]["agentsOnline"]; got != want {
			t.Fatalf("agentsOnline %v, want %v", got, want)
		}
	}
	ask(false)
	ana := h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	h.ConnectAgent(t, tn.ID, "keyBen", "Ben", "ben")
	ask(true)
	h.Frame(t, "ws-default.json", ana, "ana", `{"action":"presence","state":"busy"}`)
	if errs := h.framesOf(t, "ana", "error", ""); len(errs) != 1 {
		t.Fatalf("a bad state: %v", h.Frames(t, "ana"))
	}
	h.Frame(t, "ws-default.json", ana, "ana", `{"action":"presence","state":"away"}`)
	if p := h.framesOf(t, "ana", "presence", ""); len(p) != 1 || p[0]["agentsOnline"] != true {
		t.Fatalf("Ana's answer %v (Ben is online)", p)
	}
	if told := h.framesOf(t, "ben", "agent", ""); len(told) != 1 || told[0]["agentId"] != "keyAna" || told[0]["state"] != "away" || told[0]["name"] != "Ana" {
		t.Fatalf("Ben was told %v", told)
	}
	ask(true)                                         // Ben
	h.ConnectAgent(t, tn.ID, "keyBen", "Ben", "ben2") // Ben's second tab
	bye := func(conn string) {
		t.Helper()
		var req events.APIGatewayWebsocketProxyRequest
		testaws.LoadEvent(t, "ws-disconnect.json", &req)
		req.RequestContext.ConnectionID = conn
		req.RequestContext.Authorizer = map[string]any{"tenantId": tn.ID, "agentId": "keyBen", "agentName": "Ben"}
		if res, err := h.Conn.Route(context.Background(), req); err != nil || res.StatusCode != 200 {
			t.Fatalf("$disconnect: %v %v", res, err)
		}
	}
	// Ana is told what Ben's consoles say when one is gone: online while
	// another is, then offline; the gone console is sent nothing.
	bye("ben")
	if told := h.framesOf(t, "ana", "agent", ""); len(told) != 1 || told[0]["agentId"] != "keyBen" || told[0]["state"] != "online" || told[0]["name"] != "Ben" {
		t.Fatalf("with Ben's other tab open, Ana was told %v", told)
	}
	ask(true) // Ben's other tab
	bye("ben2")
	if told := h.framesOf(t, "ana", "agent", ""); len(told) != 2 || told[1]["agentId"] != "keyBen" || told[1]["state"] != "offline" {
		t.Fatalf("with Ben's last tab gone, Ana was told %v", told)
	}
	if got := h.framesOf(t, "ben", "agent", ""); len(got) != 1 { // Ana's away, before
		t.Fatalf("Ben's gone console was sent %v", got)
	}
	ask(false) // Ana is away, Ben gone
	agents, err := h.st.Agents(context.Background(), tn.ID)
	if err != nil || len(agents) != 0 {
		// Agents are recorded when their token is issued (admin API), not here.
		t.Fatalf("agents %v %v", agents, err)
	}
}

// TestAgents_ConsoleIsNoVisitor: an agent's connection may not send messages,
// identify or read a history, and a visitor's token never admits a console.
func TestAgents_ConsoleIsNoVisitor(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tn := h.tenant(t)
	ana := h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	for _, body := range []string{
		`{"action":"sendMessage","clientMessageId":"x","text":"as a visitor"}`,
		`{"action":"identify","name":"A","email":"a@example.com"}`,
		`{"action":"history"}`,
	} {
		h.Frame(t, "ws-default.json", ana, "ana", body)
	}
	errs := h.framesOf(t, "ana", "error", "")
	if len(errs) != 3 {
		t.Fatalf("errors %v", h.Frames(t, "ana"))
	}
	for _, e := range errs {
		if e["message"] != "unknown action" {
			t.Fatalf("error %v", e)
		}
	}
	if c, err := h.st.Contact(ctx, tn.ID, ""); err == nil {
		t.Fatalf("a contact was made: %+v", c)
	}
	// The authorizer's context names a visitor or an agent, never both.
	for _, auth := range []map[string]any{
		{"tenantId": tn.ID},
		{"tenantId": tn.ID, "visitorId": "v", "agentId": "a"},
	} {
		if _, err := wsconn.IdentityOf(events.APIGatewayWebsocketProxyRequestContext{Authorizer: auth}); err == nil {
			t.Fatalf("identity of %v accepted", auth)
		}
	}
	var req events.APIGatewayCustomAuthorizerRequestTypeRequest
	testaws.LoadEvent(t, "ws-authorize.json", &req)
	token, _ := h.Tokens.IssueAgent(tn.ID, "keyAna", "Ana")
	// One character of the signature changed, where all its bits count (the
	// token's last two could already be "xx", or carry unused bits).
	tampered := []byte(token)
	if i := len(tampered) - 5; tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	req.QueryStringParameters["token"] = string(tampered)
	if _, err := h.Conn.Authorize(ctx, req); err != wsconn.ErrUnauthorized {
		t.Fatalf("a tampered agent token: %v", err)
	}
	req.QueryStringParameters["token"] = token
	res, err := h.Conn.Authorize(ctx, req)
	if err != nil || res.Context["agentId"] != "keyAna" || res.Context["visitorId"] != nil {
		t.Fatalf("agent token: %+v %v", res.Context, err)
	}
	if conns, err := h.st.AgentConnections(ctx, tn.ID); err != nil || len(conns) != 1 || conns[0].AgentName != "Ana" ||
		time.Since(conns[0].ConnectedAt) > time.Minute {
		t.Fatalf("agent connections %+v %v", conns, err)
	}
}

// TestAgents_GoneConsoleIsRemoved: a console API Gateway says is gone is
// removed at the next event; the others get it.
func TestAgents_GoneConsoleIsRemoved(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tn := h.tenant(t)
	h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	h.ConnectAgent(t, tn.ID, "keyBen", "Ben", "ben")
	h.Mgmt.Gone("ben")
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "visitor")
	h.Frame(t, "ws-send-message.json", a, "visitor", `{"action":"sendMessage","clientMessageId":"m1","text":"Hi"}`)
	if res := h.Pump(t); len(res.BatchItemFailures) > 0 {
		t.Fatalf("failures %v", res.BatchItemFailures)
	}
	if len(h.framesOf(t, "ana", "inbox", "message")) != 1 {
		t.Fatalf("ana got %v", h.Frames(t, "ana"))
	}
	conns, err := h.st.AgentConnections(ctx, tn.ID)
	if err != nil || len(conns) != 1 || conns[0].ID != "ana" {
		t.Fatalf("connections left %+v %v", conns, err)
	}
}

// TestAgents_VisitorWhoIdentifiesLaterIsNamedInTheInbox: a conversation opened
// by an anonymous visitor gets the name and email given later, and the
// consoles are told.
func TestAgents_VisitorWhoIdentifiesLaterIsNamedInTheInbox(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tn := h.tenant(t)
	h.ConnectAgent(t, tn.ID, "keyAna", "Ana", "ana")
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "visitor")
	h.Frame(t, "ws-send-message.json", a, "visitor", `{"action":"sendMessage","clientMessageId":"m1","text":"Hello"}`)
	h.Pump(t)
	h.Frame(t, "ws-identify.json", a, "visitor", `{"action":"identify","name":"Sam Lee","email":"sam@example.com"}`)
	h.Pump(t)
	cvs := h.framesOf(t, "ana", "inbox", "conversation")
	if len(cvs) != 2 {
		t.Fatalf("conversation events %v, want the opening and the naming", cvs)
	}
	if cv := cvs[0]["conversation"].(map[string]any); cv["contactName"] != nil {
		t.Fatalf("opened with a name: %v", cv)
	}
	named := cvs[1]["conversation"].(map[string]any)
	if named["contactName"] != "Sam Lee" || named["contactEmail"] != "sam@example.com" {
		t.Fatalf("naming event %v", named)
	}
	cv, err := h.st.Conversation(ctx, tn.ID, named["id"].(string))
	if err != nil || cv.ContactName != "Sam Lee" || cv.ContactEmail != "sam@example.com" {
		t.Fatalf("stored conversation %+v %v", cv, err)
	}
}
