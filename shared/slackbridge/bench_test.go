package slackbridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
)

// BenchmarkHandleEvents_ThreadReply measures what the events endpoint does for
// an agent's thread reply (verify, route, dedupe, store) before it answers Slack.
func BenchmarkHandleEvents_ThreadReply(b *testing.B) {
	m := testaws.NewMeter()
	h := newMeteredHarness(b, m)
	ten := h.tenant(b)
	h.install(b, ten.ID)
	msg := h.storeVisitorMessage(b, ten.ID, ids.New(ids.Contact), "hello")
	if err := h.bridge.Deliver(context.Background(), msg); err != nil {
		b.Fatal(err)
	}
	th, err := h.st.SlackThread(context.Background(), ten.ID, msg.ConversationID)
	if err != nil {
		b.Fatal(err)
	}
	m.Reset()
	i := 0
	for b.Loop() {
		i++
		body := replyEvent(fmt.Sprintf("EvB%08d", i), h.slack.TeamID, h.slack.ChannelID, th.ThreadTS,
			fmt.Sprintf("1795860000.%06d", i), "UAGENT01", "reply", nil)
		if res := h.post(b, signedEvent(b, body, time.Now(), nil)); res.StatusCode != 200 {
			b.Fatalf("events: %d %s", res.StatusCode, res.Body)
		}
	}
	m.Usage().Report(b)
}

// BenchmarkDeliver_ThreadMessage measures the dispatch side of a later visitor
// message: one chat.postMessage into the known thread and its post record.
func BenchmarkDeliver_ThreadMessage(b *testing.B) {
	m := testaws.NewMeter()
	h := newMeteredHarness(b, m)
	ten := h.tenant(b)
	h.install(b, ten.ID)
	vid := ids.New(ids.Contact)
	ctx := context.Background()
	if err := h.bridge.Deliver(ctx, h.storeVisitorMessage(b, ten.ID, vid, "first")); err != nil {
		b.Fatal(err)
	}
	var used testaws.Usage
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		msg := h.storeVisitorMessage(b, ten.ID, vid, "again")
		from := m.Usage()
		b.StartTimer()
		if err := h.bridge.Deliver(ctx, msg); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		used.AddSince(m, from)
		b.StartTimer()
	}
	used.Report(b)
}
