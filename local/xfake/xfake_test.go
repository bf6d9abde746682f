package xfake_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/xfake"
)

// do makes a request to the fake and returns the status and the decoded
// answer. auth is "basic:<user>:<password>" or a bearer token.
func do(t *testing.T, f *xfake.Server, method, path, auth, ctype, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL()+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if b, ok := strings.CutPrefix(auth, "basic:"); ok {
		u, p, _ := strings.Cut(b, ":")
		req.SetBasicAuth(u, p)
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var ans map[string]any
	json.Unmarshal(raw, &ans)
	return res.StatusCode, ans, res.Header
}

const form = "application/x-www-form-urlencoded"

func refresh(t *testing.T, f *xfake.Server, a xfake.Account, rt string) (int, map[string]any) {
	t.Helper()
	code, ans, _ := do(t, f, "POST", "/2/oauth2/token", "basic:"+a.ClientID+":"+a.ClientSecret, form,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
	return code, ans
}

func data(ans map[string]any) map[string]any { d, _ := ans["data"].(map[string]any); return d }

func TestRefreshRotatesAndTokens(t *testing.T) {
	f := xfake.New(t)
	a := f.AddAccount(xfake.Account{UserID: "100", Username: "acme"})
	if a.ConsumerKey == "" || a.ConsumerSecret == "" || a.ClientID == "" || a.ClientSecret == "" || a.RefreshToken == "" || a.Name == "" {
		t.Fatalf("AddAccount left blanks: %+v", a)
	}
	code, ans := refresh(t, f, a, a.RefreshToken)
	next, _ := ans["refresh_token"].(string)
	tok, _ := ans["access_token"].(string)
	if code != 200 || next == "" || next == a.RefreshToken || tok == "" || ans["token_type"] != "bearer" || ans["expires_in"] != 7200.0 {
		t.Fatalf("refresh: %d %v", code, ans)
	}
	if code, ans := refresh(t, f, a, a.RefreshToken); code != 400 || ans["error"] != "invalid_request" {
		t.Fatalf("reused refresh token: %d %v", code, ans)
	}
	if code, _ := refresh(t, f, xfake.Account{ClientID: a.ClientID, ClientSecret: "wrong"}, next); code != 401 {
		t.Fatalf("wrong client secret: %d", code)
	}
	if f.RefreshCount() != 1 {
		t.Fatalf("RefreshCount %d", f.RefreshCount())
	}
	if code, ans, _ := do(t, f, "GET", "/2/users/me", tok, "", ""); code != 200 || data(ans)["id"] != "100" || data(ans)["username"] != "acme" {
		t.Fatalf("users/me: %d %v", code, ans)
	}
	f.ExpireAccessTokens()
	if code, _, _ := do(t, f, "GET", "/2/users/me", tok, "", ""); code != 401 {
		t.Fatalf("expired token: %d", code)
	}
	code, ans = refresh(t, f, a, next)
	tok, _ = ans["access_token"].(string)
	if code != 200 || f.RefreshCount() != 2 {
		t.Fatalf("refresh after expiry: %d %v", code, ans)
	}
	if !f.Revoke(ans["refresh_token"].(string)) || f.Revoke("unknown") {
		t.Fatal("Revoke of a live token false, or of an unknown one true")
	}
	if code, _, _ := do(t, f, "GET", "/2/users/me", tok, "", ""); code != 401 {
		t.Fatalf("token of a revoked grant: %d", code)
	}
	if code, _ := refresh(t, f, a, ans["refresh_token"].(string)); code != 400 {
		t.Fatalf("refresh of a revoked grant: %d", code)
	}
}

func TestWebhooksSubscriptionsAndSends(t *testing.T) {
	f := xfake.New(t)
	a := f.AddAccount(xfake.Account{UserID: "100"})
	_, ans := refresh(t, f, a, a.RefreshToken)
	user := ans["access_token"].(string)
	if code, _, _ := do(t, f, "POST", "/oauth2/token", "basic:"+a.ConsumerKey+":wrong", form, "grant_type=client_credentials"); code != 403 {
		t.Fatalf("wrong consumer secret: %d", code)
	}
	_, ans, _ = do(t, f, "POST", "/oauth2/token", "basic:"+a.ConsumerKey+":"+a.ConsumerSecret, form, "grant_type=client_credentials")
	app, _ := ans["access_token"].(string)
	if app == "" {
		t.Fatalf("app token: %v", ans)
	}
	if code, _, _ := do(t, f, "GET", "/2/users/me", app, "", ""); code != 403 {
		t.Fatalf("users/me with the app's token: %d", code)
	}
	if code, ans, _ := do(t, f, "GET", "/2/webhooks", app, "", ""); code != 200 || ans["data"] != nil {
		t.Fatalf("no webhooks: %d %v", code, ans)
	}
	code, ans, _ := do(t, f, "POST", "/2/webhooks", app, "application/json", `{"url":"https://hooks.test/x/1"}`)
	id, _ := data(ans)["id"].(string)
	if code != 200 || id != strconv.FormatUint(xfake.FirstWebhookID, 10) {
		t.Fatalf("register: %d %v", code, ans)
	}
	if code, _, _ := do(t, f, "POST", "/2/webhooks", app, "application/json", `{"url":"https://hooks.test/x/1"}`); code != 400 {
		t.Fatalf("duplicate URL: %d", code)
	}
	if code, _, _ := do(t, f, "POST", "/2/webhooks", app, "application/json", `{"url":"ftp://x"}`); code != 400 {
		t.Fatalf("invalid URL: %d", code)
	}
	if code, ans, _ := do(t, f, "POST", "/2/account_activity/webhooks/"+id+"/subscriptions/all", user, "", ""); code != 200 || data(ans)["subscribed"] != true || !f.Subscribed("100") {
		t.Fatalf("subscribe: %d %v", code, ans)
	}
	if w := f.Webhooks(); len(w) != 1 || w[0].URL != "https://hooks.test/x/1" || strings.Join(w[0].Subscribers, ",") != "100" {
		t.Fatalf("Webhooks %+v", w)
	}
	del := "/2/account_activity/webhooks/" + id + "/subscriptions/100/all"
	if code, _, _ := do(t, f, "DELETE", del, app, "", ""); code != 200 || f.Subscribed("100") {
		t.Fatalf("unsubscribe: %d", code)
	}
	if code, _, _ := do(t, f, "DELETE", del, app, "", ""); code != 404 {
		t.Fatalf("unsubscribe again: %d", code)
	}

	send := func(token, to, text string) (int, map[string]any, http.Header) {
		b, _ := json.Marshal(map[string]string{"text": text})
		return do(t, f, "POST", "/2/dm_conversations/with/"+to+"/messages", token, "application/json", string(b))
	}
	code, ans, _ = send(user, "200", "hi")
	if code != 201 || data(ans)["dm_event_id"] != strconv.FormatUint(xfake.FirstEventID, 10) || data(ans)["dm_conversation_id"] != "100-200" {
		t.Fatalf("send: %d %v", code, ans)
	}
	f.FailNext(1, 403)
	f.FailNext(1, 429)
	if code, ans, _ := send(user, "200", "hi"); code != 403 || ans["detail"] == nil {
		t.Fatalf("FailNext 403: %d %v", code, ans)
	}
	code, _, h := send(user, "200", "hi")
	reset, _ := strconv.ParseInt(h.Get("x-rate-limit-reset"), 10, 64)
	if d := time.Until(time.Unix(reset, 0)); code != 429 || d < xfake.RateLimitWindow-time.Minute || d > xfake.RateLimitWindow+time.Second {
		t.Fatalf("FailNext 429: %d, reset in %v", code, d)
	}
	for name, tc := range map[string]struct {
		token, to, text string
		code            int
	}{
		"app token":    {app, "200", "hi", 403},
		"no token":     {"", "200", "hi", 401},
		"to ourselves": {user, "100", "hi", 400},
		"not an id":    {user, "abc", "hi", 400},
		"empty text":   {user, "200", "", 400},
		"over 10000":   {user, "200", strings.Repeat("é", 10001), 400},
	} {
		if code, _, _ := send(tc.token, tc.to, tc.text); code != tc.code {
			t.Errorf("%s: %d, want %d", name, code, tc.code)
		}
	}
	if s := f.Sends(); len(s) != 1 || s[0] != (xfake.Send{ParticipantID: "200", Text: "hi", Token: user, SenderID: "100",
		EventID: strconv.FormatUint(xfake.FirstEventID, 10), ConversationID: "100-200"}) {
		t.Fatalf("sends %+v", s)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { send(user, "200", "hi") })
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, s := range f.Sends() {
		seen[s.EventID] = true
	}
	if len(seen) != 11 {
		t.Fatalf("%d distinct event ids of 11 sends", len(seen))
	}
}

func TestAcceptAnyAccount(t *testing.T) {
	f, err := xfake.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", f.URL())
	}
	local := xfake.Account{ClientID: "local-client", ClientSecret: "s"}
	if code, _ := refresh(t, f, local, "rt-1"); code != 401 {
		t.Fatalf("an unknown client before AcceptAnyAccount: %d", code)
	}
	f.AcceptAnyAccount()
	ids := map[string]bool{}
	rt := "rt-1"
	for range 2 {
		code, ans := refresh(t, f, local, rt)
		if code != 200 {
			t.Fatalf("refresh: %d %v", code, ans)
		}
		_, me, _ := do(t, f, "GET", "/2/users/me", ans["access_token"].(string), "", "")
		ids[data(me)["id"].(string)] = true
		rt = ans["refresh_token"].(string)
	}
	if len(ids) != 1 {
		t.Fatalf("user ids %v: want one, stable", ids)
	}
	if code, _ := refresh(t, f, local, "rt-1"); code != 400 {
		t.Fatalf("a used refresh token: %d, want 400 even so", code)
	}
	if code, _, _ := do(t, f, "POST", "/oauth2/token", "basic:any-key:any-secret", form, "grant_type=client_credentials"); code != 200 {
		t.Fatalf("any app: %d", code)
	}
}

func TestPayloadsAndSign(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	for _, b := range [][]byte{
		xfake.DM("1", "10", "2", "Ana", "a & <b>", at),
		xfake.OwnDM("1", "11", "2", "ours", at),
		xfake.MediaDM("1", "12", "2", "Ana", "look", "photo", at),
	} {
		var p struct {
			ForUserID string `json:"for_user_id"`
			Events    []struct {
				Type    string `json:"type"`
				ID      string `json:"id"`
				Created string `json:"created_timestamp"`
				MC      struct {
					SenderID string `json:"sender_id"`
					Data     struct {
						Text string `json:"text"`
					} `json:"message_data"`
				} `json:"message_create"`
			} `json:"direct_message_events"`
			Users map[string]struct {
				Name string `json:"name"`
			} `json:"users"`
		}
		if err := json.Unmarshal(b, &p); err != nil || p.ForUserID != "1" || len(p.Events) != 1 || p.Events[0].Type != "message_create" ||
			p.Events[0].Created != "1700000000000" || len(p.Users) != 2 {
			t.Fatalf("payload %s: %v", b, err)
		}
	}
	if !bytes.Contains(xfake.DM("1", "10", "2", "Ana", "a & <b>", at), []byte(`"text":"a &amp; &lt;b&gt;"`)) {
		t.Error("DM does not escape as X does")
	}
	if !bytes.Contains(xfake.OwnDM("1", "11", "2", "ours", at), []byte(`"sender_id":"1"`)) {
		t.Error("OwnDM is not sent by for_user_id")
	}
	if m := xfake.MediaDM("1", "12", "2", "Ana", "look", "video", at); !bytes.Contains(m, []byte(`"text":"look https://t.co/`)) || !bytes.Contains(m, []byte(`"type":"video"`)) {
		t.Errorf("MediaDM: %s", m)
	}
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("body"))
	want := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if xfake.Sign([]byte("body"), "secret") != want || xfake.CRC("body", "secret") != want {
		t.Errorf("Sign %s, CRC %s, want %s", xfake.Sign([]byte("body"), "secret"), xfake.CRC("body", "secret"), want)
	}
	if xfake.SignatureHeader != "x-twitter-webhooks-signature" {
		t.Errorf("SignatureHeader %q", xfake.SignatureHeader)
	}
}
