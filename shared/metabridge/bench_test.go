package metabridge_test

import (
	"context"
	"testing"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/meta"
)

// BenchmarkInbound measures what the webhook stores for one contact message
// (verify, route, erasure gate, channel user, inbound marker, message) on the
// hot path: a known contact writing into its open conversation. The tenant
// and the route are read each time (a warm instance caches the tenant).
func BenchmarkInbound(b *testing.B) {
	m := testaws.NewMeter()
	h := newMeteredHarness(b, m)
	ten := h.tenant(b)
	h.connect(b, ten, meta.ChannelWhatsApp, "3003", false)
	h.post(b, metafake.WhatsAppPayload("3003", "15550009999", "Ana", "wamid."+mid(), "first"))
	m.Reset()
	for b.Loop() {
		b.StopTimer()
		body := metafake.WhatsAppPayload("3003", "15550009999", "Ana", "wamid."+mid(), "again")
		b.StartTimer()
		h.post(b, body)
	}
	m.Usage().Report(b)
}

// BenchmarkSend measures dispatch's send of an agent reply to WhatsApp: the
// integration, the contact's channel user, the send record, the part and its
// provider ref, and the delivery status.
func BenchmarkSend(b *testing.B) {
	m := testaws.NewMeter()
	h := newMeteredHarness(b, m)
	ten := h.tenant(b)
	h.connect(b, ten, meta.ChannelWhatsApp, "3003", false)
	in := h.inbound(b, ten, meta.ChannelWhatsApp, "3003", "15550008888")
	ctx := context.Background()
	if err := h.bridge.Deliver(ctx, h.reply(b, in, "warm up")); err != nil { // the token is decrypted once per instance
		b.Fatal(err)
	}
	var used testaws.Usage
	for b.Loop() {
		b.StopTimer()
		r := h.reply(b, in, "on its way")
		from := m.Usage()
		b.StartTimer()
		if err := h.bridge.Deliver(ctx, r); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		used.AddSince(m, from)
		b.StartTimer()
	}
	used.Report(b)
}
