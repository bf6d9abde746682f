package telegramfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/local/telegramfake"
)

// call posts body to a Bot API method and answers the HTTP status and the
// decoded answer.
func call(t *testing.T, f *telegramfake.Server, token, method, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(f.URL()+"/bot"+token+"/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ans map[string]any
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", method, err)
	}
	return res.StatusCode, ans
}

func result(ans map[string]any) map[string]any {
	r, _ := ans["result"].(map[string]any)
	return r
}

func TestBotsAndWebhooks(t *testing.T) {
	f := telegramfake.New(t)
	f.AddBot("123:tok", 123, "acme_bot")
	st, ans := call(t, f, "123:tok", "getMe", `{}`)
	if r := result(ans); st != 200 || ans["ok"] != true || r["id"] != 123.0 || r["username"] != "acme_bot" || r["is_bot"] != true {
		t.Fatalf("getMe: %d %v", st, ans)
	}
	st, ans = call(t, f, "999:nope", "getMe", `{}`)
	if st != 401 || ans["ok"] != false || ans["error_code"] != 401.0 || ans["description"] != "Unauthorized" {
		t.Fatalf("unknown token: %d %v", st, ans)
	}
	st, ans = call(t, f, "123:tok", "setWebhook", `{"url":"https://hook.test/t/1","secret_token":"s3cr-et_","allowed_updates":["message","my_chat_member"]}`)
	if st != 200 || ans["result"] != true {
		t.Fatalf("setWebhook: %d %v", st, ans)
	}
	url, secret, allowed := f.Webhook("123:tok")
	if url != "https://hook.test/t/1" || secret != "s3cr-et_" || !reflect.DeepEqual(allowed, []string{"message", "my_chat_member"}) {
		t.Fatalf("webhook %q %q %v", url, secret, allowed)
	}
	if st, _ := call(t, f, "123:tok", "setWebhook", `{"url":"https://hook.test","secret_token":"bad secret!"}`); st != 400 {
		t.Errorf("a bad secret token: %d", st)
	}
	if st, ans := call(t, f, "123:tok", "getWebhookInfo", ``); st != 200 || result(ans)["url"] != "https://hook.test/t/1" {
		t.Errorf("getWebhookInfo: %d %v", st, ans)
	}
	if st, _ := call(t, f, "123:tok", "deleteWebhook", `{}`); st != 200 {
		t.Fatalf("deleteWebhook: %d", st)
	}
	if url, secret, allowed := f.Webhook("123:tok"); url != "" || secret != "" || allowed != nil {
		t.Errorf("after deleteWebhook: %q %q %v", url, secret, allowed)
	}
	if st, ans := call(t, f, "123:tok", "sendSticker", `{}`); st != 404 || ans["ok"] != false {
		t.Errorf("unknown method: %d %v", st, ans)
	}
}

func TestAcceptAnyBot(t *testing.T) {
	f := telegramfake.New(t)
	if st, _ := call(t, f, "local-token", "getMe", `{}`); st != 401 {
		t.Fatalf("before AcceptAnyBot: %d", st)
	}
	f.AcceptAnyBot()
	_, a := call(t, f, "local-token", "getMe", `{}`)
	_, b := call(t, f, "local-token", "getMe", `{}`)
	_, c := call(t, f, "4242:abc", "getMe", `{}`)
	id := result(a)["id"]
	if id == nil || id != result(b)["id"] || id == result(c)["id"] || result(c)["id"] != 4242.0 {
		t.Fatalf("ids %v %v %v", id, result(b)["id"], result(c)["id"])
	}
	if id != float64(telegramfake.BotID("local-token")) || telegramfake.BotID("local-token") <= 0 {
		t.Errorf("id %v, BotID %d", id, telegramfake.BotID("local-token"))
	}
}

func TestSendsAndFaults(t *testing.T) {
	f := telegramfake.New(t)
	f.AddBot("1:t", 1, "b")
	st, ans := call(t, f, "1:t", "sendMessage", `{"chat_id":-100123,"text":"hi"}`)
	if st != 200 || result(ans)["message_id"] != 1.0 {
		t.Fatalf("send: %d %v", st, ans)
	}
	for _, tc := range []struct{ body, why string }{
		{`{"chat_id":5,"text":" "}`, "empty text"},
		{`{"text":"x"}`, "no chat"},
		{`{"chat_id":5,"text":"` + strings.Repeat("é", 4097) + `"}`, "too long"},
		{`{"chat_id":5,`, "bad JSON"},
	} {
		if st, ans := call(t, f, "1:t", "sendMessage", tc.body); st != 400 || ans["error_code"] != 400.0 {
			t.Errorf("%s: %d %v", tc.why, st, ans)
		}
	}
	f.FailNext(1, 429, 7)
	st, ans = call(t, f, "1:t", "sendMessage", `{"chat_id":"5","text":"later"}`)
	if p, _ := ans["parameters"].(map[string]any); st != 429 || ans["error_code"] != 429.0 || p["retry_after"] != 7.0 {
		t.Fatalf("429: %d %v", st, ans)
	}
	f.FailNext(1, 403, 0)
	if st, ans := call(t, f, "1:t", "sendMessage", `{"chat_id":5,"text":"blocked"}`); st != 403 || ans["parameters"] != nil {
		t.Fatalf("403: %d %v", st, ans)
	}
	f.LoseNext(1)
	if st, _ := call(t, f, "1:t", "sendMessage", `{"chat_id":5,"text":"lost"}`); st != 500 {
		t.Fatalf("lost: %d", st)
	}
	want := []telegramfake.Send{{Token: "1:t", ChatID: "-100123", Text: "hi", MessageID: 1}, {Token: "1:t", ChatID: "5", Text: "lost", MessageID: 2}}
	if got := f.Sends(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sends %+v", got)
	}
}

func TestFiles(t *testing.T) {
	f := telegramfake.New(t)
	f.AddBot("1:t", 1, "b")
	f.AddFile("F1", "application/pdf", []byte("%PDF-1.7"))
	st, ans := call(t, f, "1:t", "getFile", `{"file_id":"F1"}`)
	r := result(ans)
	if st != 200 || r["file_size"] != 8.0 || r["file_path"] == "" {
		t.Fatalf("getFile: %d %v", st, ans)
	}
	if st, _ := call(t, f, "1:t", "getFile", `{"file_id":"NOPE"}`); st != 400 {
		t.Errorf("unknown file: %d", st)
	}
	get := func(token string) (int, string, string) {
		res, err := http.Get(f.URL() + "/file/bot" + token + "/" + r["file_path"].(string))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	if st, ct, body := get("1:t"); st != 200 || ct != "application/pdf" || body != "%PDF-1.7" {
		t.Fatalf("download: %d %q %q", st, ct, body)
	}
	if st, _, _ := get("2:other"); st != 404 {
		t.Errorf("download with an unknown token: %d", st)
	}
}

func TestPayloads(t *testing.T) {
	for name, body := range map[string][]byte{
		"text":      telegramfake.TextUpdate(10, 77, "Ana", "hello"),
		"photo":     telegramfake.PhotoUpdate(11, 77, "PH"),
		"document":  telegramfake.DocumentUpdate(12, 77, "DOC", "a.pdf", "application/pdf"),
		"blocked":   telegramfake.BlockedUpdate(13, 77),
		"unblocked": telegramfake.UnblockedUpdate(14, 77),
	} {
		var u map[string]any
		if err := json.Unmarshal(body, &u); err != nil || u["update_id"] == nil {
			t.Errorf("%s: %s %v", name, body, err)
		}
	}
}

func TestStart(t *testing.T) {
	if _, err := telegramfake.Start("not an address"); err == nil {
		t.Fatal("Start took a bad address")
	}
	f, err := telegramfake.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q: want 127.0.0.1", f.URL())
	}
	f.AcceptAnyBot()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(f.URL()+"/bot9:x/sendMessage", "application/json", strings.NewReader(`{"chat_id":1,"text":"x"}`))
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
		}()
	}
	wg.Wait()
	if n := len(f.Sends()); n != 8 {
		t.Errorf("%d sends", n)
	}
}
