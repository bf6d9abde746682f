package testaws

import (
	"context"
	"strings"
	"testing"
)

// Main is a function's main under test: its run and the variable it serves
// through (functions/<name>/main.go's `var serve = awsclients.Serve`).
type Main struct {
	Run   func(ctx context.Context, getenv func(string) string) error
	Serve *func(handler any) error
}

// Start runs the main with getenv and returns the handler it serves, as the
// Lambda runtime would get it. It fails the test if run fails or serves
// nothing; serve is restored at the end of the test.
func (m Main) Start(tb testing.TB, getenv func(string) string) any {
	tb.Helper()
	var served any
	old := *m.Serve
	tb.Cleanup(func() { *m.Serve = old })
	*m.Serve = func(h any) error { served = h; return nil }
	if err := m.Run(context.Background(), getenv); err != nil {
		tb.Fatalf("run: %v", err)
	}
	if served == nil {
		tb.Fatalf("run served nothing")
	}
	return served
}

// Refuses runs the main once per change of getenv's environment (a variable's
// name and its new value; "" removes the variable) and checks that each run
// fails with an error naming the variable and serves nothing.
func (m Main) Refuses(tb testing.TB, getenv func(string) string, changes ...[2]string) {
	tb.Helper()
	old := *m.Serve
	defer func() { *m.Serve = old }()
	for _, c := range changes {
		name, value := c[0], c[1]
		served := false
		*m.Serve = func(any) error { served = true; return nil }
		changed := func(k string) string {
			if k == name {
				return value
			}
			return getenv(k)
		}
		err := m.Run(context.Background(), changed)
		if err == nil || !strings.Contains(err.Error(), name) {
			tb.Errorf("with %s=%q: run = %v, want an error naming %s", name, value, err, name)
		}
		if served {
			tb.Errorf("with %s=%q: served a handler", name, value)
		}
	}
}
