package metabridge_test

import (
	"context"
	"testing"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/meta"
)

// report adds the DynamoDB requests and units per operation to a benchmark.
func report(b *testing.B, requests int, read, write float64) {
	b.ReportMetric(float64(requests)/float64(b.N), "ddb-requests/op")
	b.ReportMetric(read/float64(b.N), "read-units/op")
	b.ReportMetric(write/float64(b.N), "write-units/op")
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

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
	calls, read, write := m.Snapshot()
	b.Logf("calls %v by partition %v", calls, m.ByPartition())
	report(b, total(calls), read, write)
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
	var requests int
	var read, write float64
	for b.Loop() {
		b.StopTimer()
		r := h.reply(b, in, "on its way")
		c0, r0, w0 := m.Snapshot()
		b.StartTimer()
		if err := h.bridge.Deliver(ctx, r); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c1, r1, w1 := m.Snapshot()
		requests += total(c1) - total(c0)
		read, write = read+r1-r0, write+w1-w0
		b.StartTimer()
	}
	report(b, requests, read, write)
}
