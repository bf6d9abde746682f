package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/livesupportbot/backend/local/stack"
)

// BenchmarkSoak is issue 13's long run: a steady SOAK_RATE messages a second
// (default 10) for SOAK_MINUTES (default 2; the published run is 60) at a
// chat pace. SOAK_RATE*10 visitors each send a message every 10 s, and each
// leaves after 20 messages for a new visitor who opens a new conversation
// (the conversation-opening transaction), so the table grows as in real use.
// Every minute it logs the acks, their p50/p99, the openings' p99 and moto's
// resident memory; it reports the first and last minutes. Run with
// -benchtime=1x.
func BenchmarkSoak(b *testing.B) {
	minutes, rate := envInt("SOAK_MINUTES", 2), envInt("SOAK_RATE", 10)
	for range b.N {
		soak(b, time.Duration(minutes)*time.Minute, rate)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// soakMinute is what one minute of the soak measured.
type soakMinute struct {
	acks, opens []time.Duration
	failures    int
	rss         int64
}

func soak(b *testing.B, length time.Duration, rate int) {
	const period, perVisitor = 10 * time.Second, 20
	s := localStack(b)
	ten := newTenant(b, s)
	raiseLimits(b, s, ten)
	minutes := make([]soakMinute, int(length/time.Minute)+1)
	var mu sync.Mutex
	start := time.Now()
	record := func(d time.Duration, open, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		m := &minutes[min(int(time.Since(start)/time.Minute), len(minutes)-1)]
		switch {
		case !ok:
			m.failures++
		case open:
			m.opens = append(m.opens, d)
		default:
			m.acks = append(m.acks, d)
		}
	}
	stop := start.Add(length)
	run := time.Now().UnixNano()
	var wg sync.WaitGroup
	slots := rate * int(period/time.Second)
	for slot := range slots {
		wg.Go(func() {
			// Stagger the slots over the period: a steady rate, not bursts.
			next := start.Add(period * time.Duration(slot) / time.Duration(slots))
			for k := 0; time.Now().Before(stop); k++ {
				v := patientVisitor(b, s, ten.WidgetKey)
				for j := 0; j < perVisitor && time.Now().Before(stop); j++ {
					time.Sleep(time.Until(next))
					next = next.Add(period)
					cmid := fmt.Sprintf("soak-%d-%d-%d-%d", run, slot, k, j)
					at := time.Now()
					// As the reference widget sends it: with sentAt.
					frame := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"soak %d/%d","sentAt":%d}`, cmid, slot, j, at.UnixMilli())
					err := v.conn.Write(context.Background(), websocket.MessageText, []byte(frame))
					f := waitFrame(v, 2*time.Minute, func(f map[string]any) bool {
						return (f["type"] == "ack" || f["type"] == "error") && f["clientMessageId"] == cmid
					})
					record(time.Since(at), j == 0, err == nil && f != nil && f["type"] == "ack")
				}
				v.conn.Close(websocket.StatusNormalClosure, "")
			}
		})
	}
	// Moto's memory at each minute's end, and where its time went.
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		load := s.MotoLoad()
		for i := range minutes {
			select {
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * time.Minute))):
			case <-time.After(length + time.Minute):
			}
			if time.Now().After(stop.Add(time.Second)) {
				return
			}
			rss := s.MotoRSS()
			mu.Lock()
			minutes[i].rss = rss
			m := minutes[i]
			mu.Unlock()
			now := s.MotoLoad()
			fmt.Fprintf(os.Stderr, "soak minute %d: %d acks p50 %v p99 %v, %d openings p99 %v, %d failed, moto %d MiB, busiest: %s\n",
				i+1, len(m.acks), pct(m.acks, 0.5), pct(m.acks, 0.99), len(m.opens), pct(m.opens, 0.99), m.failures, rss>>20, busiest(load, now))
			load = now
		}
	}()
	wg.Wait()
	<-sampled

	mu.Lock()
	defer mu.Unlock()
	full := minutes[:len(minutes)-1] // the last bucket is the tail after stop
	var lines []string
	failed := 0
	for i, m := range full {
		failed += m.failures
		lines = append(lines, fmt.Sprintf("minute %2d: %4d acks p50 %4d ms p99 %5d ms; %3d openings p99 %5d ms; %d failed; moto %4d MiB",
			i+1, len(m.acks), pct(m.acks, 0.5).Milliseconds(), pct(m.acks, 0.99).Milliseconds(),
			len(m.opens), pct(m.opens, 0.99).Milliseconds(), m.failures, m.rss>>20))
	}
	first, last := full[0], full[len(full)-1]
	b.ReportMetric(float64(pct(first.acks, 0.99).Milliseconds()), "first-min-ack-p99-ms")
	b.ReportMetric(float64(pct(last.acks, 0.99).Milliseconds()), "last-min-ack-p99-ms")
	b.ReportMetric(float64(pct(last.opens, 0.99).Milliseconds()), "last-min-open-p99-ms")
	b.ReportMetric(float64(first.rss>>20), "first-min-moto-MiB")
	b.ReportMetric(float64(last.rss>>20), "last-min-moto-MiB")
	writeFigures(b, fmt.Sprintf("soak-%dmin.txt", len(full)), lines)
	if failed > 0 {
		b.Errorf("%d messages were not acked within 2 minutes", failed)
	}
}

// pct is the p-quantile of d (0 when empty).
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = append([]time.Duration(nil), d...)
	slices.Sort(d)
	return d[int(p*float64(len(d)-1))]
}

// busiest lists the operations that took most of moto's time between two
// load snapshots.
func busiest(before, after map[string]stack.OpLoad) string {
	type op struct {
		name string
		stack.OpLoad
	}
	var ops []op
	for name, l := range after {
		b := before[name]
		ops = append(ops, op{name, stack.OpLoad{Calls: l.Calls - b.Calls, Busy: l.Busy - b.Busy}})
	}
	slices.SortFunc(ops, func(a, b op) int { return cmp.Compare(b.Busy, a.Busy) })
	var parts []string
	for _, o := range ops[:min(len(ops), 6)] {
		parts = append(parts, fmt.Sprintf("%s %d calls %.1fs", strings.TrimPrefix(o.name, "DynamoDB_20120810."), o.Calls, o.Busy.Seconds()))
	}
	return strings.Join(parts, ", ")
}
