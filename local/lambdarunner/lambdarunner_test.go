package lambdarunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
)

// hello builds the hello-world bootstrap and the emulator once per test binary.
var (
	buildOnce        sync.Once
	helloBin, rieBin string
	buildErr         error
)

func binaries(t *testing.T) (string, string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lambdarunner")
		if err != nil {
			buildErr = err
			return
		}
		root := testaws.RepoRoot(t)
		helloBin, rieBin = filepath.Join(dir, "bootstrap"), filepath.Join(dir, "aws-lambda-rie")
		ctx := context.Background()
		if buildErr = BuildBootstrap(ctx, root, "./local/internal/hellofn", helloBin); buildErr != nil {
			return
		}
		buildErr = BuildRIE(ctx, root, rieBin)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return helloBin, rieBin
}

func TestPool_InvokesRealBootstrapUnderEmulator(t *testing.T) {
	hello, rie := binaries(t)
	var logs testaws.Logs
	p := NewPool(Spec{Name: "Hello", Bootstrap: hello, RIE: rie, Timeout: 3, Log: &logs})
	defer p.Stop()
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := p.Invoke(ctx, []byte(`{}`))
	if err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("invoke = %s, %v", out, err)
	}
	_, err = p.Invoke(ctx, []byte(`{"fail":true}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Message != "Unauthorized" {
		t.Fatalf("error = %v, want the function's Unauthorized", err)
	}
	if out, err := p.Invoke(ctx, []byte(`{}`)); err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("invoke after a function error = %s, %v", out, err)
	}
	if d := p.AwaitInits(1, 5*time.Second); len(d) != 1 || d[0] <= 0 {
		t.Errorf("init durations = %v, want one cold start", d)
	}
	if !bytes.Contains([]byte(logs.String()), []byte("Hello | ")) {
		t.Errorf("logs are not prefixed by the function name:\n%s", logs.String())
	}
}

func TestPool_ScalesOutUpToMaxInstances(t *testing.T) {
	hello, rie := binaries(t)
	p := NewPool(Spec{Name: "Hello", Bootstrap: hello, RIE: rie, Timeout: 3, MaxInstances: 2})
	defer p.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Invoke(context.Background(), []byte(`{}`))
			if err == nil && string(out) != `{"hello":"world"}` {
				err = errors.New("bad answer " + string(out))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	n := len(p.all)
	p.mu.Unlock()
	if n < 1 || n > 2 {
		t.Errorf("instances = %d, want 1..2", n)
	}
}

func TestPool_StopEndsEmulatorAndFunction(t *testing.T) {
	hello, rie := binaries(t)
	p := NewPool(Spec{Name: "Hello", Bootstrap: hello, RIE: rie, Timeout: 3})
	ctx := context.Background()
	if _, err := p.Invoke(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	pid := p.all[0].cmd.Process.Pid
	p.mu.Unlock()
	kids := childrenOf(pid)
	if len(kids) == 0 {
		t.Fatal("the emulator runs no bootstrap")
	}
	p.Stop()
	deadline := time.Now().Add(3 * time.Second)
	for _, k := range append(kids, pid) {
		for syscall.Kill(k, 0) == nil && !zombie(k) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs after Stop", k)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := p.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Error("a stopped pool still invokes")
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || bytes.Contains(b, []byte(") Z "))
}

// TestPool_KillBusyFailsTheInvocationAndTheInstanceIsReplaced kills the
// instance serving a slow invocation: the invocation fails (not as a function
// error), the emulator and the function are gone, and the next invocation
// runs on a new instance, with a cold start of its own.
func TestPool_KillBusyFailsTheInvocationAndTheInstanceIsReplaced(t *testing.T) {
	hello, rie := binaries(t)
	p := NewPool(Spec{Name: "Hello", Bootstrap: hello, RIE: rie, Timeout: 10, MaxInstances: 2})
	defer p.Stop()
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := p.KillBusy(); n != 0 {
		t.Fatalf("KillBusy of an idle pool killed %d", n)
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := p.Invoke(ctx, []byte(`{"sleepMs":5000}`))
		done <- result{out, err}
	}()
	var old *instance
	for deadline := time.Now().Add(5 * time.Second); old == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the invocation never started")
		}
		p.mu.Lock()
		for _, in := range p.all {
			if in.busy.Load() {
				old = in
			}
		}
		p.mu.Unlock()
	}
	time.Sleep(200 * time.Millisecond) // the request reaches the function
	pid := old.cmd.Process.Pid
	kids := childrenOf(pid)
	start := time.Now()
	if n := p.KillBusy(); n != 1 {
		t.Fatalf("KillBusy killed %d, want 1", n)
	}
	r := <-done
	var fe *FunctionError
	if r.err == nil || errors.As(r.err, &fe) {
		t.Fatalf("the killed invocation returned %s, %v; want an invoke error", r.out, r.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the killed invocation failed only after %v", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, k := range append(kids, pid) {
		for syscall.Kill(k, 0) == nil && !zombie(k) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs after KillBusy", k)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	out, err := p.Invoke(ctx, []byte(`{}`))
	if err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("invoke after the kill = %s, %v", out, err)
	}
	p.mu.Lock()
	for _, in := range p.all {
		if in == old {
			t.Error("the killed instance is still in the pool")
		}
	}
	p.mu.Unlock()
	if d := p.AwaitInits(2, 5*time.Second); len(d) < 2 {
		t.Errorf("init durations = %v, want a second cold start for the replacement", d)
	}
}

// TestPool_TimeoutIsAFunctionError runs a function past its timeout: the
// emulator answers 200 with "Task timed out after ...", which is Lambda's
// Sandbox.Timedout error, not the function's response; the next invocation
// runs as usual.
func TestPool_TimeoutIsAFunctionError(t *testing.T) {
	hello, rie := binaries(t)
	p := NewPool(Spec{Name: "Hello", Bootstrap: hello, RIE: rie, Timeout: 1})
	defer p.Stop()
	ctx := context.Background()
	out, err := p.Invoke(ctx, []byte(`{"sleepMs":3000}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
		t.Fatalf("invoke past the timeout = %q, %v; want a Sandbox.Timedout function error", out, err)
	}
	if out, err := p.Invoke(ctx, []byte(`{}`)); err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("invoke after the timeout = %s, %v", out, err)
	}
}
