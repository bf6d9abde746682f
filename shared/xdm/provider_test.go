package xdm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/xdm"
)

const hookURL = "https://api.livesupportbot.test/webhooks/x/wh-secret-id-1"

var ctx = context.Background()

// setup starts a fake with one account and returns the credentials the
// bridge would hold for it, with a fresh access token.
func setup(t *testing.T) (*xfake.Server, *xdm.Provider, chanbridge.Credentials) {
	t.Helper()
	f := xfake.New(t)
	a := f.AddAccount(xfake.Account{UserID: account, Username: "acme", Name: "Acme Support"})
	creds := chanbridge.Credentials{ConsumerKey: a.ConsumerKey, ConsumerSecret: a.ConsumerSecret,
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, RefreshToken: a.RefreshToken}
	p := &xdm.Provider{BaseURL: f.URL()}
	refresh(t, p, &creds)
	return f, p, creds
}

// refresh refreshes creds' access token as the bridge does, keeping the
// rotated refresh token.
func refresh(t *testing.T, p *xdm.Provider, creds *chanbridge.Credentials) {
	t.Helper()
	tok, err := p.Refresh(ctx, *creds, false)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	creds.Access, creds.RefreshToken = tok.Access, tok.Refresh
}

// clean fails when err names a secret, a token, a text or a URL.
func clean(t *testing.T, err error, creds chanbridge.Credentials, more ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range append(more, creds.ConsumerKey, creds.ConsumerSecret, creds.ClientID, creds.ClientSecret,
		creds.RefreshToken, creds.Access, "http://", "https://", "wh-secret-id") {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q names %q", err, s)
		}
	}
}

func TestRefreshRotates(t *testing.T) {
	f, p, creds := setup(t)
	first := creds // its refresh token was used by setup
	before := time.Now()
	tok, err := p.Refresh(ctx, creds, true)
	if err != nil || tok.Access == "" || tok.Refresh == "" || tok.Refresh == creds.RefreshToken || tok.Access == creds.Access {
		t.Fatalf("Refresh: %+v, %v; want a new access and refresh token", tok, err)
	}
	if d := tok.Expires.Sub(before); d < xfake.TokenLife-time.Minute || d > xfake.TokenLife+time.Minute {
		t.Errorf("expires in %v, want about %v", d, xfake.TokenLife)
	}
	if n := f.RefreshCount(); n != 2 {
		t.Fatalf("%d refreshes, want 2", n)
	}
	// The refresh token used is void: X refuses its second use.
	_, err = p.Refresh(ctx, creds, false)
	if !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "invalid_request") {
		t.Fatalf("reused refresh token: %v, want ErrRefused naming HTTP 400 invalid_request", err)
	}
	clean(t, err, creds)
	clean(t, err, first)
	if n := f.RefreshCount(); n != 2 {
		t.Errorf("%d refreshes after a refused one, want 2", n)
	}
	// The rotated one works, once; the access token of the first refresh too.
	creds.RefreshToken = tok.Refresh
	refresh(t, p, &creds)
	if _, err := p.Account(ctx, chanbridge.Credentials{Access: tok.Access}); err != nil {
		t.Errorf("an earlier access token, unexpired: %v", err)
	}

	// A revoked grant: refresh refused, its access tokens too.
	f.Revoke(creds.RefreshToken)
	if _, err := p.Refresh(ctx, creds, false); !errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("revoked grant: %v, want ErrRefused", err)
	}
	if _, err := p.Account(ctx, creds); !errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Errorf("access token of a revoked grant: %v, want ErrTokenExpired", err)
	}

	for _, tc := range []struct {
		name  string
		creds chanbridge.Credentials
		code  string
	}{
		{"wrong client secret", chanbridge.Credentials{ClientID: creds.ClientID, ClientSecret: "wrong-client-secret", RefreshToken: "rt-0123456789"}, "HTTP 401"},
		{"no refresh token", chanbridge.Credentials{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret}, "without a refresh token"},
		{"no client", chanbridge.Credentials{RefreshToken: "rt-0123456789"}, "without the OAuth 2.0 client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Refresh(ctx, tc.creds, false)
			if !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Refresh: %v, want ErrRefused naming %q", err, tc.code)
			}
			clean(t, err, tc.creds, "wrong-client-secret")
		})
	}
	if n := f.RefreshCount(); n != 3 {
		t.Errorf("%d refreshes, want 3", n)
	}
}

func TestAccount(t *testing.T) {
	f, p, creds := setup(t)
	acc, err := p.Account(ctx, creds)
	if err != nil || acc != (chanbridge.Account{ID: account, Name: "@acme"}) {
		t.Fatalf("Account: %+v, %v", acc, err)
	}
	f.ExpireAccessTokens()
	_, err = p.Account(ctx, creds)
	if !errors.Is(err, chanbridge.ErrTokenExpired) || errors.Is(err, chanbridge.ErrRefused) || !strings.HasSuffix(err.Error(), "x: HTTP 401 from users/me (Unauthorized)") {
		t.Fatalf("expired token: %v, want ErrTokenExpired only", err)
	}
	clean(t, err, creds)
	if _, err := p.Account(ctx, chanbridge.Credentials{}); !errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Errorf("no access token: %v, want ErrTokenExpired", err)
	}
	// The app's bearer token on users/me: X answers 403.
	app := appBearer(t, f, creds)
	_, err = p.Account(ctx, chanbridge.Credentials{Access: app})
	if !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "Unsupported Authentication") {
		t.Fatalf("403: %v, want ErrRefused naming X's title", err)
	}
	clean(t, err, creds, app)
}

// appBearer is the app's bearer token, obtained from the fake directly.
func appBearer(t *testing.T, f *xfake.Server, creds chanbridge.Credentials) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds.ConsumerKey, creds.ConsumerSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil || ans.AccessToken == "" {
		t.Fatalf("app token: %v", err)
	}
	return ans.AccessToken
}

func TestConnect(t *testing.T) {
	f, p, creds := setup(t)
	acc, err := p.Connect(ctx, creds, hookURL)
	if err != nil || acc != (chanbridge.Account{ID: account, Name: "@acme"}) {
		t.Fatalf("Connect: %+v, %v", acc, err)
	}
	hooks := f.Webhooks()
	if len(hooks) != 1 || hooks[0].URL != hookURL || hooks[0].ConsumerKey != creds.ConsumerKey || strings.Join(hooks[0].Subscribers, ",") != account {
		t.Fatalf("webhooks %+v", hooks)
	}
	// Again: the webhook is reused, not registered twice.
	if _, err := p.Connect(ctx, creds, hookURL); err != nil {
		t.Fatalf("second Connect: %v", err)
	}
	if again := f.Webhooks(); len(again) != 1 || again[0].ID != hooks[0].ID || !f.Subscribed(account) {
		t.Fatalf("webhooks after a second Connect %+v", again)
	}
	// A new URL (a reconnect): the new webhook replaces the old one.
	re := creds
	re.Replaces = hookURL
	if _, err := p.Connect(ctx, re, hookURL+"b"); err != nil || len(f.Webhooks()) != 1 || f.Webhooks()[0].URL != hookURL+"b" {
		t.Fatalf("Connect to another URL: %v, webhooks %+v", err, f.Webhooks())
	}
	if err := p.Disconnect(ctx, creds); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	for _, h := range f.Webhooks() {
		if len(h.Subscribers) != 0 {
			t.Fatalf("webhook %s still has subscribers %v", h.ID, h.Subscribers)
		}
	}
	if f.Subscribed(account) {
		t.Fatal("subscribed after Disconnect")
	}
	if err := p.Disconnect(ctx, creds); err != nil {
		t.Fatalf("Disconnect with nothing subscribed: %v", err)
	}
	if err := p.Disconnect(ctx, chanbridge.Credentials{}); err != nil {
		t.Fatalf("Disconnect without credentials: %v", err)
	}

	for _, tc := range []struct {
		name    string
		creds   func(c chanbridge.Credentials) chanbridge.Credentials
		url     string
		is      error
		code    string
		secrets []string
	}{
		{"wrong consumer secret", func(c chanbridge.Credentials) chanbridge.Credentials {
			c.ConsumerSecret = "wrong-consumer-secret"
			return c
		}, hookURL + "c", chanbridge.ErrRefused, "HTTP 403 from app token (code 99)", []string{"wrong-consumer-secret"}},
		{"invalid webhook URL", func(c chanbridge.Credentials) chanbridge.Credentials { return c }, "ftp://hooks.test/x",
			chanbridge.ErrRefused, "HTTP 400 from webhook registration (Invalid Request", []string{"ftp://", "hooks.test"}},
		{"no consumer key", func(c chanbridge.Credentials) chanbridge.Credentials {
			c.ConsumerKey = ""
			return c
		}, hookURL + "c", xdm.ErrInvalid, "no consumer key", nil},
		{"no webhook URL", func(c chanbridge.Credentials) chanbridge.Credentials { return c }, "", xdm.ErrInvalid, "without a webhook URL", nil},
		{"expired access token", func(c chanbridge.Credentials) chanbridge.Credentials {
			c.Access = "expired-access-token"
			return c
		}, hookURL + "c", chanbridge.ErrTokenExpired, "HTTP 401 from users/me", []string{"expired-access-token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.creds(creds)
			before := f.Webhooks()
			_, err := p.Connect(ctx, c, tc.url)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Connect: %v, want %v naming %q", err, tc.is, tc.code)
			}
			clean(t, err, c, tc.secrets...)
			if after := f.Webhooks(); len(after) != len(before) {
				t.Errorf("%d webhooks after a refused Connect, %d before", len(after), len(before))
			}
		})
	}
}

func TestSend(t *testing.T) {
	f, p, creds := setup(t)
	out := chanbridge.Outbound{To: contact, Text: "your order 42 ships <today> & tomorrow", Key: "m1:0"}
	id, err := p.Send(ctx, creds, out)
	if err != nil || id != strconv.FormatUint(xfake.FirstEventID, 10) {
		t.Fatalf("Send: %q, %v; want the fake's first dm_event_id", id, err)
	}
	s := f.Sends()
	want := xfake.Send{ParticipantID: contact, Text: out.Text, Token: creds.Access, SenderID: account, EventID: id,
		ConversationID: contact + "-" + account}
	if len(s) != 1 || s[0] != want {
		t.Fatalf("sends %+v, want %+v", s, want)
	}
	long := strings.Repeat("ж", xdm.TextLimit)
	if id, err := p.Send(ctx, creds, chanbridge.Outbound{To: contact, Text: long}); err != nil || id != strconv.FormatUint(xfake.FirstEventID+1, 10) {
		t.Fatalf("a text of %d characters: %q, %v", xdm.TextLimit, id, err)
	}

	secret := chanbridge.Credentials{Access: creds.Access}
	for _, tc := range []struct {
		name  string
		fault func()
		out   chanbridge.Outbound
		creds chanbridge.Credentials
		is    error         // nil: transient (neither refused nor expired)
		rate  time.Duration // a RateLimitedError with about this RetryAfter
		code  string        // in the error
	}{
		{"recipient refuses DMs", func() { f.FailNext(1, 403) }, out, creds, chanbridge.ErrRefused, 0,
			"HTTP 403 from send (Forbidden: You are not allowed to create a Direct Message with this recipient.)"},
		{"rate", func() { f.FailNext(1, 429) }, out, creds, nil, xfake.RateLimitWindow, "HTTP 429"},
		{"HTTP 503 is transient", func() { f.FailNext(1, 503) }, out, creds, nil, 0, "HTTP 503"},
		{"HTTP 401 is an expired token", func() { f.FailNext(1, 401) }, out, creds, chanbridge.ErrTokenExpired, 0, "HTTP 401"},
		{"unknown token", func() {}, out, chanbridge.Credentials{Access: "not-a-token-0123"}, chanbridge.ErrTokenExpired, 0, "HTTP 401"},
		{"no token", func() {}, out, chanbridge.Credentials{}, chanbridge.ErrTokenExpired, 0, "without an access token"},
		{"to ourselves", func() {}, chanbridge.Outbound{To: account, Text: out.Text}, creds, chanbridge.ErrRefused, 0, "HTTP 400"},
		{"text over the limit", func() {}, chanbridge.Outbound{To: contact, Text: long + "ж"}, secret, xdm.ErrInvalid, 0, "over 10000"},
		{"no text", func() {}, chanbridge.Outbound{To: contact}, secret, xdm.ErrInvalid, 0, "without text"},
		{"no recipient", func() {}, chanbridge.Outbound{Text: "x"}, secret, xdm.ErrInvalid, 0, "without a recipient"},
		{"recipient not a user id", func() {}, chanbridge.Outbound{To: "../../2/webhooks", Text: "x"}, secret, xdm.ErrInvalid, 0, "not an X user id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			id, err := p.Send(ctx, tc.creds, tc.out)
			if err == nil || id != "" || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Send: %q, %v; want an error naming %q", id, err, tc.code)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v: want %v", err, tc.is)
			}
			if tc.is == nil && (errors.Is(err, chanbridge.ErrRefused) || errors.Is(err, chanbridge.ErrTokenExpired)) {
				t.Errorf("%v: want a transient error", err)
			}
			if errors.Is(err, chanbridge.ErrRefused) && errors.Is(err, chanbridge.ErrTokenExpired) {
				t.Errorf("%v: refused and expired at once", err)
			}
			d, ok := channel.RetryAfter(err)
			if ok != (tc.rate > 0) || d > tc.rate || d < tc.rate-5*time.Second {
				t.Errorf("%v: retry after %v (%v), want about %v", err, d, ok, tc.rate)
			}
			clean(t, err, creds, out.Text, long[:30], "not-a-token-0123")
		})
	}
	if n := len(f.Sends()); n != 2 {
		t.Errorf("%d sends carried out, want 2", n)
	}

	// An expired token answers 401 until the bridge refreshes it.
	f.ExpireAccessTokens()
	if _, err := p.Send(ctx, creds, out); !errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	refresh(t, p, &creds)
	if _, err := p.Send(ctx, creds, out); err != nil {
		t.Fatalf("after a refresh: %v", err)
	}

	f.Close()
	_, err = p.Send(ctx, creds, out)
	if err == nil || errors.Is(err, chanbridge.ErrRefused) || errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Fatalf("Send to a closed server: %v, want a transient error", err)
	}
	clean(t, err, creds, out.Text)
}

// TestErrorAnswers covers answers the fake does not give: Retry-After, a
// 429 without a time, a reason that quotes the request, a 5xx of the token
// endpoint and an answer without an id.
func TestErrorAnswers(t *testing.T) {
	const text = "a private message text"
	var status int
	var header http.Header
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	p := &xdm.Provider{BaseURL: srv.URL + "/"}
	creds := chanbridge.Credentials{Access: "access-token-0123", ClientID: "cid", ClientSecret: "client-secret-0123", RefreshToken: "refresh-token-0123"}
	out := chanbridge.Outbound{To: contact, Text: text}

	status, header, body = 429, http.Header{"Retry-After": {"30"}}, `{"title":"Too Many Requests"}`
	if d, ok := channel.RetryAfter(sendErr(t, p, creds, out)); !ok || d != 30*time.Second {
		t.Errorf("Retry-After 30: %v %v", d, ok)
	}
	status, header = 429, http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}}
	if d, ok := channel.RetryAfter(sendErr(t, p, creds, out)); !ok || d != time.Second {
		t.Errorf("a reset past: %v %v, want a second", d, ok)
	}
	status, header = 429, nil
	if d, ok := channel.RetryAfter(sendErr(t, p, creds, out)); !ok || d != xdm.RetryAfterDefault {
		t.Errorf("no time named: %v %v", d, ok)
	}
	status, body = 403, `{"title":"Forbidden","detail":"cannot send \"`+text+`\"","errors":[{"message":"`+text+`"}]}`
	if err := sendErr(t, p, creds, out); !errors.Is(err, chanbridge.ErrRefused) || strings.Contains(err.Error(), "private") {
		t.Errorf("a reason quoting the text: %v, want ErrRefused without it", err)
	}
	status, body = 503, `{"title":"Service Unavailable"}`
	_, err := p.Refresh(ctx, creds, false)
	if err == nil || errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "HTTP 503 from refresh") {
		t.Errorf("refresh 503: %v, want transient", err)
	}
	clean(t, err, creds)
	status, body = 201, `{"data":{}}`
	if err := sendErr(t, p, creds, out); errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "without a dm_event_id") {
		t.Errorf("no id: %v", err)
	}
	status, body = 200, `not json`
	if _, err := p.Refresh(ctx, creds, false); err == nil || errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("refresh answer not JSON: %v", err)
	}
}

func sendErr(t *testing.T, p *xdm.Provider, creds chanbridge.Credentials, out chanbridge.Outbound) error {
	t.Helper()
	id, err := p.Send(ctx, creds, out)
	if err == nil || id != "" {
		t.Fatalf("Send: %q, %v; want an error", id, err)
	}
	clean(t, err, creds, out.Text)
	return err
}

func TestFetchRefuses(t *testing.T) {
	p := &xdm.Provider{BaseURL: "http://127.0.0.1:1"}
	data, ct, err := p.Fetch(ctx, chanbridge.Credentials{Access: "a"}, channel.Attachment{URL: "https://ton.twitter.com/x.jpg", MediaID: "1"}, 100)
	if !errors.Is(err, chanbridge.ErrRefused) || data != nil || ct != "" || !strings.Contains(err.Error(), "not copied") {
		t.Fatalf("Fetch: %q %q %v", data, ct, err)
	}
}

func TestParts(t *testing.T) {
	p := &xdm.Provider{}
	for _, tc := range []struct {
		name string
		text string
		n    int
	}{
		{"empty", "", 0},
		{"at the limit", strings.Repeat("ж", 10000), 1},
		{"one over", strings.Repeat("ж", 10001), 2},
		{"words", strings.Repeat("word ", 4001), 3},
	} {
		parts := p.Parts(tc.text)
		if len(parts) != tc.n || strings.Join(parts, "") != tc.text {
			t.Errorf("%s: %d parts, want %d, joined equal to the text", tc.name, len(parts), tc.n)
		}
		for i, part := range parts {
			if n := utf8.RuneCountInString(part); n == 0 || n > xdm.TextLimit {
				t.Errorf("%s: part %d of %d runes", tc.name, i, n)
			}
		}
	}
}

func TestProviderBasics(t *testing.T) {
	p := &xdm.Provider{}
	creds := chanbridge.Credentials{ConsumerKey: "ck", ConsumerSecret: consumerSecret, ClientSecret: "other"}
	if p.Inbound().Channel() != "x" || p.VerifySecret(creds) != consumerSecret || p.VerifySecret(chanbridge.Credentials{}) != "" {
		t.Errorf("Inbound %q, VerifySecret %q", p.Inbound().Channel(), p.VerifySecret(creds))
	}
	if l := p.Limit(); l != (channel.RateLimit{PerSecond: 1, Burst: 5, Scope: channel.ScopeAccount}) {
		t.Errorf("Limit %+v", l)
	}
	// The secret VerifySecret picks verifies the fake's signed payloads end
	// to end.
	body := xfake.DM(account, "77", contact, "Ana", "hi", at)
	evs, err := channel.Receive(p.Inbound(), signed(t, body, consumerSecret), p.VerifySecret(creds))
	if err != nil || len(evs) != 1 || evs[0].DedupeKey != "77" {
		t.Fatalf("Receive: %+v, %v", evs, err)
	}
	if _, err := channel.Receive(p.Inbound(), signed(t, body, consumerSecret), p.VerifySecret(chanbridge.Credentials{})); !errors.Is(err, channel.ErrUnverified) {
		t.Fatalf("Receive without a secret: %v", err)
	}
	if !errors.Is(xdm.ErrInvalid, chanbridge.ErrRefused) || !errors.Is(xdm.ErrMediaNotCopied, chanbridge.ErrRefused) {
		t.Error("ErrInvalid or ErrMediaNotCopied does not wrap ErrRefused")
	}
	if (&xdm.Provider{}).BaseURL != "" || xdm.DefaultBaseURL != "https://api.x.com" {
		t.Error("default base URL")
	}
	if _, err := url.Parse(xdm.DefaultBaseURL); err != nil {
		t.Error(err)
	}
}

// A reconnect (a new webhook URL) works within X's per-app webhook limit:
// the replaced integration's webhook goes, another webhook of the app (of
// another integration, or not ours) stays, and the account is subscribed to
// the new one.
func TestReconnectReplacesTheOldWebhook(t *testing.T) {
	f, p, creds := setup(t)
	f.SetWebhookLimit(2)
	if _, err := p.Connect(ctx, creds, hookURL); err != nil {
		t.Fatal(err)
	}
	other := "https://api.livesupportbot.test/webhooks/x/wh-of-another-integration"
	app := appBearer(t, f, creds)
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/2/webhooks", strings.NewReader(`{"url":"`+other+`"}`))
	req.Header.Set("Authorization", "Bearer "+app)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("another webhook of the app: %v %v", err, res)
	}
	res.Body.Close()
	next := "https://api.livesupportbot.test/webhooks/x/wh-secret-id-2"
	re := creds
	re.Replaces = hookURL
	if _, err := p.Connect(ctx, re, next); err != nil {
		t.Fatalf("reconnect at the limit: %v", err)
	}
	var urls []string
	for _, h := range f.Webhooks() {
		urls = append(urls, h.URL)
		if h.URL == next && strings.Join(h.Subscribers, ",") != account {
			t.Errorf("the new webhook's subscribers %v", h.Subscribers)
		}
	}
	slices.Sort(urls)
	if want := []string{other, next}; !slices.Equal(urls, want) {
		t.Errorf("webhooks %v, want %v", urls, want)
	}
}
