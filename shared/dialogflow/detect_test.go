package dialogflow_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/local/googlefake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/dialogflow"
)

var (
	esSettings = dialogflow.Settings{Edition: "es", Project: "shop-bot-123", Language: "en"}
	cxSettings = dialogflow.Settings{Edition: "cx", Project: "shop-bot-123", Location: "europe-west1", Agent: agentID, Language: "en"}
)

const session = "cv01hq3n5v8x2k9m4p7r6t0w2y"

type env struct {
	fake   *googlefake.Server
	cfg    *oauth2.Config
	rt     string
	ts     oauth2.TokenSource
	client *dialogflow.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake, cfg := newFake(t)
	rt := grant(t, fake, cfg)
	return &env{fake: fake, cfg: cfg, rt: rt, ts: dialogflow.TokenSource(context.Background(), cfg, rt),
		client: &dialogflow.Client{BaseURL: fake.URL()}}
}

func (e *env) detect(t *testing.T, s dialogflow.Settings, text, ch string) (*dialogflow.Result, error) {
	t.Helper()
	return e.client.DetectIntent(context.Background(), e.ts, s, session, text, ch)
}

// clean checks err names no token, secret, text or URL.
func (e *env) clean(t *testing.T, err error, text string) {
	t.Helper()
	msg := err.Error()
	secrets := []string{e.rt, clientSecret, text, e.fake.URL(), "http://", "127.0.0.1"}
	for _, c := range e.fake.Calls() {
		secrets = append(secrets, c.Token)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

func TestDetectIntentES(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		s                  dialogflow.Settings
		location, envID    string
		channel            string
		want               []string
		wantCallLanguageID string
	}{
		{esSettings, "global", "", "widget", []string{"Bot: Where is my order?"}, "en"},
		{esSettings, "global", "", "telegram", []string{"Bot (telegram): Where is my order?"}, "en"},
		{esSettings, "global", "", "viber", []string{"Bot: Where is my order?"}, "en"},
		{func() dialogflow.Settings { s := esSettings; s.Environment = "production"; s.Language = "de"; return s }(),
			"global", "production", "widget", []string{"Bot: Where is my order?"}, "de"},
		{func() dialogflow.Settings { s := esSettings; s.Location = "europe-west2"; return s }(),
			"europe-west2", "", "widget", []string{"Bot: Where is my order?"}, "en"},
		{func() dialogflow.Settings {
			s := esSettings
			s.Location = "europe-west2"
			s.Environment = "prod"
			return s
		}(),
			"europe-west2", "prod", "telegram", []string{"Bot (telegram): Where is my order?"}, "en"},
		{dialogflow.Settings{Edition: " ES ", Project: "shop-bot-123"}, "global", "", "widget", []string{"Bot: Where is my order?"}, "en"},
	}
	for i, c := range cases {
		r, err := e.detect(t, c.s, "  Where is my order?\n", c.channel)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !slices.Equal(r.Texts, c.want) || r.Handoff || r.End {
			t.Errorf("%d: %+v, want texts %q", i, r, c.want)
		}
		calls := e.fake.Calls()
		got := calls[len(calls)-1]
		want := googlefake.Call{Edition: "es", Project: "shop-bot-123", Location: c.location, Environment: c.envID,
			Session: session, Text: "Where is my order?", Language: c.wantCallLanguageID, Token: got.Token, Status: 200}
		if got != want || !strings.HasPrefix(got.Token, "ya29.") {
			t.Errorf("%d: call %+v, want %+v", i, got, want)
		}
	}
	if n := e.fake.RefreshCount(); n != 1 {
		t.Errorf("%d refreshes for %d calls, want 1", n, len(cases))
	}
	if n := e.fake.CallsFor(session); n != len(cases) {
		t.Errorf("CallsFor = %d, want %d", n, len(cases))
	}
}

func TestDetectIntentCX(t *testing.T) {
	e := newEnv(t)
	const envID = "7d2c9a10-3b4e-4f61-9c8d-2e5f6a7b8c90"
	cases := []struct {
		s       dialogflow.Settings
		envID   string
		channel string
		want    []string
	}{
		{cxSettings, "", "widget", []string{"Bot: hi"}},
		{cxSettings, "", "telegram", []string{"Bot: hi", "Bot (telegram): hi"}},
		{func() dialogflow.Settings { s := cxSettings; s.Environment = envID; return s }(), envID, "widget", []string{"Bot: hi"}},
		{func() dialogflow.Settings { s := cxSettings; s.Location = "global"; s.Language = "fr"; return s }(), "", "", []string{"Bot: hi"}},
	}
	for i, c := range cases {
		r, err := e.detect(t, c.s, "hi", c.channel)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !slices.Equal(r.Texts, c.want) || r.Handoff || r.End {
			t.Errorf("%d: %+v, want texts %q", i, r, c.want)
		}
		calls := e.fake.Calls()
		got := calls[len(calls)-1]
		want := googlefake.Call{Edition: "cx", Project: "shop-bot-123", Location: c.s.Normalize().Location, Agent: agentID,
			Environment: c.envID, Session: session, Text: "hi", Language: c.s.Language, Channel: c.channel, Token: got.Token, Status: 200}
		if got != want {
			t.Errorf("%d: call %+v, want %+v", i, got, want)
		}
	}
}

func TestDetectIntentHandoffAndEnd(t *testing.T) {
	e := newEnv(t)
	for _, s := range []dialogflow.Settings{esSettings, cxSettings} {
		for _, ch := range []string{"widget", "telegram"} {
			r, err := e.detect(t, s, "Can I talk to a human?", ch)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Handoff || r.End || !slices.Equal(r.Texts, []string{googlefake.HandoffText}) {
				t.Errorf("%s %s handoff: %+v", s.Edition, ch, r)
			}
		}
		r, err := e.detect(t, s, "ok bye", "widget")
		if err != nil {
			t.Fatal(err)
		}
		if r.Handoff || !r.End || !slices.Equal(r.Texts, []string{"Bot: ok bye"}) {
			t.Errorf("%s end: %+v", s.Edition, r)
		}
	}
	// An ES handoff payload of another platform is not ours.
	e.fake.Respond(func(googlefake.Call) (int, any) {
		return 200, `{"queryResult":{"fulfillmentMessages":[{"platform":"TELEGRAM","payload":{"handoff":true}},
			{"text":{"text":["one moment"]}}]}}`
	})
	for ch, want := range map[string]bool{"widget": false, "line": false, "telegram": true} {
		r, err := e.detect(t, esSettings, "x", ch)
		if err != nil || r.Handoff != want {
			t.Errorf("ES payload of TELEGRAM on %s: %+v %v", ch, r, err)
		}
	}
}

func TestDetectIntentErrors(t *testing.T) {
	e := newEnv(t)
	for _, s := range []dialogflow.Settings{esSettings, cxSettings} {
		_, err := e.detect(t, s, "please fail now", "widget")
		var se *dialogflow.StatusError
		if err == nil || !errors.As(err, &se) || se.HTTPStatus != 500 || se.Reason != "INTERNAL" ||
			errors.Is(err, dialogflow.ErrAuth) || errors.Is(err, dialogflow.ErrRefused) {
			t.Fatalf("%s 500: %v", s.Edition, err)
		}
		if _, limited := channel.RetryAfter(err); limited {
			t.Errorf("a 500 is rate limited: %v", err)
		}
		e.clean(t, err, "please fail now")

		_, err = e.detect(t, s, "quota test", "widget")
		if d, ok := channel.RetryAfter(err); !ok || d != dialogflow.RetryAfterDefault || !strings.Contains(err.Error(), "RESOURCE_EXHAUSTED") {
			t.Fatalf("%s 429: %v (%s)", s.Edition, err, d)
		}
		e.clean(t, err, "quota test")
	}

	e.fake.Respond(func(c googlefake.Call) (int, any) {
		switch c.Text {
		case "no agent":
			return 404, map[string]any{"error": map[string]any{"code": 404, "status": "NOT_FOUND",
				"message": "com.google.apps.framework.request.NotFoundException: No DesignTimeAgent found for project 'shop-bot-123'."}}
		case "denied":
			return 403, map[string]any{"error": map[string]any{"code": 403, "status": "PERMISSION_DENIED",
				"message": "Dialogflow API has not been used in project 123 before or it is disabled."}}
		case "503 exhausted":
			return 503, map[string]any{"error": map[string]any{"code": 503, "status": "RESOURCE_EXHAUSTED",
				"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}}}}
		case "garbage":
			return 200, "<html>not json"
		case "empty":
			return 200, "{}"
		case "huge":
			return 200, `{"queryResult":{"fulfillmentText":"` + strings.Repeat("a", 1<<20) + `"}}`
		case "html 502":
			return 502, "<html>Bad Gateway</html>"
		}
		return 0, nil
	})
	check := func(text string, ok func(error) bool) {
		t.Helper()
		_, err := e.detect(t, esSettings, text, "widget")
		if err == nil || !ok(err) {
			t.Errorf("%q: %v", text, err)
			return
		}
		e.clean(t, err, text)
	}
	check("no agent", func(err error) bool {
		return errors.Is(err, dialogflow.ErrRefused) && strings.Contains(err.Error(), "NOT_FOUND") && !strings.Contains(err.Error(), "DesignTime")
	})
	check("denied", func(err error) bool {
		return errors.Is(err, dialogflow.ErrAuth) && strings.Contains(err.Error(), "PERMISSION_DENIED")
	})
	check("503 exhausted", func(err error) bool { d, ok := channel.RetryAfter(err); return ok && d == 7*time.Second })
	check("garbage", func(err error) bool { return !errors.Is(err, dialogflow.ErrRefused) })
	check("huge", func(err error) bool { return strings.Contains(err.Error(), "over") })
	check("html 502", func(err error) bool {
		var se *dialogflow.StatusError
		return errors.As(err, &se) && se.HTTPStatus == 502 && se.Reason == ""
	})
	if r, err := e.detect(t, esSettings, "empty", "widget"); err != nil || len(r.Texts) != 0 || r.Handoff {
		t.Errorf("empty answer: %+v %v", r, err)
	}
	e.fake.Respond(nil)

	// Invalid requests are not sent.
	before := len(e.fake.Calls())
	for _, c := range []struct {
		s             dialogflow.Settings
		session, text string
	}{
		{dialogflow.Settings{Edition: "cx", Project: "shop-bot-123"}, session, "hi"},
		{esSettings, "a/b", "hi"},
		{esSettings, strings.Repeat("a", 37), "hi"},
		{esSettings, session, " \n "},
	} {
		if _, err := e.client.DetectIntent(context.Background(), e.ts, c.s, c.session, c.text, "widget"); !errors.Is(err, dialogflow.ErrInvalid) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := e.client.DetectIntent(context.Background(), nil, esSettings, session, "hi", "widget"); !errors.Is(err, dialogflow.ErrInvalid) {
		t.Errorf("nil token source: %v", err)
	}
	if n := len(e.fake.Calls()); n != before {
		t.Errorf("%d invalid requests sent", n-before)
	}

	// A long text is cut to 256 characters.
	long := strings.Repeat("é", 300)
	if _, err := e.detect(t, esSettings, long, "widget"); err != nil {
		t.Fatal(err)
	}
	calls := e.fake.Calls()
	if got := calls[len(calls)-1].Text; utf8.RuneCountInString(got) != dialogflow.MaxText || !strings.HasPrefix(long, got) {
		t.Errorf("sent %d characters", utf8.RuneCountInString(got))
	}
}

func TestDetectIntentAuth(t *testing.T) {
	e := newEnv(t)
	if _, err := e.detect(t, esSettings, "hi", "widget"); err != nil {
		t.Fatal(err)
	}
	// The access token expired early at Google: 401, ErrAuth; a new token
	// source refreshes.
	e.fake.ExpireAccessTokens()
	_, err := e.detect(t, cxSettings, "hi", "widget")
	if !errors.Is(err, dialogflow.ErrAuth) || errors.Is(err, dialogflow.ErrRevoked) || !strings.Contains(err.Error(), "UNAUTHENTICATED") {
		t.Fatalf("expired access token: %v", err)
	}
	e.clean(t, err, "hi")
	e.ts = dialogflow.TokenSource(context.Background(), e.cfg, e.rt)
	if _, err := e.detect(t, cxSettings, "hi", "widget"); err != nil {
		t.Fatalf("after a new token source: %v", err)
	}

	// The owner revoked the grant: the access token in memory is refused
	// (ErrAuth), and the refresh is invalid_grant (ErrRevoked).
	e.fake.Revoke(e.rt)
	if _, err := e.detect(t, esSettings, "hi", "widget"); !errors.Is(err, dialogflow.ErrAuth) {
		t.Fatalf("revoked, the access token in memory: %v", err)
	}
	e.ts = dialogflow.TokenSource(context.Background(), e.cfg, e.rt)
	before := len(e.fake.Calls())
	_, err = e.detect(t, esSettings, "secret words", "widget")
	if !errors.Is(err, dialogflow.ErrRevoked) || errors.Is(err, dialogflow.ErrAuth) {
		t.Fatalf("revoked: %v", err)
	}
	e.clean(t, err, "secret words")
	if n := len(e.fake.Calls()); n != before {
		t.Errorf("detectIntent called without a token")
	}
}

// blockingSource never answers until its test ends.
type blockingSource struct{ done <-chan struct{} }

func (b blockingSource) Token() (*oauth2.Token, error) {
	<-b.done
	return nil, errors.New("test over")
}

func TestDetectIntentTimeout(t *testing.T) {
	e := newEnv(t)
	e.client.Timeout = 300 * time.Millisecond
	for _, s := range []dialogflow.Settings{esSettings, cxSettings} {
		start := time.Now()
		_, err := e.detect(t, s, "be slow", "widget")
		if took := time.Since(start); took > 2*time.Second || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s slow answer: %v after %s", s.Edition, err, took)
		}
		e.clean(t, err, "be slow")
	}

	// A token refresh that hangs is bounded by the call's timeout too.
	done := make(chan struct{})
	defer close(done)
	start := time.Now()
	_, err := e.client.DetectIntent(context.Background(), blockingSource{done}, esSettings, session, "hi", "widget")
	if took := time.Since(start); took > 2*time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging refresh: %v after %s", err, took)
	}

	// The caller's context is honoured.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	e.client.Timeout = 0
	start = time.Now()
	_, err = e.client.DetectIntent(ctx, e.ts, esSettings, session, "slow again", "widget")
	if took := time.Since(start); took > 2*time.Second || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v after %s", err, took)
	}
}

func TestDetectIntentNoRedirect(t *testing.T) {
	e := newEnv(t)
	stolen := make(chan string, 1)
	other := googlefake.New(t)
	e.client.BaseURL = other.URL() // a server that redirects elsewhere
	e.client.HTTPClient = &http.Client{Transport: redirector{to: e.fake.URL(), seen: stolen}}
	_, err := e.detect(t, esSettings, "hi", "widget")
	if err == nil {
		t.Fatal("a redirect was followed")
	}
	if n := len(e.fake.Calls()); n != 0 {
		t.Fatalf("the redirect's target got %d calls", n)
	}
	if tok := <-stolen; !strings.HasPrefix(tok, "Bearer ya29.") {
		t.Fatalf("the base transport saw no bearer token: %q", tok)
	}
}

// redirector answers every request with a 307 to its target.
type redirector struct {
	to   string
	seen chan string
}

func (r redirector) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case r.seen <- req.Header.Get("Authorization"):
	default:
	}
	h := http.Header{"Location": {r.to + req.URL.Path}}
	return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: h, Body: http.NoBody, Request: req}, nil
}
