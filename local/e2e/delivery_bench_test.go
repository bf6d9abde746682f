package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/stack"
)

// BenchmarkDeliveryUnderLoad reproduces issue 13's measurement: N visitors,
// each with two connections, send over the first as fast as acks return for a
// fixed time (DELIVERY_BENCH_SECONDS, default 20 s), and the messages are
// delivered through the stream, dispatch and @connections to the second. It
// reports the acked and delivered rates over the sending window, delivery
// latency p50/p99 (send to frame on the other connection, and ack to frame)
// and the final lag (last ack to last delivery). Run with -benchtime=1x.
func BenchmarkDeliveryUnderLoad(b *testing.B) {
	window := 20 * time.Second
	if s := os.Getenv("DELIVERY_BENCH_SECONDS"); s != "" {
		if n, err := time.ParseDuration(s + "s"); err == nil {
			window = n
		}
	}
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("visitors=%d", n), func(b *testing.B) {
			for range b.N {
				deliveryUnderLoad(b, n, window)
			}
		})
	}
}

func deliveryUnderLoad(b *testing.B, n int, window time.Duration) {
	s := localStack(b)
	ten := newTenant(b, s)
	raiseLimits(b, s, ten)
	senders := make([]*visitor, n)
	others := make([]*visitor, n)
	for i := range senders {
		senders[i] = patientVisitor(b, s, ten.WidgetKey)
		// The visitor's other connection (another tab): same token.
		others[i] = &visitor{Token: senders[i].Token, ID: senders[i].ID, WSURL: senders[i].WSURL}
		others[i].dial(b)
	}
	// Open each conversation before the clock starts (a transaction; see
	// BenchmarkThroughput50), a few at a time.
	var open sync.WaitGroup
	sem := make(chan struct{}, 4)
	failed := make(chan int, n)
	for i, v := range senders {
		open.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmid := fmt.Sprintf("open-%d-%d", time.Now().UnixNano(), i)
			v.conn.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"open %d"}`, cmid, i)))
			if f := waitFrame(v, 5*time.Minute, func(f map[string]any) bool { return f["clientMessageId"] == cmid }); f == nil || f["type"] != "ack" {
				failed <- i
			}
		})
	}
	open.Wait()
	close(failed)
	for i := range failed {
		b.Fatalf("visitor %d could not open a conversation", i)
	}
	// Let the openings' deliveries drain.
	for _, o := range others {
		waitFrame(o, 2*time.Minute, func(f map[string]any) bool { return f["type"] == "message" })
	}

	type sent struct{ at, acked time.Time }
	var mu sync.Mutex
	sends := map[string]sent{}          // text -> times
	delivered := map[string]time.Time{} // text -> delivery time
	run := time.Now().UnixNano()
	b.ResetTimer()
	start := time.Now()
	stop := start.Add(window)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i, v := range senders {
		wg.Go(func() {
			for j := 0; time.Now().Before(stop); j++ {
				cmid := fmt.Sprintf("dl-%d-%d-%d", run, i, j)
				text := fmt.Sprintf("load %d %d/%d", run, i, j)
				at := time.Now()
				frame := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":%q}`, cmid, text)
				if err := v.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
					errs <- fmt.Errorf("visitor %d: %w", i, err)
					return
				}
				f := waitFrame(v, 2*time.Minute, func(f map[string]any) bool {
					return (f["type"] == "ack" || f["type"] == "error") && f["clientMessageId"] == cmid
				})
				if f == nil || f["type"] != "ack" {
					errs <- fmt.Errorf("visitor %d message %d: %v", i, j, f)
					return
				}
				mu.Lock()
				sends[text] = sent{at, time.Now()}
				mu.Unlock()
			}
		})
	}
	// The other connections: every message frame of this run.
	readers := make(chan struct{})
	var rd sync.WaitGroup
	for _, o := range others {
		rd.Go(func() {
			for {
				select {
				case <-readers:
					return
				case f, ok := <-o.frames:
					if !ok {
						return
					}
					if f["type"] != "message" {
						continue
					}
					text, _ := f["message"].(map[string]any)["text"].(string)
					mu.Lock()
					if _, dup := delivered[text]; !dup {
						delivered[text] = time.Now()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	// Wait for the backlog to drain (at most 5 minutes).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		mu.Lock()
		done := true
		for text := range sends {
			if _, ok := delivered[text]; !ok {
				done = false
				break
			}
		}
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(readers)
	rd.Wait()
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	var lat, afterAck []time.Duration
	var lastAck, lastDelivery time.Time
	inWindow, missing := 0, 0
	for text, s := range sends {
		if s.acked.After(lastAck) {
			lastAck = s.acked
		}
		d, ok := delivered[text]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, d.Sub(s.at))
		afterAck = append(afterAck, max(0, d.Sub(s.acked)))
		if d.After(lastDelivery) {
			lastDelivery = d
		}
		if !d.After(stop) {
			inWindow++
		}
	}
	if len(lat) == 0 {
		b.Fatal("nothing delivered")
	}
	q := func(p float64) float64 { return float64(pct(lat, p)) / 1e6 }
	qa := func(p float64) float64 { return float64(pct(afterAck, p)) / 1e6 }
	sendWindow := lastAck.Sub(start)
	ackRate := float64(len(sends)) / sendWindow.Seconds()
	deliveredRate := float64(inWindow) / window.Seconds()
	lag := lastDelivery.Sub(lastAck)
	b.ReportMetric(ackRate, "acked-msgs/s")
	b.ReportMetric(deliveredRate, "delivered-msgs/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(qa(0.5), "after-ack-p50-ms")
	b.ReportMetric(qa(0.99), "after-ack-p99-ms")
	b.ReportMetric(float64(lag)/1e6, "lag-ms")
	writeFigures(b, fmt.Sprintf("delivery-%d.txt", n), []string{fmt.Sprintf(
		"%d visitors x 2 connections, %v of sending: %d acked (%.1f msgs/s), %.1f delivered/s within the window, delivery p50 %.0f ms p99 %.0f ms (after the ack: p50 %.0f ms p99 %.0f ms), final lag %v, undelivered %d",
		n, window, len(sends), ackRate, deliveredRate, q(0.5), q(0.99), qa(0.5), qa(0.99), lag.Round(time.Millisecond), missing)})
	if missing > 0 {
		b.Errorf("%d acked messages never reached the visitor's other connection", missing)
	}
}

// patientVisitor is newVisitor, waiting out the session limit (120 in a
// burst from one address) rather than failing.
func patientVisitor(b *testing.B, s *stack.Stack, widgetKey string) *visitor {
	b.Helper()
	for {
		status, out := session(b, s, widgetKey, "")
		if status == http.StatusTooManyRequests {
			time.Sleep(time.Second)
			continue
		}
		if status != http.StatusOK || out["visitorToken"] == "" || out["websocketUrl"] == "" {
			b.Fatalf("session: %d %v", status, out)
		}
		v := &visitor{Token: out["visitorToken"], ID: out["visitorId"], WSURL: out["websocketUrl"]}
		v.dial(b)
		return v
	}
}
