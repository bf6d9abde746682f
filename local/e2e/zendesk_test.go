package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/zendeskfake"
)

// TestZendesk_HandoffLoopThroughTheRealBinaries: the owner connects
// Zendesk (admin-api checks the agent's token with the fake); a visitor
// chats in the widget; an agent hands the conversation off (one ticket with
// the transcript, however often asked); a Zendesk agent's public reply,
// posted by the fake as Zendesk posts its webhook (signed), reaches the
// visitor's WebSocket (webhook-channels, dispatch); the visitor's answer is
// added to the ticket, once; an unsigned post is refused.
func TestZendesk_HandoffLoopThroughTheRealBinaries(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	secret := "e2e-zendesk-signing-secret-0123456789"
	var in struct{ WebhookURL string }
	if st := call(t, s, "PUT", "/v1/integrations/zendesk", ten.APIKey, map[string]any{"subdomain": "acme-e2e",
		"email": "api@acme.example", "apiToken": strings.Repeat("z", 40), "webhookSecret": secret}, &in); st != http.StatusOK ||
		!strings.HasPrefix(in.WebhookURL, s.APIURL+"/webhooks/zendesk/") {
		t.Fatalf("connect: %d %+v", st, in)
	}
	s.Zendesk.Webhook(in.WebhookURL, secret)
	v := newVisitor(t, s, ten.WidgetKey)
	v.send(t, map[string]any{"action": "identify", "name": "Ada", "email": "ada@example.com"})
	v.next(t, "identified", typeIs("identified"))
	conv, _ := v.sendMessage(t, "My parcel is lost.")["conversationId"].(string)
	var h1, h2 struct{ TicketID string }
	if st := call(t, s, "POST", "/v1/conversations/"+conv+"/handoff", ten.APIKey, map[string]any{"to": "zendesk", "agentName": "Eve"}, &h1); st != http.StatusCreated {
		t.Fatalf("handoff: %d", st)
	}
	if st := call(t, s, "POST", "/v1/conversations/"+conv+"/handoff", ten.APIKey, map[string]any{"to": "zendesk"}, &h2); st != http.StatusOK || h2.TicketID != h1.TicketID {
		t.Fatalf("second handoff: %d %+v, want the first ticket %s", st, h2, h1.TicketID)
	}
	tk, ok := s.Zendesk.Ticket(h1.TicketID)
	if !ok || len(s.Zendesk.Tickets()) != 1 || !strings.Contains(tk.Comments[0].Body, "My parcel is lost.") {
		t.Fatalf("ticket %+v", tk)
	}
	body := []byte(`{"type":"zen:event-type:ticket.comment_added"}`)
	req, _ := http.NewRequest(http.MethodPost, in.WebhookURL, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned post: %d", res.StatusCode)
	}
	bob := s.Zendesk.AddAgent("bob@acme.example", strings.Repeat("b", 40), "Bob")
	s.Zendesk.AgentComment(h1.TicketID, bob, "We are sending a new one today.", true)
	f := v.next(t, "Bob's reply", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return f["type"] == "message" && m["text"] == "We are sending a new one today."
	})
	if a, _ := f["message"].(map[string]any)["author"].(map[string]any); a["kind"] != "agent" || a["name"] != "Bob" {
		t.Errorf("author %v", a)
	}
	v.sendMessage(t, "Thank you!")
	deadline := time.Now().Add(20 * time.Second)
	var added []zendeskfake.Comment
	for time.Now().Before(deadline) {
		tk, _ = s.Zendesk.Ticket(h1.TicketID)
		added = added[:0]
		for _, c := range tk.Comments {
			if c.Body == "Thank you!" {
				added = append(added, c)
			}
		}
		if len(added) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second comment would show by now
	tk, _ = s.Zendesk.Ticket(h1.TicketID)
	n := 0
	for _, c := range tk.Comments {
		if c.Body == "Thank you!" {
			n++
			if c.AuthorID != tk.RequesterID {
				t.Errorf("the visitor's comment is by %s, not the requester %s", c.AuthorID, tk.RequesterID)
			}
		}
	}
	if n != 1 {
		t.Fatalf("the visitor's answer is on the ticket %d times, want 1", n)
	}
	if msgs := storedMessages(t, s, ten.APIKey, conv); len(msgs["We are sending a new one today."]) != 1 {
		t.Errorf("messages %v: want Bob's reply once", msgs)
	}
}
