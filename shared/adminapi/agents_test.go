package adminapi_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// agentToken asks for an agent token with key under name and returns the answer.
func (e *env) agentToken(key, name string) map[string]any {
	e.t.Helper()
	res := e.call(http.MethodPost, "/v1/agent-tokens", key, js("name", name))
	wantStatus(e.t, "agent token", res, http.StatusCreated)
	return res.json(e.t)
}

// audited returns the targets of the tenant's audit events of action, oldest first.
func (e *env) audited(ownerKey, action string) []map[string]any {
	e.t.Helper()
	res := e.call(http.MethodGet, "/v1/audit-events?limit=100", ownerKey, "")
	wantStatus(e.t, "audit events", res, http.StatusOK)
	var out []map[string]any
	for _, it := range res.json(e.t)["items"].([]any) {
		ev := it.(map[string]any)
		if ev["action"] == action {
			targets, _ := ev["targets"].(map[string]any)
			out = append(out, targets)
		}
	}
	slices.Reverse(out)
	return out
}

// agents lists the tenant's agents as "id state" lines.
func (e *env) agents(key string) []string {
	e.t.Helper()
	res := e.call(http.MethodGet, "/v1/agents", key, "")
	wantStatus(e.t, "agents", res, http.StatusOK)
	body := res.json(e.t)
	if next, ok := body["next"]; !ok || next != nil {
		e.t.Fatalf("agents: next %v, want null: %s", next, res.Body)
	}
	out := []string{}
	for _, it := range body["items"].([]any) {
		a := it.(map[string]any)
		out = append(out, a["id"].(string)+" "+a["name"].(string)+" "+a["state"].(string))
	}
	return out
}

// The token names the calling key as the agent, is an agent token and never
// a visitor's, lasts 15 minutes, and is audited without the token; the agent
// is recorded under the trimmed name.
func TestAgentTokens_IssueNamesTheKeyAndIsAudited(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Tokens")
	before := time.Now()
	res := e.call(http.MethodPost, "/v1/agent-tokens", f.AgentKey, `{"name":"  Ana Lee  "}`)
	wantStatus(t, "agent token", res, http.StatusCreated)
	tok := res.json(t)
	keys := make([]string, 0, len(tok))
	for k := range tok {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, ","); got != "agentId,expiresAt,name,token,websocketUrl" {
		t.Fatalf("answer fields %s: %s", got, res.Body)
	}
	if tok["agentId"] != f.AgentKeyID || tok["name"] != "Ana Lee" || tok["websocketUrl"] != websocketURL {
		t.Fatalf("answer %s", res.Body)
	}
	exp, err := time.Parse(time.RFC3339, tok["expiresAt"].(string))
	if err != nil || exp.Before(before.Add(visitortoken.AgentTTL-time.Second)) || exp.After(time.Now().Add(visitortoken.AgentTTL)) {
		t.Fatalf("expiresAt %v (%v), want %v from now", tok["expiresAt"], err, visitortoken.AgentTTL)
	}
	token := tok["token"].(string)
	signer := agentSigner(t)
	c, err := signer.VerifyAgent(token)
	if err != nil || c.TenantID != f.ID || c.AgentID != f.AgentKeyID || c.AgentName != "Ana Lee" || c.ExpiresAt != exp.Unix() {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if _, err := signer.Verify(token); err == nil {
		t.Fatal("the agent token passes as a visitor's")
	}
	if got := e.audited(f.OwnerKey, adminapi.ActAgentTokenIssue); len(got) != 1 || !equalJSON(got[0], map[string]any{"agentId": f.AgentKeyID}) {
		t.Fatalf("audit of the token: %v", got)
	}
	if strings.Contains(e.auditItems(f.ID), token) || strings.Contains(e.dumpItems(), token) || strings.Contains(e.logs.String(), token) {
		t.Fatal("the token was stored or logged")
	}
	// The owner key is an agent of its own.
	if own := e.agentToken(f.OwnerKey, "Grace"); own["agentId"] != f.OwnerKeyID {
		t.Fatalf("owner's token: %v", own)
	}
	want := []string{f.AgentKeyID + " Ana Lee offline", f.OwnerKeyID + " Grace offline"}
	if got := e.agents(f.AgentKey); !slices.Equal(got, want) {
		t.Fatalf("agents %v, want %v", got, want)
	}
	wantProblem(t, "the operator", e.call(http.MethodPost, "/v1/agent-tokens", platformToken, `{"name":"Op"}`), http.StatusForbidden)
}

// A name that is missing, blank, too long or holds a control character is a
// 400 naming it, and nothing is recorded.
func TestAgentTokens_BadNamesChangeNothing(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Names")
	for _, body := range []string{`{}`, `{"name":""}`, `{"name":" \t "}`, `{"name":"` + strings.Repeat("a", 101) + `"}`,
		`{"name":"Ana\u0000"}`, `{"name":"A\nB"}`, `{"name":"A\u0085B"}`} {
		before := e.itemCount()
		p := wantProblem(t, body, e.call(http.MethodPost, "/v1/agent-tokens", f.AgentKey, body), http.StatusBadRequest)
		if got := fields(t, p); !slices.Equal(got, []string{"name"}) {
			t.Errorf("%s: failing fields %v, want name", body, got)
		}
		if after := e.itemCount(); after != before {
			t.Errorf("%s: items %d -> %d", body, before, after)
		}
	}
	if got := e.agents(f.AgentKey); len(got) != 0 {
		t.Fatalf("agents after refused tokens: %v", got)
	}
	e.agentToken(f.AgentKey, strings.Repeat("é", 100))
}

// Without a signer (the secret cannot be read, or none is configured) the
// answer is a bare 500 and no agent is recorded.
func TestAgentTokens_NoSignerIsInternalAndRecordsNothing(t *testing.T) {
	failing := visitortoken.FromSecret(func() (string, error) { return "", errors.New("secrets manager unreachable") })
	for name, tokens := range map[string]adminapi.AgentTokens{"secret unreadable": failing, "none configured": nil} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(d *adminapi.Deps) { d.Tokens = tokens })
			f := e.newFixture("Unsigned")
			res := e.call(http.MethodPost, "/v1/agent-tokens", f.AgentKey, `{"name":"Ana"}`)
			if p := wantProblem(t, "no signer", res, http.StatusInternalServerError); p["detail"] != "internal error" {
				t.Fatalf("answer %s", res.Body)
			}
			if got := e.agents(f.AgentKey); len(got) != 0 {
				t.Fatalf("agents %v", got)
			}
			if got := e.audited(f.OwnerKey, adminapi.ActAgentTokenIssue); len(got) != 0 {
				t.Fatalf("audited %v", got)
			}
		})
	}
}

// GET /v1/agents lists the tenant's agents, offline until a console connects,
// and nothing of another tenant's.
func TestAgents_ListWithPresence(t *testing.T) {
	e := newEnv(t)
	a, b := e.newFixture("Alpha"), e.newFixture("Bravo")
	second, secondID := e.createKey(a.OwnerKey, "second agent", "agent")
	e.agentToken(a.AgentKey, "Ana")
	e.agentToken(second, "Ben")
	e.agentToken(b.AgentKey, "Bravo's agent")
	want := []string{a.AgentKeyID + " Ana offline", secondID + " Ben offline"}
	if got := e.agents(a.AgentKey); !slices.Equal(got, want) {
		t.Fatalf("agents %v, want %v", got, want)
	}
	if err := e.store.PutAgentConnection(context.Background(), &chat.AgentConnection{ID: "conn-ben", TenantID: a.ID,
		AgentID: secondID, AgentName: "Ben", ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want[1] = secondID + " Ben online"
	if got := e.agents(a.OwnerKey); !slices.Equal(got, want) {
		t.Fatalf("agents %v, want %v", got, want)
	}
	if got := e.agents(b.AgentKey); !slices.Equal(got, []string{b.AgentKeyID + " Bravo's agent offline"}) {
		t.Fatalf("B's agents %v", got)
	}
}

// patch sends a PATCH of the conversation and returns the answer.
func (e *env) patch(key, convID, body string) response {
	e.t.Helper()
	return e.call(http.MethodPatch, "/v1/conversations/"+convID, key, body)
}

// An agent assigns a conversation to another key's agent (audited with the
// assignee) and unassigns it with ""; an id that is no agent of the tenant
// (unknown, another tenant's, a key that never took a token) is a 400 that
// changes nothing, and another tenant's conversation stays 404.
func TestConversationPatch_AssignAndUnassign(t *testing.T) {
	e := newEnv(t)
	a, b := e.newFixture("Alpha"), e.newFixture("Bravo")
	e.agentToken(a.OwnerKey, "Grace")
	e.agentToken(b.AgentKey, "Bravo's agent")
	res := e.patch(a.AgentKey, a.ConvID, js("assigneeId", a.OwnerKeyID))
	wantStatus(t, "assign", res, http.StatusOK)
	if cv := res.json(t); cv["assigneeId"] != a.OwnerKeyID || cv["status"] != chat.StatusOpen || cv["id"] != a.ConvID {
		t.Fatalf("assigned: %s", res.Body)
	}
	got := e.audited(a.OwnerKey, adminapi.ActConversationAssign)
	if len(got) != 1 || !equalJSON(got[0], map[string]any{"conversationId": a.ConvID, "assigneeId": a.OwnerKeyID}) {
		t.Fatalf("audit of the assignment: %v", got)
	}
	before := e.snapshot(a)
	for what, id := range map[string]string{"unknown": ids.New(ids.APIKey), "not an id": "Ana", "another tenant's agent": b.AgentKeyID,
		"a key that took no token": a.AgentKeyID} {
		p := wantProblem(t, what, e.patch(a.AgentKey, a.ConvID, `{"status":"closed","assigneeId":"`+id+`"}`), http.StatusBadRequest)
		if got := fields(t, p); !slices.Equal(got, []string{"assigneeId"}) {
			t.Errorf("%s: failing fields %v", what, got)
		}
	}
	if after := e.snapshot(a); after != before {
		t.Fatalf("a refused assignment changed the tenant:\nbefore %s\nafter  %s", before, after)
	}
	res = e.patch(a.AgentKey, a.ConvID, `{"assigneeId":""}`)
	wantStatus(t, "unassign", res, http.StatusOK)
	if _, ok := res.json(t)["assigneeId"]; ok {
		t.Fatalf("unassigned: %s", res.Body)
	}
	res = e.call(http.MethodGet, "/v1/conversations/"+a.ConvID, a.AgentKey, "")
	if _, ok := res.json(t)["assigneeId"]; ok {
		t.Fatalf("read after unassign: %s", res.Body)
	}
	if got := e.audited(a.OwnerKey, adminapi.ActConversationAssign); len(got) != 2 || got[1]["assigneeId"] != "" {
		t.Fatalf("audit of the unassignment: %v", got)
	}
	// Another tenant's conversation, and a missing one, answer 404 for every
	// field, and B's conversation does not change.
	beforeB := e.snapshot(b)
	for _, body := range []string{`{"read":true}`, `{"assigneeId":""}`, `{"assigneeId":"` + a.OwnerKeyID + `"}`, `{"status":"open"}`} {
		wantProblem(t, "foreign "+body, e.patch(a.AgentKey, b.ConvID, body), http.StatusNotFound)
		wantProblem(t, "missing "+body, e.patch(a.AgentKey, ids.New(ids.Conversation), body), http.StatusNotFound)
	}
	if after := e.snapshot(b); after != beforeB {
		t.Fatalf("B changed:\nbefore %s\nafter  %s", beforeB, after)
	}
}

// recordVisitorMessages stores n visitor messages in the conversation and
// records each as its last message, as dispatch does; the last is long.
func (e *env) recordVisitorMessages(f fixture, n int) *chat.Message {
	e.t.Helper()
	ctx := context.Background()
	var last *chat.Message
	for i := range n {
		text := "question " + strconv.Itoa(i)
		if i == n-1 {
			text = strings.Repeat("ü", 200)
		}
		m, _, err := e.store.PutMessage(ctx, &chat.Message{TenantID: f.ID, ConversationID: f.ConvID, ContactID: f.ContactID,
			Author: chat.Author{Kind: chat.AuthorVisitor, Name: "Visitor"}, Text: text, Channel: chat.ChannelWidget}, retention.Defaults)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.store.RecordLastMessage(ctx, m); err != nil {
			e.t.Fatal(err)
		}
		last = m
	}
	return last
}

// The inbox and a conversation show the contact's name, the last message (its
// text cut to 140 characters) and the unread count; marking it read sets the
// count to 0 and keeps the rest; an empty patch is a 400 that changes nothing.
func TestConversationPatch_ReadAndSummaries(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Summary")
	last := e.recordVisitorMessages(f, 3)
	check := func(what string, cv map[string]any, unread int) {
		t.Helper()
		lm, _ := cv["lastMessage"].(map[string]any)
		text, _ := lm["text"].(string)
		if cv["contactName"] != "Visitor of Summary" || cv["contactEmail"] != f.Email || cv["unread"] != float64(unread) ||
			lm["id"] != last.ID || lm["authorKind"] != chat.AuthorVisitor || []rune(text)[139] != '…' || len([]rune(text)) != 140 {
			t.Fatalf("%s: %v", what, cv)
		}
	}
	res := e.call(http.MethodGet, "/v1/conversations", f.AgentKey, "")
	wantStatus(t, "list", res, http.StatusOK)
	items := res.json(t)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("list: %s", res.Body)
	}
	check("list", items[0].(map[string]any), 3)
	res = e.call(http.MethodGet, "/v1/conversations/"+f.ConvID, f.AgentKey, "")
	wantStatus(t, "get", res, http.StatusOK)
	check("get", res.json(t), 3)

	before := e.snapshot(f)
	for _, body := range []string{`{}`, `{"read":null}`, `{"read":false}`} {
		wantProblem(t, body, e.patch(f.AgentKey, f.ConvID, body), http.StatusBadRequest)
	}
	if after := e.snapshot(f); after != before {
		t.Fatalf("a refused patch changed the tenant:\nbefore %s\nafter  %s", before, after)
	}

	res = e.patch(f.AgentKey, f.ConvID, `{"read":true}`)
	wantStatus(t, "read", res, http.StatusOK)
	check("patch read", res.json(t), 0)
	res = e.call(http.MethodGet, "/v1/conversations", f.AgentKey, "")
	check("list after read", res.json(t)["items"].([]any)[0].(map[string]any), 0)

	// All three at once.
	e.recordVisitorMessages(f, 2)
	last = e.recordVisitorMessages(f, 1)
	e.agentToken(f.AgentKey, "Ana")
	res = e.patch(f.AgentKey, f.ConvID, `{"status":"closed","assigneeId":"`+f.AgentKeyID+`","read":true}`)
	wantStatus(t, "all three", res, http.StatusOK)
	cv := res.json(t)
	check("all three", cv, 0)
	if cv["status"] != chat.StatusClosed || cv["assigneeId"] != f.AgentKeyID {
		t.Fatalf("all three: %s", res.Body)
	}
	if len(e.audited(f.OwnerKey, adminapi.ActConversationClose)) != 1 || len(e.audited(f.OwnerKey, adminapi.ActConversationAssign)) != 1 {
		t.Fatal("the close and the assignment are not both audited")
	}
}
