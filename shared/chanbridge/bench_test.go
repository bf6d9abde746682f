package chanbridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wechatfake"
)

// BenchmarkInbound measures what each channel's webhook stores for one
// message of a known contact with an open conversation (route, integration,
// erasure gate, channel user, inbound marker, message); the credentials are
// decrypted once per warm instance and the tenant kept a minute.
func BenchmarkInbound(b *testing.B) {
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			m := testaws.NewMeter()
			h := newMeteredHarness(b, m)
			ten := h.tenant(b)
			c, in := h.connect(b, ten, d)
			h.post(b, d, c, in, d.text(in, 1, d.user(1), "first"))
			m.Reset()
			n := 1
			for b.Loop() {
				b.StopTimer()
				n++
				body := d.text(in, n, d.user(1), "again")
				b.StartTimer()
				h.post(b, d, c, in, body)
			}
			m.Usage().Report(b)
		})
	}
}

// BenchmarkSend measures dispatch's send of an agent reply: integration,
// channel user, send record, the part and its provider ref, the status (and
// for WeChat the quota's count: the contact writes before each reply).
func BenchmarkSend(b *testing.B) {
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			m := testaws.NewMeter()
			h := newMeteredHarness(b, m)
			ten := h.tenant(b)
			c, in := h.connect(b, ten, d)
			h.post(b, d, c, in, d.text(in, 1, d.user(1), "hello"))
			first := h.messages(b, ten.ID)[0]
			ctx := context.Background()
			if err := h.bridge.Deliver(ctx, h.reply(b, first, "warm up")); err != nil {
				b.Fatal(err)
			}
			var used testaws.Usage
			n := 1
			for b.Loop() {
				b.StopTimer()
				if d.name == "wechat" { // 5 sends per contact message: the contact writes again (a later second)
					n++
					h.post(b, d, c, in, wechatfake.TextMessage(wechatAccount, d.user(1), 24000000000000000+int64(n), "again", time.Now().Add(time.Duration(n)*time.Second)))
				}
				r := h.reply(b, first, "on its way")
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
		})
	}
}
