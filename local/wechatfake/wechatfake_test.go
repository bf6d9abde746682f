package wechatfake_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/wechatfake"
)

// call makes a call to the fake and returns the HTTP status, the raw answer
// and its errcode.
func call(t *testing.T, method, u, body string) (int, string, float64) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var ans struct {
		ErrCode float64 `json:"errcode"`
	}
	json.Unmarshal(raw, &ans)
	return res.StatusCode, string(raw), ans.ErrCode
}

// token asks stable_token and returns the token (or "") and the errcode.
func token(t *testing.T, f *wechatfake.Server, appID, secret string, force bool) (string, float64) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"grant_type": "client_credential", "appid": appID, "secret": secret, "force_refresh": force})
	_, raw, code := call(t, "POST", f.URL()+"/cgi-bin/stable_token", string(body))
	var ans struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(raw), &ans)
	return ans.AccessToken, code
}

func send(t *testing.T, f *wechatfake.Server, tok, to, text string) float64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"touser": to, "msgtype": "text", "text": map[string]string{"content": text}})
	_, _, code := call(t, "POST", f.URL()+"/cgi-bin/message/custom/send?access_token="+tok, string(body))
	return code
}

func TestTokens(t *testing.T) {
	f := wechatfake.New(t)
	f.AddAccount("wx1", "s1")
	t1, code := token(t, f, "wx1", "s1", false)
	if code != 0 || t1 == "" {
		t.Fatalf("token: %q %v", t1, code)
	}
	if t2, _ := token(t, f, "wx1", "s1", false); t2 != t1 {
		t.Fatalf("a non-forced call gave another token")
	}
	t3, _ := token(t, f, "wx1", "s1", true)
	if t3 == t1 || t3 == "" {
		t.Fatalf("a forced call kept the token")
	}
	if c := send(t, f, t1, "o1", "x"); c != 40001 {
		t.Fatalf("the replaced token: errcode %v", c)
	}
	if c := send(t, f, t3, "o1", "x"); c != 0 {
		t.Fatalf("the new token: errcode %v", c)
	}
	if f.TokenFetches() != 3 {
		t.Fatalf("%d token fetches", f.TokenFetches())
	}
	f.ExpireTokens()
	if c := send(t, f, t3, "o1", "x"); c != 42001 {
		t.Fatalf("an expired token: errcode %v", c)
	}
	if t4, _ := token(t, f, "wx1", "s1", false); t4 == t3 || send(t, f, t4, "o1", "x") != 0 {
		t.Fatalf("no new token after expiry")
	}
	for _, tc := range []struct {
		app, secret string
		code        float64
	}{{"wx2", "s1", 40013}, {"wx1", "bad", 40125}, {"", "", 40013}} {
		if tok, c := token(t, f, tc.app, tc.secret, false); c != tc.code || tok != "" {
			t.Errorf("token(%q, %q): %q errcode %v, want %v", tc.app, tc.secret, tok, c, tc.code)
		}
	}
	f.RefuseIP(true)
	if _, c := token(t, f, "wx1", "s1", false); c != 40164 {
		t.Errorf("refused IP: errcode %v", c)
	}
	f.RefuseIP(false)
	f.AcceptAnyAccount()
	if tok, c := token(t, f, "wx_any", "any", false); c != 0 || tok == "" {
		t.Errorf("any account: %v", c)
	}
	if _, c := token(t, f, "wx_any", "other", false); c != 40125 {
		t.Errorf("any account, another secret: %v", c)
	}
	if _, raw, c := call(t, "GET", f.URL()+"/cgi-bin/get_api_domain_ip?access_token="+t1, ""); c != 40001 || strings.Contains(raw, "ip_list") {
		t.Errorf("get_api_domain_ip with an old token: %s", raw)
	}
}

func TestSendsAndWindow(t *testing.T) {
	f := wechatfake.New(t)
	f.AddAccount("wx1", "s1")
	tok, _ := token(t, f, "wx1", "s1", false)
	for _, tc := range []struct {
		name, to, text string
		code           float64
	}{
		{"ok", "o1", "你好", 0},
		{"no touser", "", "x", 40003},
		{"no text", "o1", "", 44002},
		{"2048 bytes", "o1", strings.Repeat("中", 682) + "ab", 0},
		{"2049 bytes", "o1", strings.Repeat("中", 683), 45002},
	} {
		if c := send(t, f, tok, tc.to, tc.text); c != tc.code {
			t.Errorf("%s: errcode %v, want %v", tc.name, c, tc.code)
		}
	}
	if s := f.Sends(); len(s) != 2 || s[0] != (wechatfake.Send{AppID: "wx1", Token: tok, ToUser: "o1", Text: "你好"}) {
		t.Fatalf("sends %+v", s)
	}
	f.UserMessage("o2", time.Now().Add(-time.Hour))
	for i := range 6 {
		want := 0.0
		if i == 5 {
			want = 45047
		}
		if c := send(t, f, tok, "o2", "x"); c != want {
			t.Fatalf("send %d: errcode %v", i+1, c)
		}
	}
	f.UserMessage("o2", time.Now()) // a new message: 5 more
	if c := send(t, f, tok, "o2", "x"); c != 0 {
		t.Fatalf("after a new message: %v", c)
	}
	f.UserMessage("o3", time.Now().Add(-49*time.Hour))
	if c := send(t, f, tok, "o3", "x"); c != 45015 {
		t.Fatalf("after 48 hours: %v", c)
	}
	f.FailNext(1, 45009)
	f.FailHTTP(1, 503)
	if c := send(t, f, tok, "o1", "x"); c != 45009 {
		t.Fatalf("FailNext: %v", c)
	}
	if code, _, _ := call(t, "POST", f.URL()+"/cgi-bin/message/custom/send?access_token="+tok, `{}`); code != 503 {
		t.Fatalf("FailHTTP: %d", code)
	}
}

func TestMedia(t *testing.T) {
	f := wechatfake.New(t)
	f.AddAccount("wx1", "s1")
	tok, _ := token(t, f, "wx1", "s1", false)
	f.AddMedia("img", "image/jpeg", []byte("JPEG"))
	f.AddMedia("vid", "video/mp4", []byte("MP4"))
	res, err := http.Get(f.URL() + "/cgi-bin/media/get?access_token=" + tok + "&media_id=img")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "JPEG" || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("media: %q %s", b, res.Header.Get("Content-Type"))
	}
	_, raw, _ := call(t, "GET", f.URL()+"/cgi-bin/media/get?access_token="+tok+"&media_id=vid", "")
	var v struct {
		VideoURL string `json:"video_url"`
	}
	if json.Unmarshal([]byte(raw), &v); !strings.HasPrefix(v.VideoURL, "http://127.0.0.1:") {
		t.Fatalf("video answer %s", raw)
	}
	if _, raw, _ := call(t, "GET", v.VideoURL, ""); raw != "MP4" {
		t.Fatalf("video download %q", raw)
	}
	if _, _, c := call(t, "GET", f.URL()+"/cgi-bin/media/get?access_token="+tok+"&media_id=none", ""); c != 40007 {
		t.Fatalf("unknown media: %v", c)
	}
	if _, _, c := call(t, "GET", f.URL()+"/cgi-bin/media/get?media_id=img", ""); c != 41001 {
		t.Fatalf("no token: %v", c)
	}
}

// decrypt is WeChat's decryption, written out independently of the fake's.
func decrypt(t *testing.T, key, enc string) (msg, appID string) {
	t.Helper()
	k, _ := base64.StdEncoding.DecodeString(key + "=")
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(data)%32 != 0 {
		t.Fatalf("ciphertext of %d bytes, %v", len(data), err)
	}
	block, _ := aes.NewCipher(k)
	cipher.NewCBCDecrypter(block, k[:16]).CryptBlocks(data, data)
	data = data[:len(data)-int(data[len(data)-1])]
	n := binary.BigEndian.Uint32(data[16:20])
	return string(data[20 : 20+n]), string(data[20+n:])
}

func TestPayloadsSignAndEncrypt(t *testing.T) {
	at := time.Unix(1348831860, 0)
	var m struct {
		FromUserName, MsgType, Content, MediaId, Event string
		CreateTime, MsgId                              int64
	}
	if err := xml.Unmarshal(wechatfake.TextMessage("gh_1", "o1", 1234567890123456789, "a ]]> b", at), &m); err != nil ||
		m.Content != "a ]]> b" || m.MsgId != 1234567890123456789 || m.CreateTime != 1348831860 || m.FromUserName != "o1" {
		t.Fatalf("text %+v %v", m, err)
	}
	if err := xml.Unmarshal(wechatfake.ImageMessage("gh_1", "o1", 5, "MEDIA", at), &m); err != nil || m.MsgType != "image" || m.MediaId != "MEDIA" {
		t.Fatalf("image %+v %v", m, err)
	}
	if err := xml.Unmarshal(wechatfake.Event("o1", "subscribe", at), &m); err != nil || m.MsgType != "event" || m.Event != "subscribe" {
		t.Fatalf("event %+v %v", m, err)
	}
	// SHA-1 of "1409304348pamtestxxxxxx" (the parts sorted), computed with Python.
	if got := wechatfake.Sign("pamtest", "1409304348", "xxxxxx"); got != "76480565cbe296026c53aaacd1ad523a1ddba24f" {
		t.Errorf("Sign = %s", got)
	}
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	body := wechatfake.TextMessage("gh_1", "o1", 1, "hi", at)
	q, post, err := wechatfake.Signed("tok", key, "wx1", body, at)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ ToUserName, Encrypt string }
	if err := xml.Unmarshal(post, &env); err != nil || env.ToUserName != "gh_1" {
		t.Fatalf("envelope %s: %v", post, err)
	}
	if msg, app := decrypt(t, key, env.Encrypt); msg != string(body) || app != "wx1" {
		t.Fatalf("decrypted %q %q", msg, app)
	}
	if q["encrypt_type"] != "aes" || q["msg_signature"] != wechatfake.Sign("tok", q["timestamp"], q["nonce"], env.Encrypt) ||
		q["signature"] != wechatfake.Sign("tok", q["timestamp"], q["nonce"]) || q["timestamp"] != "1348831860" || q["openid"] != "o1" {
		t.Fatalf("query %v", q)
	}
	if q, post, err := wechatfake.Signed("tok", "", "wx1", body, at); err != nil || string(post) != string(body) || q["msg_signature"] != "" {
		t.Fatalf("plain mode: %v %s %v", q, post, err)
	}
	if _, err := wechatfake.Encrypt("short", "wx1", body); err == nil {
		t.Fatal("a short key encrypted")
	}
	if h := wechatfake.Handshake("tok", "123", at); h["echostr"] != "123" || h["signature"] != wechatfake.Sign("tok", h["timestamp"], h["nonce"]) {
		t.Fatalf("handshake %v", h)
	}
}

func TestStartBindsLocalhost(t *testing.T) {
	f, err := wechatfake.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", f.URL())
	}
	f.AcceptAnyAccount()
	tok, _ := token(t, f, "wx1", "s", false)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { send(t, f, tok, "o1", "x") })
	}
	wg.Wait()
	if n := len(f.Sends()); n != 10 {
		t.Fatalf("%d sends of 10", n)
	}
}
