package viberfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/local/viberfake"
)

// call posts body to the fake's method with token and returns the HTTP
// status, the raw answer and its status field.
func call(t *testing.T, base, method, token, body string) (int, string, float64) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/"+method, strings.NewReader(body))
	req.Header.Set("X-Viber-Auth-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var ans struct {
		Status float64 `json:"status"`
	}
	json.Unmarshal(raw, &ans)
	return res.StatusCode, string(raw), ans.Status
}

const textSend = `{"receiver":"U1","min_api_version":1,"sender":{"name":"Acme"},"type":"text","text":"hi"}`

func TestAccountsAndWebhook(t *testing.T) {
	f := viberfake.New(t)
	f.AddAccount("tok", "pa:1", "Acme")
	if _, raw, st := call(t, f.URL(), "get_account_info", "tok", `{}`); st != 0 || !strings.Contains(raw, `"id":"pa:1"`) || !strings.Contains(raw, `"name":"Acme"`) {
		t.Fatalf("account info: %s", raw)
	}
	if _, _, st := call(t, f.URL(), "get_account_info", "nope", `{}`); st != 2 {
		t.Fatalf("unknown token: status %v", st)
	}
	if _, _, st := call(t, f.URL(), "set_webhook", "tok", `{"url":"https://hooks.test/v/1","event_types":["seen","failed"]}`); st != 0 {
		t.Fatalf("set_webhook: status %v", st)
	}
	if u, ev := f.Webhook("tok"); u != "https://hooks.test/v/1" || strings.Join(ev, ",") != "seen,failed" {
		t.Fatalf("webhook %q %v", u, ev)
	}
	if _, _, st := call(t, f.URL(), "set_webhook", "tok", `{"url":"not a url"}`); st != 1 {
		t.Fatalf("invalid url: status %v", st)
	}
	if _, _, st := call(t, f.URL(), "set_webhook", "tok", `{"url":""}`); st != 0 {
		t.Fatalf("removing the webhook: status %v", st)
	}
	if u, _ := f.Webhook("tok"); u != "" {
		t.Fatalf("webhook %q after removal", u)
	}
	f.AcceptAnyAccount()
	if _, raw, st := call(t, f.URL(), "get_account_info", "any", `{}`); st != 0 || !strings.Contains(raw, `"id":"pa:`) || strings.Contains(raw, "any") {
		t.Fatalf("any account: %s", raw)
	}
	if _, _, st := call(t, f.URL(), "get_account_info", "", `{}`); st != 2 {
		t.Fatalf("empty token: status %v", st)
	}
}

func TestSendsIssueBigTokens(t *testing.T) {
	f := viberfake.New(t)
	f.AddAccount("tok", "pa:1", "Acme")
	_, raw, st := call(t, f.URL(), "send_message", "tok", textSend)
	if st != 0 || !strings.Contains(raw, `"message_token":5491540939539838373`) {
		t.Fatalf("send: %s; want the first token as a JSON integer", raw)
	}
	call(t, f.URL(), "send_message", "tok", textSend)
	s := f.Sends()
	if len(s) != 2 || s[0] != (viberfake.Send{Token: "tok", Receiver: "U1", SenderName: "Acme", Text: "hi", Token64: "5491540939539838373"}) ||
		s[1].Token64 != "5491540939539838374" {
		t.Fatalf("sends %+v", s)
	}
	for _, tc := range []struct {
		name, body string
		status     float64
	}{
		{"no receiver", `{"sender":{"name":"Acme"},"type":"text","text":"hi"}`, 4},
		{"no sender name", `{"receiver":"U1","type":"text","text":"hi"}`, 4},
		{"sender name over 28", `{"receiver":"U1","sender":{"name":"` + strings.Repeat("n", 29) + `"},"type":"text","text":"hi"}`, 3},
		{"text over 7000", `{"receiver":"U1","sender":{"name":"A"},"type":"text","text":"` + strings.Repeat("é", 7001) + `"}`, 3},
		{"not text", `{"receiver":"U1","sender":{"name":"A"},"type":"picture","text":"x"}`, 3},
		{"not JSON", `{`, 3},
	} {
		if _, _, st := call(t, f.URL(), "send_message", "tok", tc.body); st != tc.status {
			t.Errorf("%s: status %v, want %v", tc.name, st, tc.status)
		}
	}
	f.Unsubscribe("U1")
	if _, _, st := call(t, f.URL(), "send_message", "tok", textSend); st != 6 {
		t.Errorf("unsubscribed receiver: status %v", st)
	}
	if n := len(f.Sends()); n != 2 {
		t.Errorf("refused sends were recorded: %d", n)
	}
}

func TestFaults(t *testing.T) {
	f := viberfake.New(t)
	f.AddAccount("tok", "pa:1", "Acme")
	f.FailNext(1, 12)
	f.FailHTTP(1, 500)
	if code, _, st := call(t, f.URL(), "send_message", "tok", textSend); code != 200 || st != 12 {
		t.Fatalf("FailNext: HTTP %d status %v", code, st)
	}
	if code, _, _ := call(t, f.URL(), "send_message", "tok", textSend); code != 500 {
		t.Fatalf("FailHTTP: HTTP %d", code)
	}
	f.LoseNext(1)
	if code, _, _ := call(t, f.URL(), "send_message", "tok", textSend); code != 500 {
		t.Fatalf("LoseNext: HTTP %d", code)
	}
	if _, raw, st := call(t, f.URL(), "send_message", "tok", textSend); st != 0 || !strings.Contains(raw, "5491540939539838374") {
		t.Fatalf("after the faults: %s", raw)
	}
	if s := f.Sends(); len(s) != 2 || s[0].Token64 != "5491540939539838373" {
		t.Fatalf("a lost send is carried out and recorded, refused ones not: %+v", s)
	}
}

func TestCDN(t *testing.T) {
	f := viberfake.New(t)
	u := f.CDN("cat 1.jpg", "image/jpeg", []byte("JPEG"))
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(b, []byte("JPEG")) || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("cdn: %d %q", res.StatusCode, b)
	}
	if res, _ := http.Get(strings.TrimSuffix(u, "1.jpg") + "2.jpg"); res.StatusCode != 404 {
		t.Fatalf("unknown media: %d", res.StatusCode)
	}
}

func TestStartBindsLocalhost(t *testing.T) {
	f, err := viberfake.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL(), "http://127.0.0.1:") || !strings.HasSuffix(f.URL(), "/pa") {
		t.Fatalf("URL %s", f.URL())
	}
	f.AcceptAnyAccount()
	if _, _, st := call(t, f.URL(), "send_message", "tok", textSend); st != 0 {
		t.Fatalf("send: status %v", st)
	}
}

func TestConcurrentSends(t *testing.T) {
	f := viberfake.New(t)
	f.AddAccount("tok", "pa:1", "Acme")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { call(t, f.URL(), "send_message", "tok", textSend) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, s := range f.Sends() {
		seen[s.Token64] = true
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct tokens of 20 sends", len(seen))
	}
}

func TestPayloadsAndSign(t *testing.T) {
	bodies := [][]byte{
		viberfake.TextMessage(viberfake.FirstMessageToken, "U1", "Ana", `say "hi"`),
		viberfake.PictureMessage(viberfake.FirstMessageToken+1, "U1", "https://cdn.test/a.jpg"),
	}
	for _, kind := range []string{"delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started", "webhook"} {
		bodies = append(bodies, viberfake.Event(kind, "U1", viberfake.FirstMessageToken))
	}
	for _, b := range bodies {
		if !json.Valid(b) || !bytes.Contains(b, []byte(`"message_token":549154093953983837`)) {
			t.Errorf("payload %s: invalid JSON or the token not an exact integer", b)
		}
	}
	// HMAC-SHA256("secret", "body"), computed independently.
	if got := viberfake.Sign([]byte("body"), "secret"); got != "dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355" {
		t.Errorf("Sign = %s", got)
	}
	if viberfake.SignatureHeader != "x-viber-content-signature" {
		t.Errorf("SignatureHeader = %q", viberfake.SignatureHeader)
	}
}
