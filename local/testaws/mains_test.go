package testaws_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
)

// recorder is a test that records its failures; Fatalf ends the goroutine
// running it, as testing.T's does.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }

// record runs fn on a recorder of t and returns its failures.
func record(t *testing.T, fn func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(r) }()
	<-done
	return r.failures
}

// serve is the variable a main serves through.
var serve = func(any) error { return errors.New("the Lambda runtime") }

// handler is what the fake main serves.
type handler func() string

// fakeMain needs TABLE and a LIMIT that is a number (unset is 10); strict false
// makes it accept any LIMIT, serveFirst serves before it checks its settings.
func fakeMain(strict, serveFirst bool) testaws.Main {
	run := func(_ context.Context, getenv func(string) string) error {
		if serveFirst {
			_ = serve(handler(func() string { return "early" }))
		}
		if getenv("TABLE") == "" {
			return errors.New("missing TABLE")
		}
		limit := 10
		if s := getenv("LIMIT"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil && strict {
				return fmt.Errorf("LIMIT: %w", err)
			}
			limit = n
		}
		return serve(handler(func() string { return getenv("TABLE") + "/" + strconv.Itoa(limit) }))
	}
	return testaws.Main{Run: run, Serve: &serve}
}

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestMainStart_ReturnsTheServedHandlerAndRestoresServe(t *testing.T) {
	t.Run("start", func(t *testing.T) {
		h := fakeMain(true, false).Start(t, env(map[string]string{"TABLE": "data", "LIMIT": "3"}))
		if got := h.(handler)(); got != "data/3" {
			t.Fatalf("handler answers %q, want data/3", got)
		}
	})
	if err := serve(nil); err == nil || err.Error() != "the Lambda runtime" {
		t.Fatalf("serve not restored after the test: %v", err)
	}
}

func TestMainStart_FailsARunThatFailsOrServesNothing(t *testing.T) {
	failed := record(t, func(tb testing.TB) { fakeMain(true, false).Start(tb, env(nil)) })
	if len(failed) != 1 || !strings.Contains(failed[0], "missing TABLE") {
		t.Errorf("a failing run: failures %q", failed)
	}
	silent := testaws.Main{Run: func(context.Context, func(string) string) error { return nil }, Serve: &serve}
	failed = record(t, func(tb testing.TB) { silent.Start(tb, env(nil)) })
	if len(failed) != 1 || !strings.Contains(failed[0], "served nothing") {
		t.Errorf("a run that serves nothing: failures %q", failed)
	}
}

func TestMainRefuses(t *testing.T) {
	good := env(map[string]string{"TABLE": "data", "LIMIT": "3"})
	changes := [][2]string{{"TABLE", ""}, {"LIMIT", "lots"}}
	if failed := record(t, func(tb testing.TB) { fakeMain(true, false).Refuses(tb, good, changes...) }); len(failed) != 0 {
		t.Errorf("a main that refuses both: failures %q", failed)
	}
	if err := serve(nil); err == nil || err.Error() != "the Lambda runtime" {
		t.Fatalf("serve not restored: %v", err)
	}

	// A run that accepts a bad setting fails the test, naming the change; it
	// also served.
	failed := record(t, func(tb testing.TB) { fakeMain(false, false).Refuses(tb, good, changes...) })
	if len(failed) != 2 || !strings.Contains(failed[0], `LIMIT="lots"`) || !strings.Contains(failed[1], "served a handler") {
		t.Errorf("a main that accepts LIMIT=lots: failures %q", failed)
	}
	// An error that names another variable does too.
	noTable := env(map[string]string{"LIMIT": "3"})
	failed = record(t, func(tb testing.TB) { fakeMain(true, false).Refuses(tb, noTable, [2]string{"LIMIT", "lots"}) })
	if len(failed) != 1 || !strings.Contains(failed[0], "missing TABLE, want an error naming LIMIT") {
		t.Errorf("a main that fails for another reason: failures %q", failed)
	}
	// So does a run that serves before it refuses.
	failed = record(t, func(tb testing.TB) { fakeMain(true, true).Refuses(tb, good, [2]string{"TABLE", ""}) })
	if len(failed) != 1 || !strings.Contains(failed[0], "served a handler") {
		t.Errorf("a main that serves without TABLE: failures %q", failed)
	}
}
