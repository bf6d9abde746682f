package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/local/testaws"
)

// BenchmarkColdStart starts each function's real bootstrap under the emulator
// b.N times, beside a hello-world bootstrap built with the same flags (and one
// that also loads the SDK's config and a DynamoDB client), and
// reports the median INIT REPORT duration of each (ms) and its ratio to
// hello's. The order is shuffled every round, so no binary is always first.
func BenchmarkColdStart(b *testing.B) {
	s := localStack(b)
	dir := b.TempDir()
	hello := filepath.Join(dir, "hello", "bootstrap")
	helloSDK := filepath.Join(dir, "hellosdk", "bootstrap")
	for pkg, out := range map[string]string{"./local/internal/hellofn": hello, "./local/internal/hellosdkfn": helloSDK} {
		if err := lambdarunner.BuildBootstrap(context.Background(), testaws.RepoRoot(b), pkg, out); err != nil {
			b.Fatal(err)
		}
	}
	specs := map[string]lambdarunner.Spec{}
	var rie string
	for id, p := range s.Functions {
		specs[id] = p.Spec()
		rie = p.Spec().RIE
	}
	specs["hello-world"] = lambdarunner.Spec{Name: "hello-world", Bootstrap: hello, RIE: rie, Timeout: 3, MemorySize: 256}
	// The same plus the SDK's config and a DynamoDB client, with a function's environment.
	sdkSpec := specs["WsConnectFunction"]
	sdkSpec.Name, sdkSpec.Bootstrap = "hello-world+sdk", helloSDK
	specs["hello-world+sdk"] = sdkSpec
	// COLDSTART_BASE=<git revision>: each function also as built at that
	// revision, side by side in the same shuffled rounds, with the secrets it
	// read from its environment then (before Secrets Manager).
	if rev := os.Getenv("COLDSTART_BASE"); rev != "" {
		for id, spec := range baseSpecs(b, s, rev, dir) {
			specs[id] = spec
		}
	}
	ids := make([]string, 0, len(specs))
	for id := range specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	inits := map[string][]time.Duration{}
	order := append([]string(nil), ids...)
	b.ResetTimer()
	for range b.N {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, id := range order {
			spec := specs[id]
			spec.Log = nil
			spec.MaxInstances = 1
			p := lambdarunner.NewPool(spec)
			if _, err := p.Invoke(context.Background(), []byte(`{}`)); err != nil && !isFunctionError(err) {
				b.Fatalf("%s: %v", id, err)
			}
			d := p.AwaitInits(1, 5*time.Second)
			p.Stop()
			if len(d) != 1 {
				b.Fatalf("%s: %d INIT REPORTs", id, len(d))
			}
			inits[id] = append(inits[id], d[0])
		}
	}
	b.StopTimer()
	median := func(d []time.Duration) float64 {
		d = append([]time.Duration(nil), d...)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2])
	}
	helloMedian := median(inits["hello-world"])
	lines := []string{fmt.Sprintf("median INIT REPORT duration over %d cold starts each", b.N)}
	for _, id := range ids {
		m := median(inits[id])
		b.ReportMetric(m/1e6, "init-ms/"+id)
		lines = append(lines, fmt.Sprintf("%-24s init %7.2f ms  (%.2fx hello-world)", id, m/1e6, m/helloMedian))
	}
	writeFigures(b, "coldstart.txt", lines)
}

// baseSpecs builds every function of the stack at revision rev (a git worktree)
// and returns specs "<id>@<rev>" with the function's environment plus the
// plain secret variables that revision's functions read.
func baseSpecs(b *testing.B, s *stack.Stack, rev, dir string) map[string]lambdarunner.Spec {
	root := testaws.RepoRoot(b)
	wt := filepath.Join(dir, "base")
	if out, err := exec.Command("git", "-C", root, "worktree", "add", "--detach", wt, rev).CombinedOutput(); err != nil {
		b.Fatalf("git worktree add %s: %v\n%s", rev, err, out)
	}
	b.Cleanup(func() { exec.Command("git", "-C", root, "worktree", "remove", "--force", wt).Run() })
	legacy := []string{"VISITOR_TOKEN_SECRET=" + s.VisitorTokenSecret, "PLATFORM_TOKEN=" + token,
		"SUBJECT_HASH_SECRET=" + strings.Repeat("k", 64), "SLACK_CLIENT_SECRET=", "SLACK_SIGNING_SECRET="}
	out := map[string]lambdarunner.Spec{}
	for id, p := range s.Functions {
		spec := p.Spec()
		bin := filepath.Join(dir, "base-bin", id, "bootstrap")
		pkg := "./" + cfntemplate.Function{ID: id}.Dir()
		if _, err := os.Stat(filepath.Join(wt, pkg, "main.go")); err != nil {
			continue // a function that revision does not have
		}
		if err := lambdarunner.BuildBootstrap(context.Background(), wt, pkg, bin); err != nil {
			b.Fatal(err)
		}
		spec.Name, spec.Bootstrap = id+"@"+rev, bin
		spec.Env = append(append([]string(nil), spec.Env...), legacy...)
		out[spec.Name] = spec
	}
	return out
}

func isFunctionError(err error) bool {
	_, ok := err.(*lambdarunner.FunctionError)
	return ok
}

// BenchmarkRoundTrip measures visitor -> agent -> visitor on the local stack:
// the visitor sends over the WebSocket, the agent sees it through the admin
// API (polling every 5 ms, as a console would, much faster), replies, and the
// reply reaches the visitor through dispatch and @connections. It reports p50
// and p99 in ms; run it with -benchtime=200x or more.
func BenchmarkRoundTrip(b *testing.B) {
	s := localStack(b)
	ten := newTenant(b, s)
	raiseLimits(b, s, ten) // one visitor sends b.N messages and the agent polls every 5 ms
	v := newVisitor(b, s, ten.WidgetKey)
	first := v.sendMessage(b, "warm-up")
	conv := first["conversationId"].(string)
	var rtts, toAgent, toVisitor []time.Duration
	b.ResetTimer()
	for i := range b.N {
		text := fmt.Sprintf("question %d", i)
		reply := fmt.Sprintf("answer %d", i)
		start := time.Now()
		v.send(b, map[string]any{"action": "sendMessage", "clientMessageId": fmt.Sprintf("rt-%d-%d", i, start.UnixNano()), "text": text})
		// The agent's view.
		for {
			var page struct {
				Items []struct{ Text string } `json:"items"`
			}
			if st := call(b, s, "GET", "/v1/conversations/"+url.PathEscape(conv)+"/messages?limit=5", ten.APIKey, nil, &page); st != 200 {
				b.Fatalf("list messages: %d", st)
			}
			seen := false
			for _, m := range page.Items {
				seen = seen || m.Text == text
			}
			if seen {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		seen := time.Now()
		toAgent = append(toAgent, seen.Sub(start))
		if st := call(b, s, "POST", "/v1/conversations/"+url.PathEscape(conv)+"/messages", ten.APIKey,
			map[string]string{"text": reply, "agentName": "Bench"}, nil); st != 201 {
			b.Fatalf("reply: %d", st)
		}
		v.next(b, "the reply", func(f map[string]any) bool {
			m, _ := f["message"].(map[string]any)
			return f["type"] == "message" && m["text"] == reply
		})
		rtts = append(rtts, time.Since(start))
		toVisitor = append(toVisitor, time.Since(seen))
	}
	b.StopTimer()
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	p := func(q float64) float64 { return float64(rtts[int(q*float64(len(rtts)-1))]) / 1e6 }
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	// The two halves: visitor -> agent (seen through the API, polling every
	// 5 ms), and agent -> visitor (the reply's POST until its frame arrives).
	b.ReportMetric(float64(p50(toAgent))/1e6, "to-agent-p50-ms")
	b.ReportMetric(float64(p50(toVisitor))/1e6, "to-visitor-p50-ms")
	writeFigures(b, "roundtrip.txt", []string{fmt.Sprintf("round trips %d: p50 %.1f ms, p99 %.1f ms, max %.1f ms; visitor->agent p50 %.1f ms, agent->visitor p50 %.1f ms",
		len(rtts), p(0.5), p(0.99), p(1), float64(p50(toAgent))/1e6, float64(p50(toVisitor))/1e6)})
}

// BenchmarkThroughput50 has 50 widget connections (50 visitors, each with an
// open conversation) send b.N messages each, every connection waiting for its
// ack before the next, and reports acked messages per second. It then checks that none was lost: every
// message was acked once and every conversation holds all of its messages.
func BenchmarkThroughput50(b *testing.B) {
	const conns = 50
	s := localStack(b)
	ten := newTenant(b, s)
	raiseLimits(b, s, ten) // each visitor sends b.N messages as fast as they are acked
	vs := make([]*visitor, conns)
	for i := range vs {
		vs[i] = newVisitor(b, s, ten.WidgetKey)
	}
	convs := make([]string, conns)
	// Each visitor's first message opens its conversation: a TransactWriteItems,
	// which moto serves by copying its tables (seconds once they are large), not
	// what this measures. Open them before the clock starts, a few at a time so
	// that moto's queue stays within the functions' timeouts.
	var open sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, v := range vs {
		open.Add(1)
		go func() {
			defer open.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmid := fmt.Sprintf("open-%d-%d", time.Now().UnixNano(), i)
			v.conn.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"open %d"}`, cmid, i)))
			if f := waitFrame(v, 5*time.Minute, func(f map[string]any) bool { return f["clientMessageId"] == cmid }); f != nil && f["type"] == "ack" {
				convs[i], _ = f["message"].(map[string]any)["conversationId"].(string)
			}
		}()
	}
	open.Wait()
	for i, c := range convs {
		if c == "" {
			b.Fatalf("visitor %d could not open a conversation", i)
		}
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range b.N {
				cmid := fmt.Sprintf("tp-%d-%d-%d", start.UnixNano(), i, j)
				frame := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":"load %d/%d"}`, cmid, i, j)
				if err := v.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				f := waitFrame(v, 2*time.Minute, func(f map[string]any) bool {
					return (f["type"] == "ack" || f["type"] == "error") && f["clientMessageId"] == cmid
				})
				if f == nil || f["type"] != "ack" {
					errs <- fmt.Errorf("connection %d message %d: %v", i, j, f)
					return
				}
				if c, _ := f["message"].(map[string]any)["conversationId"].(string); c != convs[i] {
					errs <- fmt.Errorf("connection %d message %d went to conversation %q, not %q", i, j, c, convs[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	total := conns * b.N
	rate := float64(total) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	// None lost: each conversation holds its visitor's b.N messages.
	lost := 0
	for i, c := range convs {
		n := 0
		for text, ids := range storedMessages(b, s, ten.APIKey, c) {
			if strings.HasPrefix(text, fmt.Sprintf("load %d/", i)) {
				n += len(ids)
			}
		}
		lost += b.N - n
	}
	if lost != 0 {
		b.Fatalf("%d of %d messages lost", lost, total)
	}
	writeFigures(b, "throughput.txt", []string{fmt.Sprintf("%d connections x %d messages: %d acked in %v = %.1f msgs/s, lost 0",
		conns, b.N, total, elapsed.Round(time.Millisecond), rate)})
}

func waitFrame(v *visitor, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	t := time.After(timeout)
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				return nil
			}
			if match(f) {
				return f
			}
		case <-t:
			return nil
		}
	}
}

// writeFigures keeps a benchmark's figures as an artifact.
func writeFigures(tb testing.TB, name string, lines []string) {
	tb.Helper()
	text := strings.Join(lines, "\n") + "\n"
	tb.Log("\n" + text)
	os.WriteFile(filepath.Join(artifacts(tb), "bench-"+name), []byte(text), 0o644)
}
