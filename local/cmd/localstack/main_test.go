package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/local/testaws"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRun_RefusesBadSettings(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port in use", map[string]string{"HTTP_PORT": busyPort, "WS_PORT": freePort(t)}, "HTTP_PORT: cannot listen on 127.0.0.1:" + busyPort + " (is the port in use?"},
		{"not a port", map[string]string{"WS_PORT": "eighty"}, `WS_PORT must be a port number, not "eighty"`},
		{"short platform token", map[string]string{"PLATFORM_TOKEN": "short"}, "PLATFORM_TOKEN must be at least 32 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := moto.Binary(); err != nil && tt.name == "port in use" {
				t.Skip("needs moto")
			}
			var out testaws.Logs
			err := run(context.Background(), envOf(tt.env), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestRun_ServesUntilCancelledThenStopsEveryChild drives the real program:
// it starts, says how far along it is, answers /healthz, prints its URLs
// and that its state is not kept, and on cancel (what SIGINT does) leaves no
// child process behind. A long build step says every HeartbeatEvery that it
// is still at it, and which functions it builds. A clean start logs no line
// at level ERROR (nor a function's error document), and Slack, turned off, says so
// once at INFO; the builds stay in the cache folder, go build's scratch does
// not.
func TestRun_ServesUntilCancelledThenStopsEveryChild(t *testing.T) {
	if _, err := moto.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	httpPort, wsPort := freePort(t), freePort(t)
	cache := t.TempDir() // so every function is built, as on a first start
	defer func(every time.Duration) { stack.HeartbeatEvery = every }(stack.HeartbeatEvery)
	stack.HeartbeatEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testaws.Logs
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, envOf(map[string]string{"HTTP_PORT": httpPort, "WS_PORT": wsPort, "LOCAL_SLACK": "off", "LOCALSTACK_CACHE": cache}), &out, &out)
	}()
	url := "http://127.0.0.1:" + httpPort + "/healthz"
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never healthy; output:\n%s", out.String())
		}
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
	}
	for _, want := range []string{"demo page:      http://127.0.0.1:" + httpPort + "/demo.html",
		"WebSocket API:  ws://127.0.0.1:" + wsPort + "/dev", "platform token: " + DefaultPlatformToken, "cold start",
		// the progress a newcomer sees, and the warning that nothing is kept
		"starting moto", "compiling the Lambda emulator", "building functions 1/", "built the functions",
		"still at it: building functions ", " done; now: ",
		"starting functions", ", ready in ", "state:          in memory only"} {
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), want); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("output lacks %q:\n%s", want, out.String())
			}
		}
	}
	kids := descendants(os.Getpid())
	if len(kids) < 3 {
		t.Fatalf("only %d child processes: moto and the emulators should run", len(kids))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, pid := range kids {
		for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs after the stack stopped", pid)
			}
		}
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the gateway still answers after the stack stopped")
	}
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"errorMessage"`) {
			t.Errorf("a clean start logged an error: %s", line)
		}
	}
	if n := strings.Count(out.String(), `"level":"INFO","msg":"slack is off (set the SlackClientId parameter`); n != 1 {
		t.Errorf("%d lines say Slack is off at INFO, want 1:\n%s", n, out.String())
	}
	if _, err := os.Stat(filepath.Join(cache, "build", "WsConnectFunction", "bootstrap")); err != nil {
		t.Errorf("the build is not kept in the cache: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(cache, "gotmp")); len(left) > 0 {
		t.Errorf("go build's scratch is left: %v", left)
	}
}

func TestStartedAt_CountsFromMakeRunWhenItSaysWhen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	if got := startedAt(envOf(map[string]string{"LOCALSTACK_STARTED": "1799999990.5"}), now); now.Sub(got) != 9500*time.Millisecond {
		t.Errorf("started %v before now, want 9.5s", now.Sub(got))
	}
	for _, v := range []string{"", "soon", "1900000000"} {
		if got := startedAt(envOf(map[string]string{"LOCALSTACK_STARTED": v}), now); !got.Equal(now) {
			t.Errorf("LOCALSTACK_STARTED=%q: %v, want now", v, got)
		}
	}
}

// descendants lists every process under pid (Linux /proc).
func descendants(pid int) []int {
	parent := map[int]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		n, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				parent[n], _ = strconv.Atoi(f[1])
			}
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}
