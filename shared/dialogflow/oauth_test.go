package dialogflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/local/googlefake"
	"github.com/livesupportbot/backend/shared/dialogflow"
)

const (
	clientID     = "1234-client.apps.googleusercontent.com"
	clientSecret = "GOCSPX-client-secret"
	redirectURL  = "https://app.example.com/v1/integrations/dialogflow/callback"
)

// newFake is a fake Google with our client, and the client's config.
func newFake(t *testing.T) (*googlefake.Server, *oauth2.Config) {
	t.Helper()
	fake := googlefake.New(t)
	fake.AddClient(clientID, clientSecret)
	return fake, dialogflow.OAuthConfig(clientID, clientSecret, redirectURL, fake.Endpoint())
}

// grant is a refresh token of a new consent.
func grant(t *testing.T, fake *googlefake.Server, cfg *oauth2.Config) string {
	t.Helper()
	rt, err := dialogflow.Exchange(context.Background(), cfg, fake.IssueCode(clientID))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// follow opens the consent page at authURL and returns the code and state of
// its redirect to redirectURL.
func follow(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURL+"?") {
		t.Fatalf("consent page: HTTP %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestAuthCodeURL(t *testing.T) {
	cfg := dialogflow.OAuthConfig(clientID, clientSecret, redirectURL, dialogflow.GoogleEndpoint)
	u, err := url.Parse(dialogflow.AuthCodeURL(cfg, "st-123"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != "https://accounts.google.com/o/oauth2/auth" {
		t.Errorf("consent page %s", u)
	}
	q := u.Query()
	for k, want := range map[string]string{"access_type": "offline", "prompt": "consent", "scope": dialogflow.Scope,
		"state": "st-123", "client_id": clientID, "redirect_uri": redirectURL, "response_type": "code"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Has("client_secret") {
		t.Error("the consent URL carries the client secret")
	}
	if dialogflow.GoogleEndpoint.TokenURL != "https://oauth2.googleapis.com/token" || dialogflow.GoogleEndpoint.AuthStyle != oauth2.AuthStyleInParams {
		t.Errorf("endpoint %+v", dialogflow.GoogleEndpoint)
	}
}

func TestExchange(t *testing.T) {
	fake, cfg := newFake(t)
	ctx := context.Background()
	code, state := follow(t, dialogflow.AuthCodeURL(cfg, "st-1"))
	if state != "st-1" || code == "" {
		t.Fatalf("redirect with code %q state %q", code, state)
	}
	rt, err := dialogflow.Exchange(ctx, cfg, code)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rt, "1//") {
		t.Fatalf("Exchange returned %q, not the refresh token", rt)
	}
	if _, err := dialogflow.TokenSource(ctx, cfg, rt).Token(); err != nil || fake.RefreshCount() != 1 {
		t.Fatalf("the refresh token does not refresh: %v (%d refreshes)", err, fake.RefreshCount())
	}

	// A code is single use: the second exchange is refused.
	_, err = dialogflow.Exchange(ctx, cfg, code)
	if !errors.Is(err, dialogflow.ErrRefused) || errors.Is(err, dialogflow.ErrRevoked) || strings.Contains(err.Error(), code) {
		t.Fatalf("a used code: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q does not name Google's code", err)
	}

	// An account that consented before gets no refresh token without
	// prompt=consent: ErrNoRefreshToken. AuthCodeURL always asks consent.
	code, _ = follow(t, cfg.AuthCodeURL("st-2", oauth2.AccessTypeOffline))
	if _, err := dialogflow.Exchange(ctx, cfg, code); !errors.Is(err, dialogflow.ErrNoRefreshToken) {
		t.Fatalf("exchange without a refresh token: %v", err)
	}
	code, _ = follow(t, dialogflow.AuthCodeURL(cfg, "st-3"))
	if rt2, err := dialogflow.Exchange(ctx, cfg, code); err != nil || rt2 == rt || !strings.HasPrefix(rt2, "1//") {
		t.Fatalf("a second consent: %q %v", rt2, err)
	}

	// A wrong client secret: ErrAuth is for refreshes; the exchange is refused.
	bad := dialogflow.OAuthConfig(clientID, "wrong-secret", redirectURL, fake.Endpoint())
	code, _ = follow(t, dialogflow.AuthCodeURL(cfg, "st-4"))
	if _, err := dialogflow.Exchange(ctx, bad, code); !errors.Is(err, dialogflow.ErrRefused) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := dialogflow.Exchange(ctx, cfg, ""); !errors.Is(err, dialogflow.ErrInvalid) {
		t.Fatalf("no code: %v", err)
	}
}

func TestTokenSourceReuses(t *testing.T) {
	fake, cfg := newFake(t)
	ctx := context.Background()
	ts := dialogflow.TokenSource(ctx, cfg, grant(t, fake, cfg))
	a, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.Token()
	if err != nil || a.AccessToken != b.AccessToken || fake.RefreshCount() != 1 {
		t.Fatalf("a live token is not reused: %v, %d refreshes", err, fake.RefreshCount())
	}
	if !strings.HasPrefix(a.AccessToken, "ya29.") || time.Until(a.Expiry) < 59*time.Minute {
		t.Errorf("access token %q expiring %s", a.AccessToken, a.Expiry)
	}

	// Tokens of 30 s are within the minute of early expiry: every use
	// refreshes. Tokens of 90 s are not.
	fake.SetTokenLife(30 * time.Second)
	ts = dialogflow.TokenSource(ctx, cfg, grant(t, fake, cfg))
	for range 2 {
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if fake.RefreshCount() != 3 {
		t.Fatalf("tokens of 30 s: %d refreshes, want 3", fake.RefreshCount())
	}
	fake.SetTokenLife(90 * time.Second)
	ts = dialogflow.TokenSource(ctx, cfg, grant(t, fake, cfg))
	for range 2 {
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if fake.RefreshCount() != 4 {
		t.Fatalf("tokens of 90 s: %d refreshes, want 4", fake.RefreshCount())
	}
}

func TestTokenSourceErrors(t *testing.T) {
	fake, cfg := newFake(t)
	ctx := context.Background()
	rt := grant(t, fake, cfg)
	fake.Revoke(rt)
	_, err := dialogflow.TokenSource(ctx, cfg, rt).Token()
	if !errors.Is(err, dialogflow.ErrRevoked) || strings.Contains(err.Error(), rt) || strings.Contains(err.Error(), "http") {
		t.Fatalf("revoked: %v", err)
	}
	var se *dialogflow.StatusError
	if !errors.As(err, &se) || se.HTTPStatus != 400 || se.Reason != "invalid_grant" {
		t.Fatalf("revoked: %#v", se)
	}

	rt = grant(t, fake, cfg)
	bad := dialogflow.OAuthConfig(clientID, "wrong-secret", redirectURL, fake.Endpoint())
	_, err = dialogflow.TokenSource(ctx, bad, rt).Token()
	if !errors.Is(err, dialogflow.ErrAuth) || errors.Is(err, dialogflow.ErrRevoked) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("wrong client secret: %v", err)
	}
	if _, err := dialogflow.TokenSource(ctx, cfg, "").Token(); !errors.Is(err, dialogflow.ErrInvalid) {
		t.Fatalf("no refresh token: %v", err)
	}

	fake.Close()
	_, err = dialogflow.TokenSource(ctx, cfg, rt).Token()
	if err == nil || errors.Is(err, dialogflow.ErrRevoked) || errors.Is(err, dialogflow.ErrAuth) || strings.Contains(err.Error(), "/token") {
		t.Fatalf("token endpoint down: %v", err)
	}
}
