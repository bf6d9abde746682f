package wsmessage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

// BenchmarkSendMessage reports the DynamoDB requests and units of one
// sendMessage in an open conversation (the first message, which opens the
// conversation, is not counted), and of dispatching it to one other connection.
func BenchmarkSendMessage(b *testing.B) {
	h := newHarness(b)
	tn := h.tenant(b)
	// The limit is raised out of the way; its counter (1 WCU) is in the figures.
	raise(b, h, tn.ID)
	v := ids.New(ids.Contact)
	a := h.Connect(b, tn.ID, v, "connA")
	h.Connect(b, tn.ID, v, "connB")
	h.Frame(b, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"warm","text":"warm up"}`)
	h.Pump(b)
	h.meter.Reset()
	b.ResetTimer()
	for i := range b.N {
		// As the reference widget sends it: with sentAt.
		h.Frame(b, "ws-send-message.json", a, "connA",
			fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"b%d","text":"How do I change my delivery address?","sentAt":%d}`, i, time.Now().UnixMilli()))
	}
	b.StopTimer()
	calls, read, write := h.meter.Snapshot()
	n := float64(b.N)
	b.ReportMetric(read/n, "RCU/send")
	b.ReportMetric(write/n, "WCU/send")
	b.ReportMetric(float64(sum(calls))/n, "requests/send")
	h.meter.Reset()
	h.Pump(b)
	calls, read, write = h.meter.Snapshot()
	b.ReportMetric(read/n, "RCU/deliver")
	b.ReportMetric(write/n, "WCU/deliver")
	b.ReportMetric(float64(sum(calls))/n, "requests/deliver")
	if got := len(h.Mgmt.Frames("connB")); got != b.N+1 {
		b.Fatalf("connB got %d frames, want %d", got, b.N+1)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// raise lifts the tenant's sendMessage limit to the maximum.
func raise(b *testing.B, h *harness, tenantID string) {
	b.Helper()
	max := chat.RateLimit{Burst: ratelimit.MaxBurst, PerMinute: ratelimit.MaxPerMinute}
	if _, err := h.st.UpdateTenantSettings(context.Background(), tenantID, chat.TenantSettings{
		RateLimits: &chat.RateLimits{SendMessage: max}}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRateLimitedFrame reports what a sendMessage frame over the limit
// costs: nothing stored; the first refusal of a window one conditional
// UpdateItem, later ones in the same window nothing (the instance remembers
// the window is full). A window of the default limit lasts 20 s, so nearly
// every frame measured is a remembered one.
func BenchmarkRateLimitedFrame(b *testing.B) {
	h := newHarness(b)
	tn := h.tenant(b)
	v := ids.New(ids.Contact)
	a := h.Connect(b, tn.ID, v, "flood")
	for i := range ratelimit.Defaults[ratelimit.SendMessage].Burst {
		h.Frame(b, "ws-send-message.json", a, "flood", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"w%d","text":"use up the burst"}`, i))
	}
	h.meter.Reset()
	b.ResetTimer()
	for i := range b.N {
		h.Frame(b, "ws-send-message.json", a, "flood", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"x%d","text":"spam"}`, i))
	}
	b.StopTimer()
	calls, read, write := h.meter.Snapshot()
	n := float64(b.N)
	b.ReportMetric(read/n, "RCU/rejected")
	b.ReportMetric(write/n, "WCU/rejected")
	b.ReportMetric(float64(sum(calls))/n, "requests/rejected")
	limited := 0
	for _, f := range h.Frames(b, "flood") {
		if f["code"] == "rate_limited" {
			limited++
		}
	}
	if limited < b.N {
		b.Fatalf("%d of %d frames over the limit were rate_limited", limited, b.N)
	}
}

// BenchmarkChatPace reports the amortised DynamoDB cost of a visitor message
// at a real chat pace: one message every 30 to 60 s in the conversation (the
// clock moves 30, 40, 50, 60 s in turn; the handlers keep tenants as long as
// production's), sent and delivered to the visitor's other connection. It
// reports units per message in all and by operation.
func BenchmarkChatPace(b *testing.B) {
	// The reference widget sends sentAt (one write keys the message); a
	// client without it gets a dedupe marker.
	for _, sentAt := range []bool{true, false} {
		b.Run(map[bool]string{true: "sentAt", false: "marker"}[sentAt], func(b *testing.B) { chatPace(b, sentAt) })
	}
}

func chatPace(b *testing.B, sentAt bool) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarnessAt(b, clock)
	tn := h.tenant(b)
	v := ids.New(ids.Contact)
	a := h.Connect(b, tn.ID, v, "connA")
	h.Connect(b, tn.ID, v, "connB")
	h.Frame(b, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"open","text":"Hello"}`)
	h.Pump(b)
	h.meter.Reset()
	b.ResetTimer()
	for i := range b.N {
		mu.Lock()
		now = now.Add(time.Duration(30+10*(i%4)) * time.Second)
		mu.Unlock()
		extra := ""
		if sentAt {
			extra = fmt.Sprintf(`,"sentAt":%d`, clock().UnixMilli())
		}
		h.Frame(b, "ws-send-message.json", a, "connA",
			fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"c%d","text":"Is the blue one in stock in size 42?"%s}`, i, extra))
		h.Pump(b)
	}
	b.StopTimer()
	_, read, write := h.meter.Snapshot()
	n := float64(b.N)
	b.ReportMetric(read/n, "RCU/msg")
	b.ReportMetric(write/n, "WCU/msg")
	for op, u := range h.meter.ByOperation() {
		if u.Read > 0 {
			b.ReportMetric(u.Read/n, "RCU-"+op+"/msg")
		}
		if u.Write > 0 {
			b.ReportMetric(u.Write/n, "WCU-"+op+"/msg")
		}
	}
	if got := len(h.Mgmt.Frames("connB")); got != b.N+1 {
		b.Fatalf("connB got %d frames, want %d", got, b.N+1)
	}
}
