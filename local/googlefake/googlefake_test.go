package googlefake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// post posts form to the fake's path (basic: HTTP Basic client auth).
func post(t *testing.T, s *Server, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans map[string]any
	_ = json.NewDecoder(res.Body).Decode(&ans)
	return res.StatusCode, ans
}

func detect(t *testing.T, s *Server, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &ans)
	return res.StatusCode, ans
}

func TestTokenEndpoint(t *testing.T) {
	s := New(t)
	s.AddClient("id", "secret")
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	code := s.IssueCode("id")
	if st, ans := post(t, s, form("grant_type", "authorization_code", "code", code, "client_id", "id", "client_secret", "nope")); st != 401 || ans["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, ans)
	}
	st, ans := post(t, s, form("grant_type", "authorization_code", "code", code), "id", "secret")
	rt, _ := ans["refresh_token"].(string)
	if st != 200 || !strings.HasPrefix(rt, "1//") || ans["token_type"] != "Bearer" || ans["expires_in"] != float64(3599) || ans["scope"] != Scope {
		t.Fatalf("exchange: %d %v", st, ans)
	}
	parts := strings.Split(ans["id_token"].(string), ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if len(parts) != 3 || !strings.Contains(string(claims), `"email":"account1@example.com"`) || !strings.Contains(string(claims), `"locale"`) {
		t.Errorf("id_token claims %s", claims)
	}
	if st, ans := post(t, s, form("grant_type", "authorization_code", "code", code, "client_id", "id", "client_secret", "secret")); st != 400 || ans["error"] != "invalid_grant" {
		t.Fatalf("a used code: %d %v", st, ans)
	}
	st, ans = post(t, s, form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "id", "client_secret", "secret"))
	if st != 200 || ans["refresh_token"] != nil || ans["access_token"] == nil || s.RefreshCount() != 1 {
		t.Fatalf("refresh: %d %v", st, ans)
	}
	if !s.Revoke(rt) || s.Revoke(rt) {
		t.Error("Revoke does not report a live token")
	}
	st, ans = post(t, s, form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "id", "client_secret", "secret"))
	if st != 400 || ans["error"] != "invalid_grant" || ans["error_description"] != "Token has been expired or revoked." || s.RefreshCount() != 1 {
		t.Fatalf("revoked: %d %v", st, ans)
	}
	if st, ans := post(t, s, form("grant_type", "password"), "id", "secret"); st != 400 || ans["error"] != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %v", st, ans)
	}

	// AcceptAnyClient: any client and code; codes still single-use.
	s.AcceptAnyClient()
	if st, ans := post(t, s, form("grant_type", "authorization_code", "code", "anything"), "other", "x"); st != 200 || ans["refresh_token"] == nil {
		t.Fatalf("accept any: %d %v", st, ans)
	}
	if st, _ := post(t, s, form("grant_type", "authorization_code", "code", "anything"), "other", "x"); st != 400 {
		t.Fatalf("accept any, a used code: %d", st)
	}
	if st, _ := post(t, s, form("grant_type", "refresh_token", "refresh_token", "1//from-before"), "other", "x"); st != 200 {
		t.Fatalf("accept any, an unknown refresh token: %d", st)
	}
	if st, _ := post(t, s, form("grant_type", "refresh_token", "refresh_token", rt, "client_id", "id", "client_secret", "secret")); st != 400 {
		t.Fatalf("accept any, revoked: %d", st)
	}
}

func TestAuthorize(t *testing.T) {
	s := New(t)
	s.AddClient("id", "secret")
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	consent := func(q url.Values) (int, url.Values) {
		res, err := hc.Get(s.AuthURL() + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		if loc == nil {
			return res.StatusCode, nil
		}
		return res.StatusCode, loc.Query()
	}
	q := url.Values{"client_id": {"id"}, "redirect_uri": {"https://app.example/cb?x=1"}, "response_type": {"code"},
		"scope": {Scope}, "state": {"s1"}, "access_type": {"offline"}}
	st, got := consent(q)
	if st != 302 || got.Get("state") != "s1" || got.Get("x") != "1" || got.Get("code") == "" {
		t.Fatalf("consent: %d %v", st, got)
	}
	exchange := func(code, redirect string) map[string]any {
		_, ans := post(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
			"client_id": {"id"}, "client_secret": {"secret"}})
		return ans
	}
	if ans := exchange(got.Get("code"), "https://other.example/cb"); ans["error"] != "redirect_uri_mismatch" {
		t.Fatalf("another redirect_uri: %v", ans)
	}
	if ans := exchange(got.Get("code"), "https://app.example/cb?x=1"); ans["refresh_token"] == nil {
		t.Fatalf("first offline consent: %v", ans)
	}
	_, got = consent(q)
	if ans := exchange(got.Get("code"), "https://app.example/cb?x=1"); ans["refresh_token"] != nil || ans["access_token"] == nil {
		t.Fatalf("second consent without prompt=consent: %v", ans)
	}
	q.Set("prompt", "consent")
	_, got = consent(q)
	if ans := exchange(got.Get("code"), "https://app.example/cb?x=1"); ans["refresh_token"] == nil {
		t.Fatalf("prompt=consent: %v", ans)
	}
	q.Set("client_id", "unknown")
	if st, _ := consent(q); st != 401 {
		t.Fatalf("unknown client: %d", st)
	}
}

func TestParsePath(t *testing.T) {
	cases := map[string]Call{
		"/v2/projects/p/agent/sessions/s:detectIntent":                                    {Edition: "es", Project: "p", Location: "global", Session: "s"},
		"/v2/projects/p/agent/environments/e/users/-/sessions/s:detectIntent":             {Edition: "es", Project: "p", Location: "global", Environment: "e", Session: "s"},
		"/v2/projects/p/locations/eu-w1/agent/sessions/s:detectIntent":                    {Edition: "es", Project: "p", Location: "eu-w1", Session: "s"},
		"/v2/projects/p/locations/l/agent/environments/e/users/u/sessions/s:detectIntent": {Edition: "es", Project: "p", Location: "l", Environment: "e", Session: "s"},
		"/v3/projects/p/locations/l/agents/a/sessions/s:detectIntent":                     {Edition: "cx", Project: "p", Location: "l", Agent: "a", Session: "s"},
		"/v3/projects/p/locations/l/agents/a/environments/e/sessions/s:detectIntent":      {Edition: "cx", Project: "p", Location: "l", Agent: "a", Environment: "e", Session: "s"},
	}
	for p, want := range cases {
		if got, ok := parsePath(p); !ok || got != want {
			t.Errorf("%s: %+v %v", p, got, ok)
		}
	}
	for _, p := range []string{"/v2/projects/p/agent/sessions/s", "/v2/projects/p/agent/sessions/:detectIntent",
		"/v2/projects/p/agents/a/sessions/s:detectIntent", "/v3/projects/p/agents/a/sessions/s:detectIntent",
		"/v2/projects/p/agent/environments/e/sessions/s:detectIntent", "/v2/projects/p/agent/sessions/s/x:detectIntent",
		"/v4/projects/p/agent/sessions/s:detectIntent"} {
		if c, ok := parsePath(p); ok {
			t.Errorf("%s parsed: %+v", p, c)
		}
	}
}

func TestDetectIntent(t *testing.T) {
	s := New(t)
	s.AddClient("id", "secret")
	_, ans := post(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {s.IssueCode("id")}}, "id", "secret")
	tok := ans["access_token"].(string)
	const es = "/v2/projects/p/agent/sessions/s1:detectIntent"
	body := `{"queryInput":{"text":{"text":"hello","languageCode":"en"}}}`
	if st, ans := detect(t, s, es, "", body); st != 401 || ans["error"].(map[string]any)["status"] != "UNAUTHENTICATED" {
		t.Fatalf("no token: %d %v", st, ans)
	}
	if st, _ := detect(t, s, es, "ya29.forged", body); st != 401 {
		t.Fatalf("a forged token: %d", st)
	}
	st, ans := detect(t, s, es, tok, body)
	qr, _ := ans["queryResult"].(map[string]any)
	if st != 200 || qr["fulfillmentText"] != "Bot: hello" {
		t.Fatalf("answer: %d %v", st, ans)
	}
	if st, _ := detect(t, s, es, tok, `{"queryInput":{"text":{"text":"hello"}}}`); st != 400 {
		t.Fatalf("ES without a language: %d", st)
	}
	if st, _ := detect(t, s, es, tok, `{"queryInput":{"text":{"text":"`+strings.Repeat("a", 257)+`","languageCode":"en"}}}`); st != 400 {
		t.Fatalf("a text over 256: %d", st)
	}
	s.Respond(func(c Call) (int, any) {
		if c.Text == "teapot" {
			return 418, "short and stout"
		}
		return 0, nil
	})
	if st, _ := detect(t, s, es, tok, `{"queryInput":{"text":{"text":"teapot","languageCode":"en"}}}`); st != 418 {
		t.Fatalf("Respond: %d", st)
	}
	if st, _ := detect(t, s, es, tok, body); st != 200 {
		t.Fatalf("Respond falling back: %d", st)
	}
	s.ExpireAccessTokens()
	if st, _ := detect(t, s, es, tok, body); st != 401 {
		t.Fatalf("expired: %d", st)
	}
	calls := s.Calls()
	if len(calls) != 8 || s.CallsFor("s1") != 8 || s.CallsFor("other") != 0 {
		t.Fatalf("%d calls", len(calls))
	}
	statuses := []int{401, 401, 200, 400, 400, 418, 200, 401}
	for i, want := range statuses {
		if calls[i].Status != want {
			t.Errorf("call %d: status %d, want %d", i, calls[i].Status, want)
		}
	}
	if c := calls[2]; c.Text != "hello" || c.Language != "en" || c.Token != tok || c.Edition != "es" {
		t.Errorf("call recorded %+v", c)
	}
}

func TestSlowEndsWithTheRequest(t *testing.T) {
	s := New(t)
	s.AddClient("id", "secret")
	_, ans := post(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {s.IssueCode("id")}}, "id", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v3/projects/p/locations/global/agents/2b1e2a4c-9f0e-4c2b-8a53-0f6a2d1e7c44/sessions/s:detectIntent",
		strings.NewReader(`{"queryInput":{"text":{"text":"slow"},"languageCode":"en"}}`))
	req.Header.Set("Authorization", "Bearer "+ans["access_token"].(string))
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("a slow answer came")
	}
	for time.Since(start) < 2*time.Second && s.Calls()[0].Status == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Calls()[0].Status; st != 499 {
		t.Fatalf("the slow handler did not end with its request: status %d", st)
	}
}
