package botbridge_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
)

// BenchmarkBotAnswer measures dispatch's bot destination for a visitor's
// message: its time is the latency the bot adds to the message with the
// fake Google (claim, state, detectIntent, the answer stored, the claim
// marked), its units what it costs; and for a tenant without a bot (the
// minute-long memory of that: nothing); and the first answer of a cold
// instance, which also decrypts the refresh token (KMS) and gets an access
// token from Google.
func BenchmarkBotAnswer(b *testing.B) {
	for _, c := range []struct {
		name          string
		withBot, cold bool
	}{{"answered", true, false}, {"answered-by-a-cold-instance", true, true}, {"tenant-without-bot", false, false}} {
		name, withBot := c.name, c.withBot
		b.Run(name, func(b *testing.B) {
			m := testaws.NewMeter()
			h := newMeteredHarness(b, m)
			ctx := context.Background()
			ten := h.tenant(b)
			if withBot {
				h.install(b, ten, "cx")
			}
			v := h.visitor(b, ten)
			first := v.say(b, "hello")
			msg := func(n int) *chat.Message {
				x, _, err := h.st.PutMessage(ctx, &chat.Message{TenantID: ten.ID, ConversationID: first.ConversationID, ContactID: first.ContactID,
					Channel: "widget", Author: chat.Author{Kind: chat.AuthorVisitor}, Text: fmt.Sprint("question ", n)}, ten.Periods())
				if err != nil {
					b.Fatal(err)
				}
				return x
			}
			var used testaws.Usage
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				x := msg(n)
				from := m.Usage()
				bot := h.bridge
				if c.cold { // a new instance: the refresh token decrypted, an access token got
					bot = botbridge.New(h.bridge.Deps)
				}
				b.StartTimer()
				if err := bot.Deliver(ctx, x); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				used.AddSince(m, from)
				b.StartTimer()
			}
			used.Report(b)
			if withBot && h.gf.CallsFor(first.ConversationID) != n+1 {
				b.Fatalf("%d calls for %d questions", h.gf.CallsFor(first.ConversationID), n+1)
			}
		})
	}
}
