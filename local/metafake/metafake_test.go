package metafake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/local/metafake"
)

func post(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans map[string]any
	json.NewDecoder(res.Body).Decode(&ans)
	return res.StatusCode, ans
}

func code(ans map[string]any) any {
	e, _ := ans["error"].(map[string]any)
	return e["code"]
}

func TestSends(t *testing.T) {
	f := metafake.New(t)
	f.AddAccount("page1", "page-token")
	f.AddAccount("phone1", "wa-token")
	st, ans := post(t, f.URL()+"/page1/messages", "page-token",
		`{"recipient":{"id":"psid1"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"text":"hi"}}`)
	if st != 200 || ans["message_id"] != "m_1" || ans["recipient_id"] != "psid1" {
		t.Fatalf("messenger send: %d %v", st, ans)
	}
	st, ans = post(t, f.URL()+"/phone1/messages", "wa-token",
		`{"messaging_product":"whatsapp","recipient_type":"individual","to":"4912","type":"template","template":{"name":"hello","language":{"code":"en_US"}}}`)
	if msgs, _ := ans["messages"].([]any); st != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["id"] != "wamid.2" {
		t.Fatalf("whatsapp send: %d %v", st, ans)
	}
	sends := f.Sends()
	if len(sends) != 2 || sends[0].Tag != "HUMAN_AGENT" || sends[0].MessagingType != "MESSAGE_TAG" || sends[0].Text != "hi" ||
		sends[0].Recipient != "psid1" || sends[1].Type != "template" || sends[1].Template != "hello" || sends[1].ID != "wamid.2" ||
		sends[1].Account != "phone1" || sends[1].Token != "wa-token" || sends[1].Body["to"] != "4912" {
		t.Fatalf("sends %+v", sends)
	}

	for _, tc := range []struct {
		name, account, token, body string
		status                     int
		code                       float64
	}{
		{"wrong token", "page1", "wa-token", `{"recipient":{"id":"p"},"messaging_type":"RESPONSE","message":{"text":"x"}}`, 401, 190},
		{"unknown account", "page9", "page-token", `{"recipient":{"id":"p"},"messaging_type":"RESPONSE","message":{"text":"x"}}`, 400, 190},
		{"tag without MESSAGE_TAG", "page1", "page-token", `{"recipient":{"id":"p"},"messaging_type":"RESPONSE","tag":"HUMAN_AGENT","message":{"text":"x"}}`, 400, 100},
		{"no text", "phone1", "wa-token", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":""}}`, 400, 100},
	} {
		if st, ans := post(t, f.URL()+"/"+tc.account+"/messages", tc.token, tc.body); st != tc.status || code(ans) != tc.code {
			t.Errorf("%s: %d %v", tc.name, st, ans)
		}
	}
	if n := len(f.Sends()); n != 2 {
		t.Errorf("refused sends were recorded: %d", n)
	}
}

func TestFaults(t *testing.T) {
	f := metafake.New(t)
	f.AddAccount("page1", "tok")
	body := `{"recipient":{"id":"p"},"messaging_type":"RESPONSE","message":{"text":"x"}}`
	f.FailNext(2, 429, 4, 0)
	for range 2 {
		if st, ans := post(t, f.URL()+"/page1/messages", "tok", body); st != 429 || code(ans) != 4.0 {
			t.Fatalf("FailNext: %d %v", st, ans)
		}
	}
	f.LoseNext(1)
	if st, _ := post(t, f.URL()+"/page1/messages", "tok", body); st != 500 {
		t.Fatalf("LoseNext answered %d", st)
	}
	if st, ans := post(t, f.URL()+"/page1/messages", "tok", body); st != 200 || ans["message_id"] != "m_2" {
		t.Fatalf("after the faults: %d %v", st, ans)
	}
	if s := f.Sends(); len(s) != 2 || s[0].ID != "m_1" {
		t.Fatalf("a lost send is carried out and recorded, refused ones not: %+v", s)
	}
}

func TestMediaAndCDN(t *testing.T) {
	f := metafake.New(t)
	f.AddAccount("phone1", "wa-token")
	f.AddMedia("media1", "image/jpeg", []byte("JPEG"))
	get := func(url, token string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, b := get(f.URL()+"/media1", "wa-token")
	var info struct {
		URL      string `json:"url"`
		MimeType string `json:"mime_type"`
		FileSize int    `json:"file_size"`
	}
	if json.Unmarshal(b, &info); res.StatusCode != 200 || info.MimeType != "image/jpeg" || info.FileSize != 4 || info.URL == "" {
		t.Fatalf("media info: %d %s", res.StatusCode, b)
	}
	if res, _ := get(info.URL, ""); res.StatusCode != 401 {
		t.Errorf("media bytes without the token: %d", res.StatusCode)
	}
	if res, b := get(info.URL, "wa-token"); res.StatusCode != 200 || !bytes.Equal(b, []byte("JPEG")) || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("media bytes: %d %q", res.StatusCode, b)
	}
	if res, _ := get(f.URL()+"/media1", "nope"); res.StatusCode != 401 {
		t.Errorf("media info with a wrong token: %d", res.StatusCode)
	}
	u := f.CDN("cat.png", "image/png", []byte("PNG"))
	if res, b := get(u, ""); res.StatusCode != 200 || string(b) != "PNG" || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("cdn: %d %q", res.StatusCode, b)
	}
}

func TestStartBindsLocalhost(t *testing.T) {
	f, err := metafake.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL(), "http://127.0.0.1:") || !strings.HasSuffix(f.URL(), "/v21.0") {
		t.Fatalf("URL %s", f.URL())
	}
	f.AddAccount("page1", "tok")
	if st, _ := post(t, f.URL()+"/page1/messages", "tok", `{"recipient":{"id":"p"},"messaging_type":"RESPONSE","message":{"text":"x"}}`); st != 200 {
		t.Fatalf("send: %d", st)
	}
}

func TestConcurrentSends(t *testing.T) {
	f := metafake.New(t)
	f.AddAccount("phone1", "tok")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			post(t, f.URL()+"/phone1/messages", "tok", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x"}}`)
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, s := range f.Sends() {
		seen[s.ID] = true
	}
	if len(seen) != 20 {
		t.Fatalf("%d distinct ids of 20 sends", len(seen))
	}
}

func TestPayloadsAndSign(t *testing.T) {
	for _, b := range [][]byte{
		metafake.MessengerPayload("page1", "psid1", "m_1", "hi"),
		metafake.InstagramPayload("ig1", "igsid1", "m_2", "hi"),
		metafake.WhatsAppPayload("phone1", "4912", "Ana", "wamid.1", "hi"),
		metafake.WhatsAppStatusPayload("phone1", "4912", "wamid.1", "failed", 131047),
	} {
		if !json.Valid(b) {
			t.Errorf("invalid JSON %s", b)
		}
	}
	// HMAC-SHA256("secret", "body"), computed independently.
	if got := metafake.Sign([]byte("body"), "secret"); got != "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355" {
		t.Errorf("Sign = %s", got)
	}
}
