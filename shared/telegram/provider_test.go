package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/telegram"
)

const (
	token    = "7000123:AAH-bot-token_secret"
	hookURL  = "https://hooks.test/telegram/tenant1"
	chatText = "a private question about my order"
)

var creds = chanbridge.Credentials{Token: token, WebhookSecret: secret}

func fake(t *testing.T) (*telegramfake.Server, *telegram.Provider) {
	f := telegramfake.New(t)
	f.AddBot(token, 7000123, "acme_support_bot")
	return f, &telegram.Provider{BaseURL: f.URL()}
}

// safe fails if an error's text holds a token, a secret, the text or a URL.
func safe(t *testing.T, err error, more ...string) {
	t.Helper()
	s := err.Error()
	for _, x := range append(more, token, "AAH-bot", secret, chatText, "http://", "https://", "/bot", "Forbidden:", "blocked by", "chat not found", "Too Many") {
		if strings.Contains(s, x) {
			t.Errorf("error %q contains %q", s, x)
		}
	}
}

func TestConnect(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	acc, err := p.Connect(ctx, creds, hookURL)
	if err != nil || acc != (chanbridge.Account{ID: "7000123", Name: "acme_support_bot"}) {
		t.Fatalf("Connect = %+v, %v", acc, err)
	}
	url, sec, allowed := f.Webhook(token)
	if url != hookURL || sec != secret || !reflect.DeepEqual(allowed, []string{"message", "edited_message", "my_chat_member"}) {
		t.Fatalf("webhook %q %q %v", url, sec, allowed)
	}
	if p.VerifySecret(creds) != secret {
		t.Errorf("VerifySecret = %q", p.VerifySecret(creds))
	}

	t.Run("bad token is refused", func(t *testing.T) {
		for _, tok := range []string{"7000124:AAH-wrong-token", "", "12:a/../../x", "12:a?b"} {
			_, err := p.Connect(ctx, chanbridge.Credentials{Token: tok, WebhookSecret: secret}, hookURL)
			var ae *telegram.APIError
			if !errors.Is(err, chanbridge.ErrRefused) {
				t.Fatalf("token %q: %v", tok, err)
			}
			if tok == "7000124:AAH-wrong-token" && (!errors.As(err, &ae) || ae.Code != 401 || ae.Method != "getMe") {
				t.Errorf("unknown token: %v", err)
			}
			safe(t, err, "AAH-wrong")
		}
	})
	t.Run("bad secret is an error before any call", func(t *testing.T) {
		for _, s := range []string{"", "has space", "dot.", strings.Repeat("a", 257)} {
			_, err := p.Connect(ctx, chanbridge.Credentials{Token: token, WebhookSecret: s}, "https://other.test")
			if err == nil || errors.Is(err, chanbridge.ErrRefused) {
				t.Errorf("secret %q: %v", s, err)
			}
		}
		if url, _, _ := f.Webhook(token); url != hookURL {
			t.Errorf("a refused connect changed the webhook to %q", url)
		}
	})
	t.Run("disconnect deletes the webhook", func(t *testing.T) {
		if err := p.Disconnect(ctx, creds); err != nil {
			t.Fatal(err)
		}
		if url, sec, _ := f.Webhook(token); url != "" || sec != "" {
			t.Errorf("after Disconnect: %q %q", url, sec)
		}
		if err := p.Disconnect(ctx, creds); err != nil {
			t.Errorf("second Disconnect: %v", err)
		}
		err := p.Disconnect(ctx, chanbridge.Credentials{Token: "1:revoked"})
		if !errors.Is(err, chanbridge.ErrRefused) {
			t.Errorf("revoked token: %v", err)
		}
	})
}

func TestSend(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	for i, to := range []string{"5551", "-1001987654321", "@acme_channel"} {
		id, err := p.Send(ctx, creds, chanbridge.Outbound{To: to, Text: chatText, Key: "k"})
		if err != nil || id != []string{"1", "2", "3"}[i] {
			t.Fatalf("Send to %s = %q, %v", to, id, err)
		}
		s := f.Sends()[i]
		if s.ChatID != to || s.Text != chatText || s.Token != token {
			t.Errorf("send %+v", s)
		}
	}
	if l := p.Limit(); l != (channel.RateLimit{PerSecond: 1, Burst: 1, Scope: channel.ScopeContact}) || l.Interval() != time.Second {
		t.Errorf("Limit = %+v", l)
	}
}

func TestSend_Errors(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	out := chanbridge.Outbound{To: "5551", Text: chatText}
	send := func() error {
		_, err := p.Send(ctx, creds, out)
		return err
	}
	t.Run("429 is a RateLimitedError with retry_after", func(t *testing.T) {
		f.FailNext(1, 429, 17)
		err := send()
		d, ok := channel.RetryAfter(err)
		var ae *telegram.APIError
		if !ok || d != 17*time.Second || !errors.As(err, &ae) || ae.Code != 429 || errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("%v (%v %v)", err, d, ok)
		}
		safe(t, err)
	})
	t.Run("429 without retry_after waits the default", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			w.Write([]byte(`{"ok":false,"error_code":429,"description":"Too Many Requests"}`))
		}))
		defer srv.Close()
		_, err := (&telegram.Provider{BaseURL: srv.URL}).Send(ctx, creds, out)
		if d, ok := channel.RetryAfter(err); !ok || d != telegram.RetryAfterDefault {
			t.Fatalf("%v", err)
		}
	})
	for _, code := range []int{403, 400, 401} {
		t.Run(http.StatusText(code)+" is refused", func(t *testing.T) {
			f.FailNext(1, code, 0)
			err := send()
			var ae *telegram.APIError
			if !errors.Is(err, chanbridge.ErrRefused) || !errors.As(err, &ae) || ae.Code != code || ae.Method != "sendMessage" {
				t.Fatalf("%v", err)
			}
			if _, ok := channel.RetryAfter(err); ok {
				t.Errorf("a refusal is not for rate")
			}
			safe(t, err)
		})
	}
	if err := (&telegram.APIError{Method: "sendMessage", Code: 403}); err.Error() != "telegram: sendMessage: 403 forbidden" {
		t.Errorf("Error() = %q", err)
	}
	t.Run("500 is transient", func(t *testing.T) {
		f.FailNext(1, 500, 0)
		err := send()
		var ae *telegram.APIError
		if err == nil || errors.Is(err, chanbridge.ErrRefused) || !errors.As(err, &ae) || ae.Code != 500 {
			t.Fatalf("%v", err)
		}
		if _, ok := channel.RetryAfter(err); ok {
			t.Errorf("a 500 is not for rate")
		}
		safe(t, err)
	})
	t.Run("a lost answer is transient and the send happened", func(t *testing.T) {
		n := len(f.Sends())
		f.LoseNext(1)
		err := send()
		if err == nil || errors.Is(err, chanbridge.ErrRefused) || len(f.Sends()) != n+1 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unknown token is refused", func(t *testing.T) {
		_, err := p.Send(ctx, chanbridge.Credentials{Token: "1:AAH-revoked"}, out)
		if !errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("%v", err)
		}
		safe(t, err, "AAH-revoked")
	})
	t.Run("a part Telegram cannot take is refused before the call", func(t *testing.T) {
		n := len(f.Sends())
		for _, o := range []chanbridge.Outbound{{To: "", Text: chatText}, {To: "1", Text: " \n"}, {To: "1", Text: strings.Repeat("😀", 2049)}} {
			_, err := p.Send(ctx, creds, o)
			if !errors.Is(err, chanbridge.ErrRefused) {
				t.Errorf("%.20q: %v", o.Text, err)
			}
		}
		if len(f.Sends()) != n {
			t.Errorf("a refused part was sent")
		}
	})
	t.Run("network error is transient and names no URL or token", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		_, err := (&telegram.Provider{BaseURL: down.URL}).Send(ctx, creds, out)
		if err == nil || errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("%v", err)
		}
		safe(t, err, "sendMessage/", "7000123")
	})
	t.Run("a 502 without JSON is transient", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}))
		defer bad.Close()
		_, err := (&telegram.Provider{BaseURL: bad.URL}).Send(ctx, creds, out)
		var ae *telegram.APIError
		if !errors.As(err, &ae) || ae.Code != 502 || errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("%v", err)
		}
	})
}

func TestParts(t *testing.T) {
	p := &telegram.Provider{}
	for _, tc := range []struct {
		name string
		text string
		n    int
	}{
		{"short", "short", 1},
		{"exactly the limit", strings.Repeat("x", 4096), 1},
		{"one over", strings.Repeat("x", 4097), 2},
		{"words", strings.Repeat("word ", 2000), 3},
		{"accents", strings.Repeat("ünïcödé ", 1100), 3},
		{"emoji are two units", strings.Repeat("😀", 2049), 2},
		{"empty", "", 0},
		{"blank", " \n\t ", 0},
	} {
		parts := p.Parts(tc.text)
		if len(parts) != tc.n || (tc.n > 0 && strings.Join(parts, "") != tc.text) {
			t.Errorf("%s: %d parts, want %d, rejoined equal %v", tc.name, len(parts), tc.n, strings.Join(parts, "") == tc.text)
		}
		for i, s := range parts {
			if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || len(utf16.Encode([]rune(s))) > telegram.MaxText {
				t.Errorf("%s part %d: %d runes, valid %v", tc.name, i, utf8.RuneCountInString(s), utf8.ValidString(s))
			}
			if i < len(parts)-1 && strings.Contains(tc.text, " ") && !strings.HasSuffix(s, " ") {
				t.Errorf("%s part %d is not cut after a space", tc.name, i)
			}
		}
	}
	// Trailing whitespace past a cut is no part of its own.
	if parts := p.Parts(strings.Repeat("x", 4096) + "   "); len(parts) != 1 {
		t.Errorf("trailing blanks: %d parts", len(parts))
	}
	// Every part of a long text sends.
	f, fp := fake(t)
	for _, s := range fp.Parts(strings.Repeat("Long answer. ", 700)) {
		if _, err := fp.Send(context.Background(), creds, chanbridge.Outbound{To: "5551", Text: s}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.Sends()); n != 3 {
		t.Errorf("%d sends", n)
	}
}

func TestFetch(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff\xe0 fake jpeg")
	f.AddFile("PH-L", "image/jpeg", jpeg)
	f.AddFile("DOC1", "application/octet-stream", []byte("%PDF-1.7"))
	evs, err := telegram.Inbound{}.Parse(telegramfake.PhotoUpdate(1, 5551, "PH-L"))
	if err != nil || len(evs) != 1 || len(evs[0].Attachments) != 1 {
		t.Fatalf("photo update: %+v %v", evs, err)
	}
	data, ct, err := p.Fetch(ctx, creds, evs[0].Attachments[0], 1<<20)
	if err != nil || ct != "image/jpeg" || !reflect.DeepEqual(data, jpeg) {
		t.Fatalf("Fetch = %q %q %v", data, ct, err)
	}
	data, ct, err = p.Fetch(ctx, creds, channel.Attachment{MediaID: "DOC1", ContentType: "application/pdf"}, 100)
	if err != nil || ct != "application/pdf" || string(data) != "%PDF-1.7" {
		t.Fatalf("Fetch of a generic download = %q %q %v", data, ct, err)
	}
	for name, tc := range map[string]struct {
		a   channel.Attachment
		max int64
	}{
		"over max by getFile":    {channel.Attachment{MediaID: "PH-L"}, 4},
		"over max by the update": {channel.Attachment{MediaID: "PH-L", Size: 1 << 30}, 1 << 20},
	} {
		if _, _, err := p.Fetch(ctx, creds, tc.a, tc.max); !errors.Is(err, chanbridge.ErrTooLarge) {
			t.Errorf("%s: %v", name, err)
		} else {
			safe(t, err)
		}
	}
	if _, _, err := p.Fetch(ctx, creds, channel.Attachment{MediaID: "NOPE"}, 100); !errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("unknown file: %v", err)
	} else {
		safe(t, err)
	}
	if _, _, err := p.Fetch(ctx, creds, channel.Attachment{URL: "https://x.test/a"}, 100); !errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("no file id: %v", err)
	}
	if _, _, err := p.Fetch(ctx, chanbridge.Credentials{Token: "1:AAH-revoked"}, channel.Attachment{MediaID: "PH-L"}, 100); !errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("unknown token: %v", err)
	} else {
		safe(t, err, "AAH-revoked")
	}

	// A download without a Content-Length over the limit is cut and refused,
	// and no error names the file URL (it holds the token).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/getFile") {
			w.Write([]byte(`{"ok":true,"result":{"file_id":"V","file_path":"videos/file_1.mp4"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		for range 10 {
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	chunked := &telegram.Provider{BaseURL: srv.URL}
	if _, _, err := chunked.Fetch(ctx, creds, channel.Attachment{MediaID: "V"}, 50); !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Errorf("chunked over the limit: %v", err)
	} else {
		safe(t, err, "file_1")
	}
	data, ct, err = chunked.Fetch(ctx, creds, channel.Attachment{MediaID: "V"}, 100)
	if err != nil || len(data) != 100 || ct != "video/mp4" {
		t.Errorf("chunked at the limit: %d %q %v", len(data), ct, err)
	}
}
