package slackbridge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/slackbridge"
	"github.com/livesupportbot/backend/shared/slackbridge/slackkms"
)

// secretsFake plays awsclients.Runtime.Secrets: values that can change, or a
// fetch that fails.
type secretsFake struct {
	mu   sync.Mutex
	vals map[string]string
	err  error
}

func (s *secretsFake) Get(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	return s.vals[name], nil
}

func (s *secretsFake) set(name, v string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[name], s.err = v, err
}

// With Config.Secrets the bridge reads the signing and client secrets on each
// request that needs one: a rotated signing secret applies at once, an
// unreachable Secrets Manager is a 500 (Slack retries) that stores nothing, and
// the OAuth state is signed and checked with the client secret of the moment.
func TestSecrets_AreReadPerRequest(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	sec := &secretsFake{vals: map[string]string{"SLACK_SIGNING_SECRET": signingSecret, "SLACK_CLIENT_SECRET": h.slack.ClientSecret}}
	b := slackbridge.New(slackbridge.Deps{Config: slackbridge.Config{ClientID: h.slack.ClientID, Secrets: sec, APIURL: h.slack.APIURL(), ConsoleURL: consoleURL}, Store: h.st, Cipher: slackkms.New(testaws.Config(t), nil, h.key.KeyID), Log: logging.New(h.logs, "test")})

	ctx := context.Background()
	post := func(id string) int {
		body := replyEvent(id, h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860002.000"+id[len(id)-3:], "UAGENT01", "reply "+id, nil)
		res, err := b.Handle(ctx, signedEvent(t, body, time.Now(), nil)) // signed with signingSecret
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if got := post("EvSEC001"); got != 200 {
		t.Fatalf("signed with the current secret: %d", got)
	}
	sec.set("SLACK_SIGNING_SECRET", "rotatedSigningSecret", nil)
	if got := post("EvSEC002"); got != 401 {
		t.Fatalf("signed with the secret before rotation: %d, want 401", got)
	}
	sec.set("SLACK_SIGNING_SECRET", "", errors.New("secrets manager unreachable"))
	if got := post("EvSEC003"); got != 500 {
		t.Fatalf("secrets unreachable: %d, want 500", got)
	}
	if n := len(h.agentMessages(t, tid, convID)); n != 1 {
		t.Fatalf("%d agent messages stored, want only the first", n)
	}
	if logs := h.logs.String(); containsAny(logs, signingSecret, "rotatedSigningSecret", h.slack.ClientSecret) {
		t.Errorf("a secret reached the logs: %s", logs)
	}

	// The install: state signed with the client secret read now; after a
	// rotation the state no longer verifies.
	sec.set("SLACK_CLIENT_SECRET", h.slack.ClientSecret, nil)
	s := start(t, b, tid, apiCtx) // a reinstall of the tenant's workspace
	sec.set("SLACK_CLIENT_SECRET", "rotatedClientSecret", nil)
	h.slack.ResetCode("code-rotated")
	if res, _ := b.Handle(ctx, s.callback(t, map[string]string{"code": "code-rotated", "state": s.State})); res.StatusCode != 400 {
		t.Fatalf("state signed before the rotation: %d %s, want 400", res.StatusCode, res.Body)
	}
	sec.set("SLACK_CLIENT_SECRET", h.slack.ClientSecret, nil)
	s = start(t, b, tid, apiCtx)
	h.slack.ResetCode("code-ok")
	if res, _ := b.Handle(ctx, s.callback(t, map[string]string{"code": "code-ok", "state": s.State})); res.StatusCode != 302 {
		t.Fatalf("install with the current secret: %d %s", res.StatusCode, res.Body)
	}
	sec.set("SLACK_CLIENT_SECRET", "", errors.New("unreachable"))
	if u, c, err := b.InstallLink(tid, apiCtx); err == nil || u != "" || c != "" {
		t.Errorf("install link without the client secret: %q %q %v, want an error", u, c, err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
