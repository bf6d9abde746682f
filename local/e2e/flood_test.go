package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

// raiseLimits lifts a tenant's sendMessage and API key limits to the maximum,
// for tests and benchmarks that measure speed rather than the limiter.
func raiseLimits(tb testing.TB, s *stack.Stack, ten tenant) {
	tb.Helper()
	max := map[string]int{"burst": ratelimit.MaxBurst, "perMinute": ratelimit.MaxPerMinute}
	body := map[string]any{"rateLimits": map[string]any{"sendMessage": max, "apiKey": max}}
	if st := call(tb, s, "PATCH", "/v1/tenant", ten.APIKey, body, nil); st != http.StatusOK {
		tb.Fatalf("raise the tenant's limits: %d", st)
	}
}

// floodResult is what one flood run measured.
type floodResult struct {
	frames, accepted, limited int
	duration                  time.Duration // first frame written to last answer read
	idle, during              []time.Duration
}

func p50(d []time.Duration) time.Duration {
	d = append([]time.Duration(nil), d...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// flood has one connection of tenant A send frames sendMessage frames as fast
// as the socket takes them while a visitor of tenant B chats (each message
// waiting for its ack; B's tenant raised its own limit so it can chat fast),
// and measures B's ack times idle, before the flood, and during it. It checks
// what must hold: each of A's frames got an ack or rate_limited, the accepted
// are at most burst + rate x duration, and A's conversation holds exactly
// the acked messages.
func flood(tb testing.TB, s *stack.Stack, frames int) floodResult {
	tb.Helper()
	a, b := newTenant(tb, s), newTenant(tb, s)
	raiseLimits(tb, s, b)
	va, vb := newVisitor(tb, s, a.WidgetKey), newVisitor(tb, s, b.WidgetKey)
	vb.sendMessage(tb, "warm-up") // opens B's conversation
	// ack sends one of B's messages and times its ack (no tb.Fatal: it also
	// runs on a goroutine of its own).
	ack := func(i int) (time.Duration, error) {
		cmid := fmt.Sprintf("chat-%d-%d", time.Now().UnixNano(), i)
		start := time.Now()
		f := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"how long is delivery? %d"}`, cmid, i)
		if err := vb.conn.Write(context.Background(), websocket.MessageText, []byte(f)); err != nil {
			return 0, err
		}
		got := waitFrame(vb, time.Minute, func(f map[string]any) bool { return f["clientMessageId"] == cmid })
		if got == nil || got["type"] != "ack" {
			return 0, fmt.Errorf("B's message %s answered %v", cmid, got)
		}
		return time.Since(start), nil
	}
	var res floodResult
	res.frames = frames
	for i := range 20 {
		d, err := ack(i)
		if err != nil {
			tb.Fatal(err)
		}
		res.idle = append(res.idle, d)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during []time.Duration
	var chatErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d, err := ack(1000 + i)
			if err != nil {
				chatErr = err
				return
			}
			during = append(during, d)
		}
	})
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	start := time.Now()
	writeErr := make(chan error, 1)
	go func() {
		for i := range frames {
			f := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"flood-%s-%d","text":"flood %d"}`, run, i, i)
			if err := va.conn.Write(context.Background(), websocket.MessageText, []byte(f)); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	acked := map[string]bool{}
	var conv string
	timeout := time.After(5 * time.Minute)
	for res.accepted+res.limited < frames {
		select {
		case f, ok := <-va.frames:
			if !ok {
				tb.Fatal("A's connection closed during the flood")
			}
			cmid, _ := f["clientMessageId"].(string)
			if !strings.HasPrefix(cmid, "flood-"+run+"-") {
				tb.Fatalf("A got an unexpected frame: %v", f)
			}
			switch {
			case f["type"] == "ack":
				res.accepted++
				m := f["message"].(map[string]any)
				acked[m["text"].(string)] = true
				conv, _ = m["conversationId"].(string)
			case f["type"] == "error" && f["code"] == "rate_limited":
				res.limited++
			default:
				tb.Fatalf("flood frame %s answered %v, want an ack or rate_limited", cmid, f)
			}
		case <-timeout:
			tb.Fatalf("after 5 minutes %d of %d flood frames answered", res.accepted+res.limited, frames)
		}
	}
	res.duration = time.Since(start)
	close(stop)
	wg.Wait()
	if err := <-writeErr; err != nil {
		tb.Fatal(err)
	}
	if chatErr != nil {
		tb.Fatal(chatErr)
	}
	res.during = during

	lim := ratelimit.Defaults[ratelimit.SendMessage]
	if bound := lim.Burst + int(math.Ceil(res.duration.Minutes()*float64(lim.PerMinute))); res.accepted > bound || res.accepted == 0 {
		tb.Fatalf("accepted %d of %d in %v; the limit admits at most %d", res.accepted, frames, res.duration, bound)
	}
	// A's conversation holds exactly the acked messages: nothing of a
	// rate-limited frame was stored.
	stored := storedMessages(tb, s, a.APIKey, conv)
	if len(stored) != len(acked) {
		tb.Fatalf("A's conversation holds %d messages, %d were acked", len(stored), len(acked))
	}
	for text := range stored {
		if !acked[text] {
			tb.Fatalf("%q was stored but not acked", text)
		}
	}
	return res
}

func (r floodResult) lines() []string {
	lim := ratelimit.Defaults[ratelimit.SendMessage]
	return []string{
		fmt.Sprintf("one connection of tenant A sent %d sendMessage frames in %v: %d accepted, %d rate_limited (limit burst %d, %d/min), nothing stored of the rejected",
			r.frames, r.duration.Round(time.Millisecond), r.accepted, r.limited, lim.Burst, lim.PerMinute),
		fmt.Sprintf("tenant B's visitor, ack p50: idle %.1f ms (%d messages), during the flood %.1f ms (%d messages)",
			float64(p50(r.idle))/1e6, len(r.idle), float64(p50(r.during))/1e6, len(r.during)),
	}
}

// TestFlood_OneConnectionIsLimitedAndOthersKeepChatting floods 600 frames
// from one connection while another tenant's visitor chats, asserts the
// limit, and reports the figures (artifacts/bench-flood.txt).
func TestFlood_OneConnectionIsLimitedAndOthersKeepChatting(t *testing.T) {
	s := localStack(t)
	r := flood(t, s, 600)
	if len(r.during) == 0 {
		t.Fatal("tenant B sent nothing during the flood")
	}
	writeFigures(t, "flood.txt", r.lines())
}

// BenchmarkFlood runs the flood b.N times and reports the accepted frames and
// tenant B's ack p50 idle and during the flood.
func BenchmarkFlood(b *testing.B) {
	s := localStack(b)
	var idle, during []time.Duration
	accepted := 0
	var last floodResult
	for range b.N {
		last = flood(b, s, 600)
		idle, during = append(idle, last.idle...), append(during, last.during...)
		accepted += last.accepted
	}
	b.ReportMetric(float64(accepted)/float64(b.N), "accepted/600")
	b.ReportMetric(float64(p50(idle))/1e6, "idle-ack-p50-ms")
	b.ReportMetric(float64(p50(during))/1e6, "flood-ack-p50-ms")
	writeFigures(b, "flood.txt", last.lines())
}
