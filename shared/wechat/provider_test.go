package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/wechat"
)

const appSecret = "0c79e1fa963cd80cc0be99b20a18faeb"

var ctx = context.Background()

func setup(t *testing.T) (*wechatfake.Server, *wechat.Provider, chanbridge.Credentials) {
	t.Helper()
	f := wechatfake.New(t)
	f.AddAccount(appID, appSecret)
	p := &wechat.Provider{BaseURL: f.URL()}
	creds := chanbridge.Credentials{AppID: appID, AppSecret: appSecret, Token: urlToken, AESKey: aesKey}
	tok, err := p.Refresh(ctx, creds, false)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	creds.Access = tok.Access
	return f, p, creds
}

// clean fails when err names a secret, a token, a text or a URL.
func clean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range append(secrets, appSecret, urlToken, aesKey, "ACCESS_", "access_token=", "http://", "https://", "rid:") {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q names %q", err, s)
		}
	}
}

func TestRefresh(t *testing.T) {
	f, p, creds := setup(t)
	p.Now = clock
	tok, err := p.Refresh(ctx, creds, false)
	if err != nil || tok.Access != creds.Access || tok.Refresh != "" || tok.Expires.Sub(now) <= 7000*time.Second || tok.Expires.Sub(now) > 7200*time.Second {
		t.Fatalf("non-forced Refresh: %+v %v; want the token in use, about 2 hours", tok, err)
	}
	forced, err := p.Refresh(ctx, creds, true)
	if err != nil || forced.Access == tok.Access || forced.Access == "" {
		t.Fatalf("forced Refresh: %+v %v; want a new token", forced, err)
	}
	if n := f.TokenFetches(); n != 3 {
		t.Errorf("%d token fetches, want 3", n)
	}
	// The forced refresh invalidated the old token at once.
	_, err = p.Account(ctx, creds)
	if !errors.Is(err, chanbridge.ErrTokenExpired) || !strings.Contains(err.Error(), "errcode 40001") {
		t.Fatalf("Account with the replaced token: %v", err)
	}
	clean(t, err, tok.Access)
	creds.Access = forced.Access
	if acc, err := p.Account(ctx, creds); err != nil || acc != (chanbridge.Account{ID: appID}) {
		t.Fatalf("Account: %+v %v", acc, err)
	}

	for _, tc := range []struct {
		name    string
		fault   func()
		creds   chanbridge.Credentials
		refused bool
		rate    bool
		code    string
	}{
		{"unknown app id", func() {}, chanbridge.Credentials{AppID: "wx0000000000000000", AppSecret: appSecret}, true, false, "errcode 40013"},
		{"wrong secret", func() {}, chanbridge.Credentials{AppID: appID, AppSecret: "wrong-secret-0123"}, true, false, "errcode 40125"},
		{"no secret", func() {}, chanbridge.Credentials{AppID: appID}, true, false, "no app id or app secret"},
		{"IP not whitelisted", func() { f.RefuseIP(true) }, creds, true, false, "egress IP is not on the account's IP whitelist"},
		{"system busy is transient", func() { f.RefuseIP(false); f.FailNext(1, -1) }, creds, false, false, "errcode -1"},
		{"daily quota", func() { f.FailNext(1, 45009) }, creds, false, true, "errcode 45009"},
		{"HTTP 502 is transient", func() { f.FailHTTP(1, 502) }, creds, false, false, "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			tok, err := p.Refresh(ctx, tc.creds, false)
			if err == nil || tok != (chanbridge.Token{}) || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Refresh: %+v %v; want an error naming %q", tok, err, tc.code)
			}
			if errors.Is(err, chanbridge.ErrRefused) != tc.refused {
				t.Errorf("%v: refused %v, want %v", err, !tc.refused, tc.refused)
			}
			if _, ok := channel.RetryAfter(err); ok != tc.rate {
				t.Errorf("%v: rate limited %v, want %v", err, ok, tc.rate)
			}
			clean(t, err, "wrong-secret-0123")
		})
	}
	if err := p.Disconnect(ctx, creds); err != nil {
		t.Errorf("Disconnect: %v", err)
	}
}

func TestConnect(t *testing.T) {
	f, p, creds := setup(t)
	if acc, err := p.Connect(ctx, creds, "https://api.livesupportbot.test/wechat/webhook/t1"); err != nil || acc.ID != appID {
		t.Fatalf("Connect: %+v %v", acc, err)
	}
	for name, c := range map[string]chanbridge.Credentials{
		"no URL token": {AppID: appID, Access: creds.Access, AESKey: aesKey},
		"bad AES key":  {AppID: appID, Access: creds.Access, Token: urlToken, AESKey: aesKey[:42] + "!"},
		"short key":    {AppID: appID, Access: creds.Access, Token: urlToken, AESKey: aesKey[:40]},
		"no app id":    {Access: creds.Access, Token: urlToken},
	} {
		if _, err := p.Connect(ctx, c, ""); !errors.Is(err, chanbridge.ErrRefused) || !errors.Is(err, wechat.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := p.Connect(ctx, chanbridge.Credentials{AppID: appID, Token: urlToken}, ""); !errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Errorf("no access token: %v, want ErrTokenExpired (the bridge refreshes)", err)
	}
	f.ExpireTokens()
	_, err := p.Account(ctx, creds)
	if !errors.Is(err, chanbridge.ErrTokenExpired) || !strings.Contains(err.Error(), "errcode 42001") {
		t.Fatalf("Account with an expired token: %v", err)
	}
	clean(t, err, creds.Access)
	tok, err := p.Refresh(ctx, creds, false)
	if err != nil || tok.Access == creds.Access {
		t.Fatalf("non-forced Refresh after expiry: %+v %v; want a new token", tok, err)
	}
}

func TestSend(t *testing.T) {
	f, p, creds := setup(t)
	out := chanbridge.Outbound{To: openID, Text: "secret order 42", Key: "m1:0"}
	id, err := p.Send(ctx, creds, out)
	if err != nil || id != "" {
		t.Fatalf("Send: %q, %v", id, err)
	}
	long := strings.Repeat("微", wechat.TextLimit/3) // 2046 bytes
	if _, err := p.Send(ctx, creds, chanbridge.Outbound{To: openID, Text: long}); err != nil {
		t.Fatalf("a text of %d bytes: %v", len(long), err)
	}
	s := f.Sends()
	if len(s) != 2 || s[0] != (wechatfake.Send{AppID: appID, Token: creds.Access, ToUser: openID, Text: out.Text}) || s[1].Text != long {
		t.Fatalf("sends %+v", s)
	}

	for _, tc := range []struct {
		name    string
		fault   func()
		out     chanbridge.Outbound
		creds   chanbridge.Credentials
		refused bool
		expired bool
		rate    time.Duration // a RateLimitedError with this RetryAfter (-1: any)
		code    string        // in the error
	}{
		{"out of response count", func() { f.FailNext(1, 45047) }, out, creds, true, false, 0, "custom/send refused: errcode 45047"},
		{"reply time limit", func() { f.FailNext(1, 45015) }, out, creds, true, false, 0, "errcode 45015"},
		{"unsubscribed", func() { f.FailNext(1, 43004) }, out, creds, true, false, 0, "errcode 43004"},
		{"blocked", func() { f.FailNext(1, 43019) }, out, creds, true, false, 0, "errcode 43019"},
		{"invalid openid", func() { f.FailNext(1, 40003) }, out, creds, true, false, 0, "errcode 40003"},
		{"IP not whitelisted", func() { f.FailNext(1, 40164) }, out, creds, true, false, 0, "IP whitelist"},
		{"token expired", func() { f.FailNext(1, 42001) }, out, creds, false, true, 0, "errcode 42001"},
		{"token invalid", func() {}, out, chanbridge.Credentials{Access: "ACCESS_not_issued"}, false, true, 0, "errcode 40001"},
		{"token not latest", func() { f.FailNext(1, 40014) }, out, creds, false, true, 0, "errcode 40014"},
		{"no token", func() {}, out, chanbridge.Credentials{}, false, true, 0, "no access token"},
		{"daily quota", func() { f.FailNext(1, 45009) }, out, creds, false, false, -1, "errcode 45009"},
		{"minute quota", func() { f.FailNext(1, 45011) }, out, creds, false, false, wechat.RetryAfterMinute, "errcode 45011"},
		{"system busy is transient", func() { f.FailNext(1, -1) }, out, creds, false, false, 0, "errcode -1"},
		{"unknown errcode is transient", func() { f.FailNext(1, 61451) }, out, creds, false, false, 0, "errcode 61451"},
		{"HTTP 500 is transient", func() { f.FailHTTP(1, 500) }, out, creds, false, false, 0, "HTTP 500"},
		{"text over the limit", func() {}, chanbridge.Outbound{To: openID, Text: long + "abc"}, creds, true, false, 0, "2049 bytes"},
		{"no text", func() {}, chanbridge.Outbound{To: openID}, creds, true, false, 0, "without text"},
		{"no recipient", func() {}, chanbridge.Outbound{Text: "x"}, creds, true, false, 0, "without a recipient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			id, err := p.Send(ctx, tc.creds, tc.out)
			if err == nil || id != "" || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Send: %q, %v; want an error naming %q", id, err, tc.code)
			}
			if errors.Is(err, chanbridge.ErrRefused) != tc.refused {
				t.Errorf("%v: refused %v, want %v", err, !tc.refused, tc.refused)
			}
			if errors.Is(err, chanbridge.ErrTokenExpired) != tc.expired {
				t.Errorf("%v: token expired %v, want %v", err, !tc.expired, tc.expired)
			}
			d, ok := channel.RetryAfter(err)
			if ok != (tc.rate != 0) || (tc.rate > 0 && d != tc.rate) || (ok && d < time.Minute) {
				t.Errorf("%v: retry after %v (%v), want %v", err, d, ok, tc.rate)
			}
			clean(t, err, creds.Access, out.Text)
		})
	}
	if n := len(f.Sends()); n != 2 {
		t.Errorf("%d sends carried out, want 2", n)
	}

	// The fake's own window: 5 sends within 48 hours of the contact's message.
	f.UserMessage("o_recent", time.Now().Add(-47*time.Hour))
	f.UserMessage("o_old", time.Now().Add(-49*time.Hour))
	for i := range 6 {
		_, err := p.Send(ctx, creds, chanbridge.Outbound{To: "o_recent", Text: "x"})
		if (i < 5) != (err == nil) {
			t.Fatalf("send %d to a recent contact: %v", i+1, err)
		}
		if i == 5 && (!errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "45047")) {
			t.Fatalf("6th send: %v", err)
		}
	}
	if _, err := p.Send(ctx, creds, chanbridge.Outbound{To: "o_old", Text: "x"}); !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "45015") {
		t.Fatalf("send after 48 hours: %v", err)
	}

	f.Close()
	_, err = p.Send(ctx, creds, out)
	if err == nil || errors.Is(err, chanbridge.ErrRefused) || errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Fatalf("Send to a closed server: %v, want a transient error", err)
	}
	clean(t, err, creds.Access, out.Text)
}

func TestDailyQuotaWaitsForBeijingMidnight(t *testing.T) {
	f, p, creds := setup(t)
	// 15:30 UTC is 23:30 in Beijing: the quota resets in 30 minutes.
	p.Now = func() time.Time { return time.Date(2026, 3, 1, 15, 30, 0, 0, time.UTC) }
	f.FailNext(1, 45009)
	_, err := p.Send(ctx, creds, chanbridge.Outbound{To: openID, Text: "x"})
	if d, ok := channel.RetryAfter(err); !ok || d != 30*time.Minute {
		t.Fatalf("retry after %v (%v), want 30m: %v", d, ok, err)
	}
}

func TestParts(t *testing.T) {
	p := &wechat.Provider{}
	for _, tc := range []struct {
		name  string
		text  string
		parts int
	}{
		{"empty", "", 0},
		{"ASCII at the limit", strings.Repeat("a", 2048), 1},
		{"ASCII over the limit", strings.Repeat("a", 2049), 2},
		{"CJK: 3 bytes a character", strings.Repeat("中", 683), 2}, // 2049 bytes, 683 runes
		{"CJK at 682 characters", strings.Repeat("中", 682), 1},
		{"emoji: 4 bytes", strings.Repeat("😀", 1000), 2},
		{"mixed with spaces", strings.Repeat("客服 support ", 400), 3},
		{"invalid UTF-8 bytes", strings.Repeat("\xff", 3000), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := p.Parts(tc.text)
			if len(parts) != tc.parts || strings.Join(parts, "") != tc.text {
				t.Fatalf("%d parts, want %d, joined the text", len(parts), tc.parts)
			}
			for i, part := range parts {
				if part == "" || len(part) > wechat.TextLimit {
					t.Fatalf("part %d of %d bytes", i, len(part))
				}
				if utf8.ValidString(tc.text) && !utf8.ValidString(part) {
					t.Fatalf("part %d cut inside a character", i)
				}
			}
		})
	}
	// A cut after a space in the second half of the part.
	text := strings.Repeat("中", 500) + " " + strings.Repeat("文", 500)
	if parts := p.Parts(text); len(parts) != 2 || !strings.HasSuffix(parts[0], " ") || len(parts[0]) != 1501 {
		t.Fatalf("parts of %v bytes", len(parts[0]))
	}
}

func TestFetch(t *testing.T) {
	f, p, creds := setup(t)
	jpeg := []byte("\xff\xd8\xff\xe0 a JPEG")
	f.AddMedia("MEDIA_img", "image/jpeg", jpeg)
	f.AddMedia("MEDIA_vid", "video/mp4", []byte("....ftypmp42 a video"))
	a := channel.Attachment{MediaID: "MEDIA_img", ContentType: "image/jpeg", Name: "image.jpg"}
	got, ct, err := p.Fetch(ctx, creds, a, int64(len(jpeg)))
	if err != nil || string(got) != string(jpeg) || ct != "image/jpeg" {
		t.Fatalf("Fetch: %q %q %v", got, ct, err)
	}
	_, _, err = p.Fetch(ctx, creds, a, int64(len(jpeg))-1)
	if !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("Fetch over the cap: %v", err)
	}
	clean(t, err, creds.Access, "MEDIA_img")
	if got, ct, err := p.Fetch(ctx, creds, channel.Attachment{MediaID: "MEDIA_vid"}, 100); err != nil || ct != "video/mp4" || string(got) != "....ftypmp42 a video" {
		t.Fatalf("video through its download URL: %q %q %v", got, ct, err)
	}
	if _, _, err := p.Fetch(ctx, creds, channel.Attachment{MediaID: "MEDIA_vid"}, 5); !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("video over the cap: %v", err)
	} else {
		clean(t, err, creds.Access)
	}
	// An unknown media id: WeChat's error answered as text/plain.
	_, _, err = p.Fetch(ctx, creds, channel.Attachment{MediaID: "gone"}, 100)
	if !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "errcode 40007") {
		t.Fatalf("Fetch of an unknown media id: %v", err)
	}
	// An error smaller than the cap, the cap smaller than the error: the
	// error still wins over ErrTooLarge.
	if _, _, err := p.Fetch(ctx, creds, channel.Attachment{MediaID: "gone"}, 3); !errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("Fetch of an unknown media id with a small cap: %v", err)
	}
	f.ExpireTokens()
	if _, _, err := p.Fetch(ctx, creds, a, 100); !errors.Is(err, chanbridge.ErrTokenExpired) {
		t.Fatalf("Fetch with an expired token: %v", err)
	} else {
		clean(t, err, creds.Access)
	}
	for _, bad := range []channel.Attachment{{}, {URL: "http://mmbiz.qpic.cn/x"}} {
		if _, _, err := p.Fetch(ctx, creds, bad, 100); !errors.Is(err, wechat.ErrInvalid) {
			t.Errorf("Fetch(%+v): %v", bad, err)
		}
	}
	if _, _, err := p.Fetch(ctx, creds, a, 0); !errors.Is(err, wechat.ErrInvalid) {
		t.Errorf("Fetch without a cap: %v", err)
	}

	// A stream with no length and no type: the cap holds, the type is the
	// attachment's or sniffed; a 5xx is transient.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("media_id") == "fail" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header()["Content-Type"] = nil
		w.(http.Flusher).Flush()
		w.Write([]byte("%PDF-1.7 a document of some length"))
	}))
	defer srv.Close()
	sp := &wechat.Provider{BaseURL: srv.URL}
	if _, _, err := sp.Fetch(ctx, creds, channel.Attachment{MediaID: "m"}, 10); !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("a stream over the cap: %v", err)
	}
	if _, ct, err := sp.Fetch(ctx, creds, channel.Attachment{MediaID: "m"}, 100); err != nil || ct != "application/pdf" {
		t.Fatalf("sniffed type: %q %v", ct, err)
	}
	_, _, err = sp.Fetch(ctx, creds, channel.Attachment{MediaID: "fail"}, 100)
	if err == nil || errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("HTTP 502: %v", err)
	}
	clean(t, err, creds.Access)
}

func TestQuotaAndLimit(t *testing.T) {
	p := &wechat.Provider{}
	if n, life := p.Quota(); n != 5 || life != 48*time.Hour {
		t.Errorf("Quota() = %d, %v", n, life)
	}
	if l := p.Limit(); l.Scope != channel.ScopeContact || l.Interval() != time.Second || l.Burst != 1 {
		t.Errorf("Limit() = %+v", l)
	}
}
