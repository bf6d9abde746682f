package zendeskbridge_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/zendeskfake"
)

// FuzzSignedWebhook posts arbitrary bodies, correctly signed with the
// tenant's secret, to its Zendesk webhook (moto, the fake; seeds below and in
// testdata/fuzz/FuzzSignedWebhook): the handler never panics and answers 200
// or 400, never 401 or 500; the same body with one byte changed under the
// old signature is 401.
func FuzzSignedWebhook(f *testing.F) {
	h := newHarness(f)
	ten := h.tenant(f)
	a := h.connect(f, ten)
	cv, _ := h.visitor(f, ten, "hello")
	hf, _, err := h.bridge.Handoff(context.Background(), ten, cv, "Eve")
	if err != nil {
		f.Fatal(err)
	}
	bob := h.zd.AddAgent("bob@acme.example", "bob-token-0123456789abcdef", "Bob")
	f.Add(h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, "It ships today.", true)), 3, byte(1))
	f.Add(h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, "note", false)), 9, byte(4))
	f.Add([]byte(`{"type":"zen:event-type:ticket.status_changed","detail":{"id":"1"}}`), 1, byte(2))
	f.Add([]byte(`{"type":"zen:event-type:ticket.comment_added","detail":{"id":"99999"},"event":{"comment":{"id":1,"body":"x","is_public":true,"author":{"id":2,"is_staff":true}}}}`), 0, byte(8))
	f.Add([]byte(`[]`), 0, byte(0))
	f.Fuzz(func(t *testing.T, body []byte, at int, flip byte) {
		headers := zendeskfake.SignedHeaders(a.secret, body, time.Now(), "inv-fuzz")
		res := h.do(t, request(a.in.WebhookID, body, headers))
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
			t.Fatalf("signed %q answered %d %s", body, res.StatusCode, res.Body)
		}
		if len(body) == 0 || flip == 0 {
			return
		}
		changed := append([]byte(nil), body...)
		changed[uint(at)%uint(len(changed))] ^= flip
		if res := h.do(t, request(a.in.WebhookID, changed, headers)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a changed body answered %d, want 401", res.StatusCode)
		}
	})
}
