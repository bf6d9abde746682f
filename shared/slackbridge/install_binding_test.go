package slackbridge_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// An install link's state is bound to the browser that started the install: the
// callback refuses it from a browser that does not carry that install's cookie
// (an attacker who sends a Slack admin their own tenant's install link cannot
// have the admin's workspace connected to it), before the code reaches Slack and
// without using the state up. Every answer clears the cookie.
func TestOAuth_StateFromAnotherBrowserIsRefused(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	s := start(t, h.bridge, ten.ID, apiCtx)
	other := start(t, h.bridge, ten.ID, apiCtx) // an install started elsewhere
	q := map[string]string{"code": h.slack.Code, "state": s.State}
	for name, cookies := range map[string][]string{
		"no cookie":                 nil,
		"another install's cookie":  {other.Cookie},
		"a forged cookie":           {slackbridge.InstallCookie + "=" + strings.Repeat("a", 32)},
		"the cookie on another key": {"lsb-slack-install=" + strings.SplitN(s.Cookie, "=", 2)[1]},
	} {
		req := oauthRequest(t, q)
		req.Cookies = cookies
		res, err := h.bridge.Handle(context.Background(), req)
		if err != nil || res.StatusCode != 400 || !strings.Contains(res.Body, "this browser did not start this installation") {
			t.Fatalf("%s: %d %s %v, want 400", name, res.StatusCode, res.Body, err)
		}
		wantCleared(t, name, res.Cookies)
	}
	if n := len(h.slack.Calls("oauth.v2.access")); n != 0 {
		t.Errorf("the code was exchanged %d times", n)
	}
	if _, err := h.st.SlackIntegration(context.Background(), ten.ID); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("integration written: %v", err)
	}
	// The browser that started it, sending its cookie in a Cookie header.
	req := oauthRequest(t, q)
	req.Headers["cookie"] = "theme=dark; " + s.Cookie
	res, err := h.bridge.Handle(context.Background(), req)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("the starting browser: %d %s %v", res.StatusCode, res.Body, err)
	}
	wantCleared(t, "success", res.Cookies)
}

// wantCleared checks that an answer removes the install cookie at the path it
// was set for.
func wantCleared(t *testing.T, name string, cookies []string) {
	t.Helper()
	for _, line := range cookies {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == slackbridge.InstallCookie && c.MaxAge < 0 && c.Path == "/dev/webhooks/slack/oauth" &&
			c.Secure && c.HttpOnly && c.SameSite == http.SameSiteLaxMode {
			return
		}
	}
	t.Errorf("%s: answer's cookies %q do not clear %s", name, cookies, slackbridge.InstallCookie)
}

// The install cookie is Secure, HttpOnly, SameSite=Lax, scoped to the callback
// path of the API the admin came through, and lives as long as the state.
func TestInstallLink_SetsTheBindingCookie(t *testing.T) {
	h := newHarness(t)
	u, setCookie, err := h.bridge.InstallLink("t123", apiCtx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := http.ParseSetCookie(setCookie)
	if err != nil || c.Name != slackbridge.InstallCookie || len(c.Value) < 32 || c.Path != "/dev/webhooks/slack/oauth" ||
		!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 || c.Domain != "" {
		t.Fatalf("Set-Cookie %q (%+v %v)", setCookie, c, err)
	}
	if strings.Contains(u, c.Value) {
		t.Error("the install link carries the cookie's secret")
	}
}
