package zendeskbridge_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/zendeskfake"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// BenchmarkDeskReply measures what the webhook stores for one public
// comment of a Zendesk agent on a handed-off ticket: route, integration
// (credentials decrypted once per warm instance), handoff, conversation,
// invocation marker, the message and the conversation's activity.
func BenchmarkDeskReply(b *testing.B) {
	m := testaws.NewMeter()
	h := newMeteredHarness(b, m)
	ten := h.tenant(b)
	a := h.connect(b, ten)
	cv, _ := h.visitor(b, ten, "hello")
	hf, _, err := h.bridge.Handoff(context.Background(), ten, cv, "Eve")
	if err != nil {
		b.Fatal(err)
	}
	bob := h.zd.AddAgent("bob@acme.example", ids.Secret(30), "Bob")
	post := func(n int) {
		ev := h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, fmt.Sprint("answer ", n), true))
		if res := h.do(b, request(a.in.WebhookID, ev, zendeskfake.SignedHeaders(a.secret, ev, time.Now(), fmt.Sprint("inv-", n)))); res.StatusCode != http.StatusOK {
			b.Fatalf("delivery: %d", res.StatusCode)
		}
	}
	post(0)
	var used testaws.Usage
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		ev := h.zd.CommentEvent(hf.TicketID, h.zd.AgentComment(hf.TicketID, bob, fmt.Sprint("answer ", n), true))
		req := request(a.in.WebhookID, ev, zendeskfake.SignedHeaders(a.secret, ev, time.Now(), fmt.Sprint("inv-", n)))
		from := m.Usage()
		b.StartTimer()
		if res := h.do(b, req); res.StatusCode != http.StatusOK {
			b.Fatalf("delivery: %d", res.StatusCode)
		}
		b.StopTimer()
		used.AddSince(m, from)
		b.StartTimer()
	}
	used.Report(b)
}

// BenchmarkContactMessage measures dispatch's Zendesk destination for a
// contact's message: of a tenant without Zendesk (the minute-long memory of
// that: nothing), and of a handed-off conversation (the handoff, the send
// record, the comment's part).
func BenchmarkContactMessage(b *testing.B) {
	for _, handedOff := range []bool{false, true} {
		name := "tenant-without-zendesk"
		if handedOff {
			name = "handed-off"
		}
		b.Run(name, func(b *testing.B) {
			m := testaws.NewMeter()
			h := newMeteredHarness(b, m)
			ctx := context.Background()
			ten := h.tenant(b)
			if handedOff {
				h.connect(b, ten)
			}
			cv, _ := h.visitor(b, ten, "hello")
			if handedOff {
				if _, _, err := h.bridge.Handoff(ctx, ten, cv, "Eve"); err != nil {
					b.Fatal(err)
				}
			}
			msg := func(n int) *chat.Message {
				x, _, err := h.st.PutMessage(ctx, &chat.Message{TenantID: ten.ID, ConversationID: cv.ID, ContactID: cv.ContactID,
					Channel: cv.Channel, Author: chat.Author{Kind: chat.AuthorVisitor}, Text: fmt.Sprint("more ", n)}, retention.Defaults)
				if err != nil {
					b.Fatal(err)
				}
				return x
			}
			if err := h.bridge.Deliver(ctx, msg(0)); err != nil {
				b.Fatal(err)
			}
			var used testaws.Usage
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				x := msg(n)
				from := m.Usage()
				b.StartTimer()
				if err := h.bridge.Deliver(ctx, x); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				used.AddSince(m, from)
				b.StartTimer()
			}
			used.Report(b)
		})
	}
}
