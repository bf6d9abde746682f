// Package e2e tests the local stack end to end: real function binaries under
// the Lambda emulator behind the local gateway, driven by headless Chromium and
// by WebSocket clients.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/local/testaws"
)

var (
	stackOnce sync.Once
	shared    *stack.Stack
	stackErr  error
	tokenOnce sync.Once
	token     string // the platform token of every stack of the test binary
)

// artifacts returns the folder for test artifacts (git-ignored).
func artifacts(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(testaws.RepoRoot(tb), "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// localStack starts one stack for the test binary: every function of the
// template built and run under the emulator, on free ports.
func localStack(tb testing.TB) *stack.Stack {
	tb.Helper()
	stackOnce.Do(func() { shared, stackErr = startStack(tb, "e2e") })
	if stackErr != nil {
		tb.Fatal(stackErr)
	}
	return shared
}

// ownStack starts a stack of the test's own, closed when the test ends: for
// tests that stall or kill parts of it, so the shared one stays undisturbed.
func ownStack(tb testing.TB, name string, opts ...func(*stack.Options)) *stack.Stack {
	tb.Helper()
	s, err := startStack(tb, name, opts...)
	if s != nil {
		tb.Cleanup(func() { s.Close() })
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// startStack starts a stack whose functions and moto log to
// artifacts/<name>-functions.log and <name>-moto.log.
func startStack(tb testing.TB, name string, opts ...func(*stack.Options)) (*stack.Stack, error) {
	tb.Helper()
	if _, err := moto.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal(err)
		}
		tb.Skipf("the local stack needs moto: %v", err)
	}
	tokenOnce.Do(func() {
		b := make([]byte, 24)
		rand.Read(b)
		token = hex.EncodeToString(b)
	})
	logs, err := os.Create(filepath.Join(artifacts(tb), name+"-functions.log"))
	if err != nil {
		return nil, err
	}
	moto, err := os.Create(filepath.Join(artifacts(tb), name+"-moto.log"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := stack.Options{
		RepoRoot: testaws.RepoRoot(tb), HTTPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0",
		PlatformToken: token, MaxInstances: 4, Out: logs, MotoLog: moto,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := stack.Start(ctx, o)
	if err != nil {
		return s, err
	}
	select {
	case <-s.Ready():
		return s, nil
	case <-ctx.Done():
		return s, fmt.Errorf("the stack's functions did not all answer")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// tenant is a tenant created through the admin API with the platform token.
type tenant struct {
	ID, WidgetKey, APIKey string
}

func newTenant(tb testing.TB, s *stack.Stack) tenant {
	tb.Helper()
	var out struct {
		Tenant struct{ ID, WidgetKey string } `json:"tenant"`
		APIKey struct{ Key string }           `json:"apiKey"`
	}
	status := call(tb, s, "POST", "/v1/tenants", token, map[string]any{"name": "E2E Outdoor"}, &out)
	if status != http.StatusCreated || out.Tenant.WidgetKey == "" || out.APIKey.Key == "" {
		tb.Fatalf("create tenant: %d %+v", status, out)
	}
	return tenant{ID: out.Tenant.ID, WidgetKey: out.Tenant.WidgetKey, APIKey: out.APIKey.Key}
}

// call makes an admin API request and decodes the JSON answer into out.
func call(tb testing.TB, s *stack.Stack, method, path, key string, body, out any) int {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.APIURL+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

// storedMessages lists a conversation's messages through the admin API: the
// ids stored under each text.
func storedMessages(tb testing.TB, s *stack.Stack, apiKey, conv string) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	cursor := ""
	for {
		var page struct {
			Items []struct{ ID, Text string } `json:"items"`
			Next  *string                     `json:"next"`
		}
		path := "/v1/conversations/" + url.PathEscape(conv) + "/messages?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if st := call(tb, s, "GET", path, apiKey, nil, &page); st != http.StatusOK {
			tb.Fatalf("list messages of %s: %d", conv, st)
		}
		for _, m := range page.Items {
			out[m.Text] = append(out[m.Text], m.ID)
		}
		if page.Next == nil {
			return out
		}
		cursor = *page.Next
	}
}
