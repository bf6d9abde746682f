package stack

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/testaws"
)

// freeAddr returns a loopback address free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := moto.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

// free fails the test unless addr can be listened on again.
func free(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("%s is still taken after a failed start: %v", addr, err)
		return
	}
	l.Close()
}

func TestStart_RefusesAMissingTemplate(t *testing.T) {
	_, err := Start(context.Background(), Options{RepoRoot: t.TempDir(), PlatformToken: "token"})
	if err == nil || !strings.Contains(err.Error(), "template.yaml") {
		t.Fatalf("err = %v, want it to name template.yaml", err)
	}
}

func TestStart_AnOccupiedPortFreesThePortTakenBeforeIt(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	httpAddr := freeAddr(t)
	_, err = Start(context.Background(), Options{RepoRoot: testaws.RepoRoot(t), PlatformToken: "token",
		HTTPAddr: httpAddr, WSAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "WS_PORT: cannot listen on "+busy.Addr().String()) {
		t.Fatalf("err = %v, want WS_PORT named", err)
	}
	free(t, httpAddr)
}

// TestStart_AFailedBuildStopsMotoAndFreesThePorts fails the step after moto,
// the resources and the secrets (the emulator cannot build outside the
// module) and checks that moto, its proxy and both ports are gone.
func TestStart_AFailedBuildStopsMotoAndFreesThePorts(t *testing.T) {
	if _, err := moto.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	root := t.TempDir()
	tpl, err := os.ReadFile(filepath.Join(testaws.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "template.yaml"), tpl, 0o644); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(t.TempDir(), "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	httpAddr, wsAddr := freeAddr(t), freeAddr(t)
	_, err = Start(context.Background(), Options{RepoRoot: root, PlatformToken: "token", HTTPAddr: httpAddr, WSAddr: wsAddr,
		WorkDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err == nil || !strings.Contains(err.Error(), "build emulator") {
		t.Fatalf("err = %v, want the emulator's build to fail", err)
	}
	log, _ := os.ReadFile(logs.Name())
	m := regexp.MustCompile(`msg="started moto" url=(\S+) pid=(\d+)`).FindSubmatch(log)
	if m == nil {
		t.Fatalf("moto never started; log:\n%s", log)
	}
	if _, err := os.Stat("/proc/" + string(m[2])); err == nil {
		t.Errorf("moto (pid %s) still runs", m[2])
	}
	if res, err := http.Get(string(m[1]) + "/moto-api/"); err == nil {
		res.Body.Close()
		t.Errorf("moto still answers on %s", m[1])
	}
	free(t, httpAddr)
	free(t, wsAddr)
}
