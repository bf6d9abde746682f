package adminapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
	"github.com/livesupportbot/backend/shared/zendeskbridge"
)

// Connecting a channel account stores its ids and the token encrypted: the
// answer, the list, the audit trail and the logs never show the token; bad
// input names its fields and stores nothing; an unknown channel is 404;
// disconnecting removes it.
func TestChannels_ConnectListDisconnect(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Chan")
	token := "EAAG" + strings.Repeat("s3cr3t", 6)
	res := e.call(http.MethodPut, "/v1/integrations/whatsapp", f.OwnerKey,
		`{"accountId":"106540352242922","businessId":"102290129340398","accessToken":"`+token+`"}`)
	wantStatus(t, "connect whatsapp", res, http.StatusOK)
	list := e.call(http.MethodGet, "/v1/integrations", f.OwnerKey, "")
	wantStatus(t, "list", list, http.StatusOK)
	if !strings.Contains(list.Body, `"channel":"whatsapp","accountId":"106540352242922","businessId":"102290129340398"`) {
		t.Errorf("list %s: want the whatsapp account", list.Body)
	}
	audit := e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, "")
	for _, s := range []string{res.Body, list.Body, audit.Body, e.logs.String()} {
		if strings.Contains(s, token) || strings.Contains(s, "s3cr3t") {
			t.Errorf("the token shows: %s", s)
		}
	}
	if !strings.Contains(audit.Body, `"channel":"whatsapp"`) {
		t.Errorf("audit %s: want the connect", audit.Body)
	}
	p := wantProblem(t, "bad input", e.call(http.MethodPut, "/v1/integrations/messenger", f.OwnerKey,
		`{"accountId":"page one","accessToken":"short"}`), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "accessToken,accountId" {
		t.Errorf("failing fields %q", got)
	}
	wantProblem(t, "unknown channel", e.call(http.MethodPut, "/v1/integrations/telegram", f.OwnerKey,
		`{"accountId":"1","accessToken":"`+token+`"}`), http.StatusNotFound)
	wantProblem(t, "agent key", e.call(http.MethodPut, "/v1/integrations/whatsapp", f.AgentKey,
		`{"accountId":"1","accessToken":"`+token+`"}`), http.StatusForbidden)
	// Another tenant cannot take the account.
	g := e.newFixture("Other")
	wantProblem(t, "another tenant's account", e.call(http.MethodPut, "/v1/integrations/whatsapp", g.OwnerKey,
		`{"accountId":"106540352242922","accessToken":"`+token+`"}`), http.StatusConflict)
	wantStatus(t, "disconnect", e.call(http.MethodDelete, "/v1/integrations/whatsapp", f.OwnerKey, ""), http.StatusNoContent)
	if list := e.call(http.MethodGet, "/v1/integrations", f.OwnerKey, ""); strings.Contains(list.Body, "whatsapp") {
		t.Errorf("after disconnect: %s", list.Body)
	}
}

// channelConversation opens a conversation of a contact on ch whose last
// message was at last, as the webhook would have stored it.
func (e *env) channelConversation(f fixture, ch string, last time.Time) string {
	e.t.Helper()
	ctx := context.Background()
	contact := ids.New(ids.Contact)
	if _, err := e.store.TouchChannelUser(ctx, f.ID, &chat.ChannelUser{Channel: ch, Account: "100200300", UserID: "user-" + contact, ContactID: contact}, last, retention.Defaults); err != nil {
		e.t.Fatal(err)
	}
	_, cv, err := e.store.OpenConversation(ctx, f.ID, contact, ch, retention.Defaults)
	if err != nil {
		e.t.Fatal(err)
	}
	return cv
}

// A reply to a Messenger or WhatsApp conversation whose 24 hours have passed
// is 409 window_closed and stores nothing; the conversation shows its window;
// WhatsApp then takes a template, stored as an agent message with it; a
// template to any other channel is 409.
func TestChannels_ReplyWindowAndTemplates(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Window")
	wa := e.channelConversation(f, "whatsapp", time.Now().Add(-30*time.Hour))
	fresh := e.channelConversation(f, "messenger", time.Now().Add(-time.Hour))
	stale := e.channelConversation(f, "messenger", time.Now().Add(-25*time.Hour))

	wantStatus(t, "reply within the window", e.call(http.MethodPost, "/v1/conversations/"+fresh+"/messages", f.AgentKey, `{"text":"hi"}`), http.StatusCreated)
	p := wantProblem(t, "reply after 25 hours", e.call(http.MethodPost, "/v1/conversations/"+stale+"/messages", f.AgentKey, `{"text":"late"}`), http.StatusConflict)
	if p["code"] != "window_closed" {
		t.Errorf("problem %v, want window_closed", p)
	}
	got := e.call(http.MethodGet, "/v1/conversations/"+wa, f.AgentKey, "").json(t)
	w, _ := got["replyWindow"].(map[string]any)
	if w == nil || w["open"] != false || w["templateOnly"] != true {
		t.Errorf("whatsapp conversation %v: want a closed, template-only window", got)
	}
	p = wantProblem(t, "text to whatsapp after 30 hours", e.call(http.MethodPost, "/v1/conversations/"+wa+"/messages", f.AgentKey, `{"text":"late"}`), http.StatusConflict)
	if p["code"] != "window_closed" || !strings.Contains(p["detail"].(string), "template") {
		t.Errorf("problem %v", p)
	}
	res := e.call(http.MethodPost, "/v1/conversations/"+wa+"/template", f.AgentKey, `{"name":"order_update","language":"en_US","params":["4521"]}`)
	wantStatus(t, "template", res, http.StatusCreated)
	m := res.json(t)
	if tpl, _ := m["template"].(map[string]any); tpl["name"] != "order_update" || m["author"].(map[string]any)["kind"] != "agent" {
		t.Errorf("template message %v", m)
	}
	wantProblem(t, "template to messenger", e.call(http.MethodPost, "/v1/conversations/"+fresh+"/template", f.AgentKey, `{"name":"x","language":"en"}`), http.StatusConflict)
	wantProblem(t, "template to the widget", e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/template", f.AgentKey, `{"name":"x","language":"en"}`), http.StatusConflict)
	p = wantProblem(t, "bad template", e.call(http.MethodPost, "/v1/conversations/"+wa+"/template", f.AgentKey, `{"name":"Bad Name","language":"english"}`), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "language,name" {
		t.Errorf("failing fields %q", got)
	}
}

// Handing a conversation to Zendesk: 409 until Zendesk is connected (PUT
// /v1/integrations/zendesk, its token checked with Zendesk and never shown);
// then one ticket (201, then 200 with the same), audited once; a desk other
// than zendesk is 400; a deployment without desks answers 404.
func TestHandoff_Route(t *testing.T) {
	zd := zendeskfake.New(t)
	key := testaws.NewKMSKey(t)
	e := newEnv(t, func(d *adminapi.Deps) {
		z := zendeskbridge.New(zendeskbridge.Deps{Store: storeOf(d), Cipher: slackkms.New(testaws.Config(t), nil, key.KeyID), BaseURL: zd.URL()})
		d.Channels, d.Desks = append(d.Channels, z), z
	})
	f := e.newFixture("Desk")
	path := "/v1/conversations/" + f.ConvID + "/handoff"
	wantProblem(t, "before connecting", e.call(http.MethodPost, path, f.AgentKey, `{"to":"zendesk"}`), http.StatusConflict)
	token := strings.Repeat("zt", 20)
	zd.AddAgent("api@acme.example", token, "API Agent")
	res := e.call(http.MethodPut, "/v1/integrations/zendesk", f.OwnerKey,
		`{"subdomain":"acme","email":"api@acme.example","apiToken":"`+token+`","webhookSecret":"`+strings.Repeat("w", 24)+`"}`)
	wantStatus(t, "connect zendesk", res, http.StatusOK)
	if !strings.Contains(res.Body, `"webhookUrl":"`) || strings.Contains(res.Body, token) || strings.Contains(e.logs.String(), token) {
		t.Errorf("connect answered %s", res.Body)
	}
	p := wantProblem(t, "another desk", e.call(http.MethodPost, path, f.AgentKey, `{"to":"freshdesk"}`), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "to" {
		t.Errorf("failing fields %q", got)
	}
	first := e.call(http.MethodPost, path, f.AgentKey, `{"to":"zendesk","agentName":"Eve"}`)
	wantStatus(t, "handoff", first, http.StatusCreated)
	again := e.call(http.MethodPost, path, f.AgentKey, `{"to":"zendesk"}`)
	wantStatus(t, "handoff again", again, http.StatusOK)
	if first.Body != again.Body || len(zd.Tickets()) != 1 || !strings.Contains(first.Body, `"ticketId":"`+zd.Tickets()[0].ID+`"`) {
		t.Errorf("handoffs %s and %s, %d tickets", first.Body, again.Body, len(zd.Tickets()))
	}
	if audit := e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, ""); strings.Count(audit.Body, `"conversation.handoff"`) != 1 {
		t.Errorf("audit %s: want one handoff", audit.Body)
	}
	plain := newEnv(t)
	g := plain.newFixture("NoDesk")
	wantProblem(t, "no desks", plain.call(http.MethodPost, "/v1/conversations/"+g.ConvID+"/handoff", g.AgentKey, `{"to":"zendesk"}`), http.StatusNotFound)
}

// The Dialogflow install link: bad settings name their fields (and change
// nothing); good ones redirect to Google's consent with offline access, the
// Dialogflow scope, the callback and a state, and set the install cookie;
// the install is audited; a deployment without a Google client is 404;
// PUT cannot connect Dialogflow with a token.
func TestDialogflowInstall_Route(t *testing.T) {
	e := newEnv(t, func(d *adminapi.Deps) { d.Channels = append(d.Channels, d.Bot.(*botbridge.Bridge)) })
	f := e.newFixture("Bot")
	wantProblem(t, "PUT", e.call(http.MethodPut, "/v1/integrations/dialogflow", f.OwnerKey, `{"refreshToken":"1//a-token-given-by-hand-0123"}`), http.StatusConflict)
	p := wantProblem(t, "bad settings", e.call(http.MethodGet, "/v1/integrations/dialogflow/install?edition=dx&project=X&channels=fax", f.OwnerKey, ""), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "channels,edition,project" {
		t.Errorf("failing fields %q", got)
	}
	res := e.call(http.MethodGet, "/v1/integrations/dialogflow/install?edition=cx&project=acme-support-bot&location=europe-west1&agent=0b3a6c57-6e4b-4a4f-9d55-3f1f0c1d2e3f&channels=widget,telegram&phrases=operator", f.OwnerKey, "")
	wantStatus(t, "install", res, http.StatusFound)
	loc := res.Headers["Location"]
	for _, want := range []string{"https://accounts.google.com/o/oauth2/auth?", "access_type=offline", "prompt=consent", "client_id=client-1",
		"scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdialogflow", "redirect_uri=", "%2Fwebhooks%2Fdialogflow%2Foauth", "state="} {
		if !strings.Contains(loc, want) {
			t.Errorf("consent URL %q lacks %q", loc, want)
		}
	}
	if !strings.HasPrefix(res.Headers["Set-Cookie"], "__Secure-lsb-dialogflow-install=") {
		t.Errorf("Set-Cookie %q", res.Headers["Set-Cookie"])
	}
	if audit := e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, ""); !strings.Contains(audit.Body, `"channel":"dialogflow"`) {
		t.Errorf("audit %s", audit.Body)
	}
	wantProblem(t, "agent key", e.call(http.MethodGet, "/v1/integrations/dialogflow/install?edition=es&project=acme-support-bot&channels=widget", f.AgentKey, ""), http.StatusForbidden)
	plain := newEnv(t, func(d *adminapi.Deps) { d.Bot = nil })
	g := plain.newFixture("NoBot")
	wantProblem(t, "no google client", plain.call(http.MethodGet, "/v1/integrations/dialogflow/install?edition=es&project=acme-support-bot&channels=widget", g.OwnerKey, ""), http.StatusNotFound)
}
