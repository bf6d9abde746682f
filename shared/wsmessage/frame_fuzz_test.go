package wsmessage_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
)

// FuzzFrame sends arbitrary frame bodies on a visitor's connection through
// ws-message's handler, wired as the function wires it (page views to the
// usage hook), over moto (seeds in testdata/fuzz/FuzzFrame: the bodies of
// events/ws-*.json and hand-made variants). The handler is called directly and
// has no recover, so a panic fails the run. Every frame gets a 200 and at most
// one answer, which is a frame of the contract; a bad frame is an error frame
// with a contract code, never "internal" (that would be a failure of ours, and
// is logged as such); and no log line holds the frame's text.
func FuzzFrame(f *testing.F) {
	for _, ev := range []string{"ws-default.json", "ws-history.json", "ws-identify.json", "ws-page-view.json",
		"ws-ping.json", "ws-send-message.json", "ws-typing.json"} {
		var req events.APIGatewayWebsocketProxyRequest
		testaws.LoadEvent(f, ev, &req)
		f.Add(req.Body)
	}
	h := newHarness(f)
	h.Msg.PageView = usage.Hook(h.st, h.Msg.Tenants.(*store.TenantCache))
	tn := h.tenant(f)
	auth := h.Connect(f, tn.ID, ids.New(ids.Contact), "connF")
	var base events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(f, "ws-default.json", &base)
	base.RequestContext.ConnectionID, base.RequestContext.Authorizer = "connF", auth
	types := []string{"ack", "error", "history", "identified", "pong", "presence"}
	f.Fuzz(func(t *testing.T, body string) { checkFrame(t, h, base, body, types) })
}

// FuzzAgentFrame is FuzzFrame on an agent's console connection (seeds in
// testdata/fuzz/FuzzAgentFrame: the agent actions and visitor actions an
// agent may not use): the same promises, with the answers an agent gets.
func FuzzAgentFrame(f *testing.F) {
	f.Add(`{"action":"presence","state":"away"}`)
	f.Add(`{"action":"typing","conversationId":"v06h2jr6gxdgdf9p4m9gzfqpd84","state":"start"}`)
	f.Add(`{"action":"sendMessage","clientMessageId":"x","text":"as an agent"}`)
	f.Add(`{"action":"ping"}`)
	h := newHarness(f)
	tn := h.tenant(f)
	auth := h.ConnectAgent(f, tn.ID, "keyF", "Fuzz", "consoleF")
	var base events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(f, "ws-default.json", &base)
	base.RequestContext.ConnectionID, base.RequestContext.Authorizer = "consoleF", auth
	types := []string{"error", "pong", "presence"}
	f.Fuzz(func(t *testing.T, body string) { checkFrame(t, h, base, body, types) })
}

// checkFrame sends one frame body on the connection of base and checks the
// promises of FuzzFrame: a 200, at most one answer of the given types, error
// codes of the contract, no text and no error in the logs.
func checkFrame(t *testing.T, h *harness, base events.APIGatewayWebsocketProxyRequest, body string, types []string) {
	codes := []string{"invalid", "too_large", "rate_limited", "unauthorized"}
	conn := base.RequestContext.ConnectionID
	before, logged := len(h.Mgmt.Frames(conn)), len(h.logs.String())
	req := base
	req.Body = body
	res, err := h.Msg.Handle(context.Background(), req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("%q: %d %v", body, res.StatusCode, err)
	}
	answers := h.Mgmt.Frames(conn)[before:]
	if len(answers) > 1 {
		t.Fatalf("%q: %d answers", body, len(answers))
	}
	for _, a := range answers {
		var fr struct {
			Type string `json:"type"`
			Code string `json:"code"`
		}
		if err := json.Unmarshal([]byte(a), &fr); err != nil || !slices.Contains(types, fr.Type) {
			t.Fatalf("%q answered %s", body, a)
		}
		if fr.Type == "error" && !slices.Contains(codes, fr.Code) {
			t.Fatalf("%q answered %s", body, a)
		}
	}
	logs := h.logs.String()[logged:]
	var f struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal([]byte(body), &f) == nil && f.Text != nil && len(strings.TrimSpace(*f.Text)) >= 8 &&
		strings.Contains(logs, *f.Text) {
		t.Fatalf("the log holds the text of %q: %s", body, logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("%q logged an error: %s", body, logs)
	}
}
