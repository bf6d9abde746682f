package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchMake_StopsWhenMakeIsInterrupted runs the mechanism for real: GNU
// make runs a recipe that exec's this test binary (as `make run` exec's the
// stack), which watches make; a SIGINT sent to make's pid alone, which make
// does not pass on, stops it, and make exits.
func TestWatchMake_StopsWhenMakeIsInterrupted(t *testing.T) {
	if os.Getenv("LSB_WATCH_MAKE") == "1" {
		ctx, stop := context.WithCancel(context.Background())
		watchMake(ctx, stop, 50*time.Millisecond)
		os.Stdout.WriteString("watching\n")
		select {
		case <-ctx.Done():
			os.Stdout.WriteString("stopped\n")
		case <-time.After(30 * time.Second):
		}
		return
	}
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make is needed (`make run` uses it): %v", err)
	}
	// A process started with SIGINT ignored (a background job) passes that
	// on: catching it here makes make start with SIGINT at its default, as
	// from a terminal or a service manager.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	mf := filepath.Join(t.TempDir(), "Makefile")
	if err := os.WriteFile(mf, []byte("run:\n\t@exec $(BIN) -test.run=TestWatchMake_StopsWhenMakeIsInterrupted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mk, "--no-print-directory", "-f", mf, "run", "BIN="+os.Args[0])
	// A make of its own, not a sub-make of the `make test` running this.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LSB_WATCH_MAKE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the signal goes to make's pid only
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "watching" {
		t.Fatalf("the recipe did not start: %q", lines.Text())
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	cmd.Wait()
	if !strings.Contains(rest.String(), "stopped") {
		t.Fatalf("the stack did not stop on make's SIGINT (output %q)", rest.String())
	}
	t.Logf("stopped %v after the SIGINT to make", time.Since(sent).Round(time.Millisecond))
}
