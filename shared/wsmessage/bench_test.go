package wsmessage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
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

// BenchmarkAgentFanOut reports what dispatching one visitor message costs
// with n agents' consoles online, each message in a batch of its own (the
// agents' connections are read once per batch, so this is the most a message
// costs): DynamoDB requests and units, and PostToConnection calls. "widget
// only" is dispatch before agents' consoles were live: the visitor's other
// tab is all it serves.
func BenchmarkAgentFanOut(b *testing.B) {
	for _, tc := range []struct {
		name   string
		agents int
		live   bool
	}{{"widget only", 0, false}, {"agents=0", 0, true}, {"agents=1", 1, true}, {"agents=5", 5, true}, {"agents=25", 25, true}} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b)
			if !tc.live {
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				h.Dispatch = dispatch.New(dispatch.Deps{Store: h.st, Tenants: store.NewTenantCache(h.st, store.TenantCacheTTL), Log: log,
					Deliverers: []dispatch.Deliverer{&dispatch.Widget{Store: h.st, Pusher: h.Mgmt.Pusher(), Log: log}}})
			}
			tn := h.tenant(b)
			raise(b, h, tn.ID)
			var consoles []string
			for i := range tc.agents {
				id := fmt.Sprintf("console%d", i)
				h.ConnectAgent(b, tn.ID, fmt.Sprintf("key%d", i), fmt.Sprintf("Agent %d", i), id)
				consoles = append(consoles, id)
			}
			v := ids.New(ids.Contact)
			a := h.Connect(b, tn.ID, v, "connA")
			h.Connect(b, tn.ID, v, "connB")
			h.Frame(b, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"warm","text":"warm up"}`)
			h.Pump(b)
			posts := func() int {
				n := len(h.Mgmt.Frames("connB"))
				for _, c := range consoles {
					n += len(h.Mgmt.Frames(c))
				}
				return n
			}
			var u testaws.Usage
			before := posts()
			b.ResetTimer()
			for i := range b.N {
				h.Frame(b, "ws-send-message.json", a, "connA",
					fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"b%d","text":"Do you ship to Norway?","sentAt":%d}`, i, time.Now().UnixMilli()))
				from := h.meter.Usage()
				if res := h.Pump(b); len(res.BatchItemFailures) > 0 {
					b.Fatalf("failures %v", res.BatchItemFailures)
				}
				u.AddSince(h.meter, from)
			}
			b.StopTimer()
			u.Report(b)
			b.ReportMetric(float64(posts()-before)/float64(b.N), "posts/msg")
			for _, c := range consoles {
				if got := len(h.Mgmt.Frames(c)); got < b.N {
					b.Fatalf("%s got %d frames, want at least %d", c, got, b.N)
				}
			}
		})
	}
}
