package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// GNU make passes a SIGTERM on to the recipe it runs, but not a SIGINT: an
// interrupted make sets SIGINT back to its default handling and waits for its
// children to end. So that `kill -INT <make's pid>` (a script's, a service
// manager's) stops `make run` as Ctrl-C does, the stack, which the recipe
// exec's as make's own child, watches make's caught signals and stops when
// make no longer catches SIGINT.

// sigint is SIGINT's bit in a /proc status signal mask.
const sigint = 1 << (2 - 1)

// watchMake cancels stop when the parent process is a make that was
// interrupted. It does nothing when the parent is not make, or does not catch
// SIGINT (a make started with SIGINT ignored cannot be interrupted).
func watchMake(ctx context.Context, stop context.CancelFunc, every time.Duration) {
	ppid := os.Getppid()
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid)); err != nil || strings.TrimSpace(string(comm)) != "make" {
		return
	}
	if caught, ok := catchesSIGINT(ppid); !ok || !caught {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if caught, ok := catchesSIGINT(ppid); ok && !caught || os.Getppid() != ppid {
					stop()
					return
				}
			}
		}
	}()
}

// catchesSIGINT reads whether process pid has a handler for SIGINT (SigCgt
// in /proc/<pid>/status).
func catchesSIGINT(pid int) (caught, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false, false
	}
	return caughtIn(string(b))
}

// caughtIn reads SIGINT's bit of the SigCgt line of a /proc status file.
func caughtIn(status string) (caught, ok bool) {
	for _, line := range strings.Split(status, "\n") {
		if v, found := strings.CutPrefix(line, "SigCgt:"); found {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&sigint != 0, err == nil
		}
	}
	return false, false
}
