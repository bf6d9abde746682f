package wsmessage_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

// The default sendMessage limit (docs/CONTRACT.md, "Rate limits").
var (
	sendBurst     = ratelimit.Defaults[ratelimit.SendMessage].Burst
	sendPerMinute = ratelimit.Defaults[ratelimit.SendMessage].PerMinute
)

// flood sends n sendMessage frames on the connections in turn and sorts the
// answers: the acked and the rate-limited client message ids. Every frame must
// get exactly one of the two.
func flood(t *testing.T, h *harness, auth map[string]any, conns []string, prefix string, n int) (acked, limited map[string]bool, elapsed time.Duration) {
	t.Helper()
	start := time.Now()
	sent := map[string]string{}
	for i := range n {
		c := conns[i%len(conns)]
		cmid := fmt.Sprintf("%s-%d", prefix, i)
		sent[cmid] = c
		h.Frame(t, "ws-send-message.json", auth, c, fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"spam %d"}`, cmid, i))
	}
	elapsed = time.Since(start)
	acked, limited = map[string]bool{}, map[string]bool{}
	for _, c := range conns {
		for _, f := range h.Frames(t, c) {
			cmid, _ := f["clientMessageId"].(string)
			if sent[cmid] != c {
				continue
			}
			switch {
			case f["type"] == "ack":
				acked[cmid] = true
			case f["type"] == "error" && f["code"] == "rate_limited":
				limited[cmid] = true
			default:
				t.Fatalf("frame %s got %v, want an ack or rate_limited", cmid, f)
			}
		}
	}
	if len(acked)+len(limited) != n {
		t.Fatalf("%d acks and %d rate_limited errors for %d frames", len(acked), len(limited), n)
	}
	return acked, limited, elapsed
}

// maxAccepted is the most frames a limit of burst and perMinute admits in d.
func maxAccepted(burst, perMinute int, d time.Duration) int {
	return burst + int(math.Ceil(float64(perMinute)*d.Minutes()))
}

// checkStored checks that exactly the acked frames were stored.
func checkStored(t *testing.T, h *harness, tenantID, visitorID string, acked, limited map[string]bool) {
	t.Helper()
	msgs := h.history(t, tenantID, visitorID)
	if len(msgs) != len(acked) {
		t.Fatalf("stored %d messages, want the %d acked", len(msgs), len(acked))
	}
	for _, m := range msgs {
		if limited[m.ClientMessageID] || !acked[m.ClientMessageID] {
			t.Fatalf("stored %q, which was not acked", m.ClientMessageID)
		}
	}
}

func TestFlood_OneConnectionIsRateLimited(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "flood")
	acked, limited, d := flood(t, h, a, []string{"flood"}, "f", 60)
	if len(limited) == 0 || len(acked) == 0 || len(acked) > maxAccepted(sendBurst, sendPerMinute, d) {
		t.Fatalf("accepted %d, limited %d of 60 frames in %v; want at most %d accepted", len(acked), len(limited), d, maxAccepted(sendBurst, sendPerMinute, d))
	}
	checkStored(t, h, tn.ID, v, acked, limited)
	t.Logf("one connection: %d of 60 accepted in %v", len(acked), d.Round(time.Millisecond))
}

func TestFlood_AVisitorsConnectionsShareOneBudget(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "tab1")
	h.Connect(t, tn.ID, v, "tab2")
	h.Connect(t, tn.ID, v, "tab3")
	acked, limited, d := flood(t, h, a, []string{"tab1", "tab2", "tab3"}, "g", 60)
	if len(limited) == 0 || len(acked) > maxAccepted(sendBurst, sendPerMinute, d) {
		t.Fatalf("three tabs: accepted %d, limited %d; want at most %d accepted", len(acked), len(limited), maxAccepted(sendBurst, sendPerMinute, d))
	}
	checkStored(t, h, tn.ID, v, acked, limited)
	// Another visitor of the same tenant is not held back.
	w := ids.New(ids.Contact)
	b := h.Connect(t, tn.ID, w, "other")
	h.Frame(t, "ws-send-message.json", b, "other", `{"action":"sendMessage","clientMessageId":"o1","text":"hello"}`)
	if got := h.Frames(t, "other"); len(got) != 1 || got[0]["type"] != "ack" {
		t.Fatalf("another visitor got %v, want an ack", got)
	}
}

func TestFlood_TypingHasItsOwnBudgetAndPingIsFree(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c")
	for range 80 {
		h.Frame(t, "ws-typing.json", a, "c", `{"action":"typing","state":"start"}`)
	}
	limited := 0
	for _, f := range h.Frames(t, "c") {
		if f["type"] == "error" && f["code"] == "rate_limited" {
			limited++
		}
	}
	if limited == 0 {
		t.Fatalf("80 typing frames: none limited")
	}
	for range 40 {
		h.Frame(t, "ws-ping.json", a, "c", "")
	}
	h.Frame(t, "ws-send-message.json", a, "c", `{"action":"sendMessage","clientMessageId":"after","text":"still here"}`)
	got := h.Frames(t, "c")[limited:]
	pongs := 0
	for _, f := range got[:len(got)-1] {
		if f["type"] == "pong" {
			pongs++
		}
	}
	if pongs != 40 || got[len(got)-1]["type"] != "ack" {
		t.Fatalf("after a typing flood: %d pongs of 40, last %v; want every pong and the message acked", pongs, got[len(got)-1])
	}
}

func TestFlood_TenantSettingRaisesTheLimit(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	raised := chat.RateLimit{Burst: 200, PerMinute: 600}
	if _, err := h.st.UpdateTenantSettings(context.Background(), tn.ID, chat.TenantSettings{
		RateLimits: &chat.RateLimits{SendMessage: raised}}); err != nil {
		t.Fatal(err)
	}
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "busy")
	acked, limited, _ := flood(t, h, a, []string{"busy"}, "r", 60)
	if len(acked) != 60 || len(limited) != 0 {
		t.Fatalf("raised limit: %d acked, %d limited of 60, want all acked", len(acked), len(limited))
	}
}

// TestFlood_EveryCountedActionIsLimited: typing, history, identify and
// pageView frames have budgets too; over them a frame is answered
// rate_limited and does nothing.
func TestFlood_EveryCountedActionIsLimited(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	for _, c := range []struct{ action, event, body string }{
		{ratelimit.History, "ws-history.json", ""},
		{ratelimit.Identify, "ws-identify.json", ""},
		{ratelimit.PageView, "ws-page-view.json", ""},
	} {
		t.Run(c.action, func(t *testing.T) {
			v := ids.New(ids.Contact)
			conn := "c-" + c.action
			a := h.Connect(t, tn.ID, v, conn)
			lim := ratelimit.Defaults[c.action]
			start := time.Now()
			n := lim.Burst + 10
			for range n {
				h.Frame(t, c.event, a, conn, c.body)
			}
			limited := 0
			for _, f := range h.Frames(t, conn) {
				if f["type"] == "error" && f["code"] == "rate_limited" {
					limited++
				}
			}
			if max := maxAccepted(lim.Burst, lim.PerMinute, time.Since(start)); n-limited > max || limited == 0 {
				t.Fatalf("%d %s frames: %d limited, want at most %d accepted", n, c.action, limited, max)
			}
		})
	}
}
