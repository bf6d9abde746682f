package linefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/linefake"
)

func call(t *testing.T, method, url, token, retryKey, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if retryKey != "" {
		req.Header.Set("X-Line-Retry-Key", retryKey)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans map[string]any
	json.NewDecoder(res.Body).Decode(&ans)
	return res.StatusCode, res.Header, ans
}

func firstID(ans map[string]any) any {
	sm, _ := ans["sentMessages"].([]any)
	if len(sm) == 0 {
		return nil
	}
	return sm[0].(map[string]any)["id"]
}

const key = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

func TestPushRetryKey(t *testing.T) {
	f := linefake.New(t)
	f.AddChannel("tok", "Ubot", "Bot")
	push := `{"to":"Uuser1","messages":[{"type":"text","text":"hi"}]}`
	st, _, ans := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push)
	id := firstID(ans)
	if st != 200 || id == nil {
		t.Fatalf("push: %d %v", st, ans)
	}
	st, h, ans := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push)
	if st != 409 || h.Get("X-Line-Accepted-Request-Id") == "" || firstID(ans) != id {
		t.Fatalf("push again: %d %v %v", st, h, ans)
	}
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", "not-a-uuid", push); st != 400 {
		t.Fatalf("bad retry key: %d", st)
	}
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "other", key, push); st != 401 {
		t.Fatalf("unknown token: %d", st)
	}
	sends := f.Sends()
	if len(sends) != 1 || sends[0] != (linefake.Send{Token: "tok", Kind: "push", To: "Uuser1", Text: "hi", RetryKey: key, ID: id.(string)}) {
		t.Fatalf("sends %+v", sends)
	}
}

func TestReplyTokensOnce(t *testing.T) {
	f := linefake.New(t)
	f.AddChannel("tok", "Ubot", "Bot")
	rt := f.IssueReplyToken()
	body := `{"replyToken":"` + rt + `","messages":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}`
	if st, _, ans := call(t, "POST", f.URL()+"/v2/bot/message/reply", "tok", "", body); st != 200 || len(ans["sentMessages"].([]any)) != 2 {
		t.Fatalf("reply: %d %v", st, ans)
	}
	if st, _, ans := call(t, "POST", f.URL()+"/v2/bot/message/reply", "tok", "", body); st != 400 || ans["message"] != "Invalid reply token" {
		t.Fatalf("reply again: %d %v", st, ans)
	}
	rt2 := f.IssueReplyToken()
	f.ExpireReplyTokens()
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/reply", "tok", "", `{"replyToken":"`+rt2+`","messages":[{"type":"text","text":"x"}]}`); st != 400 {
		t.Fatalf("expired token: %d", st)
	}
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/reply", "tok", "", `{"replyToken":"`+f.IssueReplyToken()+`","messages":[{"type":"text","text":"`+strings.Repeat("x", 5001)+`"}]}`); st != 400 {
		t.Fatalf("text over 5000: %d", st)
	}
	if s := f.Sends(); len(s) != 2 || s[0].Kind != "reply" || s[0].ReplyToken != rt || s[1].Text != "b" {
		t.Fatalf("sends %+v", s)
	}
}

func TestFaultsAndLoss(t *testing.T) {
	f := linefake.New(t)
	f.AddChannel("tok", "Ubot", "Bot")
	push := `{"to":"U1","messages":[{"type":"text","text":"hi"}]}`
	f.FailNext(1, 429)
	if st, h, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push); st != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("429: %d %v", st, h)
	}
	f.FailNext(1, 500)
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push); st != 500 || len(f.Sends()) != 0 {
		t.Fatalf("500: %d, %d sends", st, len(f.Sends()))
	}
	f.LoseNext(1)
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push); st != 500 || len(f.Sends()) != 1 {
		t.Fatalf("lost: %d, %d sends", st, len(f.Sends()))
	}
	if st, _, _ := call(t, "POST", f.URL()+"/v2/bot/message/push", "tok", key, push); st != 409 || len(f.Sends()) != 1 {
		t.Fatalf("retry of the lost push: %d, %d sends", st, len(f.Sends()))
	}
}

func TestInfoEndpointContent(t *testing.T) {
	f := linefake.New(t)
	f.AcceptAnyChannel()
	st, _, ans := call(t, "GET", f.URL()+"/v2/bot/info", "any-token", "", "")
	if st != 200 || ans["userId"] != linefake.BotUserID("any-token") {
		t.Fatalf("info: %d %v", st, ans)
	}
	if st, _, _ := call(t, "GET", f.URL()+"/v2/bot/info", "", "", ""); st != 401 {
		t.Fatalf("info without a token: %d", st)
	}
	if st, _, _ := call(t, "PUT", f.URL()+"/v2/bot/channel/webhook/endpoint", "any-token", "", `{"endpoint":"https://h.example/w"}`); st != 200 ||
		f.Endpoint("any-token") != "https://h.example/w" {
		t.Fatalf("endpoint: %d %q", st, f.Endpoint("any-token"))
	}
	f.AddContent("42", "video/mp4", []byte("movie"))
	req, _ := http.NewRequest("GET", f.URL()+"/v2/bot/message/42/content", nil)
	req.Header.Set("Authorization", "Bearer any-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(data) != "movie" || res.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("content: %d %q %q", res.StatusCode, data, res.Header.Get("Content-Type"))
	}
	if st, _, _ := call(t, "GET", f.URL()+"/v2/bot/message/43/content", "any-token", "", ""); st != 404 {
		t.Fatalf("unknown content: %d", st)
	}
}

func TestStart(t *testing.T) {
	s, err := linefake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q", s.URL())
	}
	if _, err := linefake.Start("nonsense"); err == nil {
		t.Fatal("Start of a bad address succeeded")
	}
}

func TestPayloads(t *testing.T) {
	body := linefake.TextEvent("Ubot", "Uuser1", "E1", "rt1", "hello")
	var env struct {
		Destination string           `json:"destination"`
		Events      []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Destination != "Ubot" || len(env.Events) != 1 ||
		env.Events[0]["webhookEventId"] != "E1" || env.Events[0]["replyToken"] != "rt1" || env.Events[0]["mode"] != "active" {
		t.Fatalf("TextEvent %s: %v", body, err)
	}
	if string(linefake.Events("Ubot")) != `{"destination":"Ubot","events":[]}` {
		t.Fatalf("empty Events %s", linefake.Events("Ubot"))
	}
	// base64(HMAC-SHA256("secret", "test")), as openssl computes it.
	if got := linefake.Sign([]byte("test"), "secret"); got != "Aymga2LNFrM+tnkr6MYLFY2Jou46h2/Omogeu0iMCRQ=" {
		t.Fatalf("Sign = %s", got)
	}
	if id := linefake.MessageID("E1"); !regexp.MustCompile(`^[0-9]{1,18}$`).MatchString(id) || id == linefake.MessageID("E2") ||
		!strings.Contains(string(body), `"id":"`+id+`"`) {
		t.Fatal("MessageID is not the digits of the event id TextEvent uses")
	}
}
