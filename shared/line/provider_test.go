package line_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/line"
)

const (
	token     = "line-channel-access-token-secret"
	botUserID = "U0123456789abcdef0123456789abcdef"
)

var creds = chanbridge.Credentials{Token: token, ChannelSecret: secret}

func fake(t *testing.T) (*linefake.Server, *line.Provider) {
	f := linefake.New(t)
	f.AddChannel(token, botUserID, "Support Bot")
	return f, &line.Provider{APIURL: f.URL(), DataURL: f.URL()}
}

// safe fails if an error's text holds a token, a secret, a message's text or
// a URL, or LINE's own message.
func safe(t *testing.T, err error, words ...string) {
	t.Helper()
	s := err.Error()
	for _, x := range append(words, token, secret, "http://", "https://", "Injected failure", "Invalid reply token", "Authentication failed") {
		if strings.Contains(s, x) {
			t.Errorf("error %q contains %q", s, x)
		}
	}
}

func TestConnect(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	acct, err := p.Connect(ctx, creds, "https://hooks.example/webhooks/line/t1")
	if err != nil || acct != (chanbridge.Account{ID: botUserID, Name: "Support Bot"}) {
		t.Fatalf("Connect = %+v, %v", acct, err)
	}
	if got := f.Endpoint(token); got != "https://hooks.example/webhooks/line/t1" {
		t.Fatalf("endpoint %q", got)
	}
	for _, tc := range []struct {
		name  string
		creds chanbridge.Credentials
	}{
		{"unknown token", chanbridge.Credentials{Token: "wrong-" + token, ChannelSecret: secret}},
		{"no token", chanbridge.Credentials{ChannelSecret: secret}},
		{"no channel secret", chanbridge.Credentials{Token: token}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Connect(ctx, tc.creds, "https://hooks.example/x")
			if !errors.Is(err, chanbridge.ErrRefused) {
				t.Fatalf("Connect: %v, want ErrRefused", err)
			}
			safe(t, err, "hooks.example")
		})
	}
	if err := p.Disconnect(ctx, creds); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if p.VerifySecret(creds) != secret || p.VerifySecret(chanbridge.Credentials{Token: token}) != "" {
		t.Fatal("VerifySecret is not the channel secret")
	}
	if p.Inbound().Channel() != "line" {
		t.Fatal("Inbound is not LINE's")
	}
	if l := p.Limit(); l.PerSecond != 100 || l.Burst < 1 || l.Scope != channel.ScopeAccount {
		t.Fatalf("Limit %+v", l)
	}
}

func TestAcceptAnyChannel(t *testing.T) {
	f := linefake.New(t)
	f.AcceptAnyChannel()
	p := &line.Provider{APIURL: f.URL(), DataURL: f.URL()}
	acct, err := p.Connect(context.Background(), chanbridge.Credentials{Token: "any", ChannelSecret: "s"}, "http://127.0.0.1:3000/webhooks/line")
	if err != nil || acct.ID != linefake.BotUserID("any") || !regexp.MustCompile(`^U[0-9a-f]{32}$`).MatchString(acct.ID) {
		t.Fatalf("Connect = %+v, %v", acct, err)
	}
}

func TestSendPush(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	out := chanbridge.Outbound{To: "Uuser1", Text: "Hello from support", Key: "msg-1/0"}
	id, err := p.Send(ctx, creds, out)
	if err != nil || id == "" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	again, err := p.Send(ctx, creds, out)
	if err != nil || again != id {
		t.Fatalf("retry of an accepted push = %q, %v; want success with %q", again, err, id)
	}
	sends := f.Sends()
	if len(sends) != 1 {
		t.Fatalf("%d sends, want 1: %+v", len(sends), sends)
	}
	s := sends[0]
	if s.Kind != "push" || s.To != "Uuser1" || s.Text != out.Text || s.Token != token || s.ID != id ||
		s.RetryKey != line.RetryKey("msg-1/0") {
		t.Fatalf("send %+v", s)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s.RetryKey) ||
		line.RetryKey("msg-1/1") == s.RetryKey {
		t.Fatalf("retry key %q is not a v4 UUID of the part's key", s.RetryKey)
	}
}

func TestSendLostAnswerIsSentOnce(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	out := chanbridge.Outbound{To: "Uuser1", Text: "lost answer", Key: "msg-2/0"}
	f.LoseNext(1)
	if _, err := p.Send(ctx, creds, out); err == nil || errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("lost answer: %v, want a transient error", err)
	}
	id, err := p.Send(ctx, creds, out)
	if err != nil || id == "" {
		t.Fatalf("retry = %q, %v", id, err)
	}
	if sends := f.Sends(); len(sends) != 1 || sends[0].ID != id {
		t.Fatalf("sends %+v, want one with id %q", sends, id)
	}
}

func TestSendReply(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	rt := f.IssueReplyToken()
	id, err := p.Send(ctx, creds, chanbridge.Outbound{To: "Uuser1", Text: "a reply", Key: "msg-3/0", ReplyToken: rt})
	if err != nil || id == "" {
		t.Fatalf("reply = %q, %v", id, err)
	}
	// The token is used: the next part falls back to a push.
	id2, err := p.Send(ctx, creds, chanbridge.Outbound{To: "Uuser1", Text: "second part", Key: "msg-3/1", ReplyToken: rt})
	if err != nil || id2 == "" || id2 == id {
		t.Fatalf("reply with a used token = %q, %v", id2, err)
	}
	// An expired token falls back too.
	rt2 := f.IssueReplyToken()
	f.ExpireReplyTokens()
	if _, err := p.Send(ctx, creds, chanbridge.Outbound{To: "Uuser1", Text: "late", Key: "msg-4/0", ReplyToken: rt2}); err != nil {
		t.Fatalf("reply with an expired token: %v", err)
	}
	sends := f.Sends()
	if len(sends) != 3 {
		t.Fatalf("%d sends, want 3: %+v", len(sends), sends)
	}
	if s := sends[0]; s.Kind != "reply" || s.ReplyToken != rt || s.Text != "a reply" || s.RetryKey != "" || s.ID != id {
		t.Fatalf("reply %+v", s)
	}
	for i, text := range []string{"second part", "late"} {
		if s := sends[i+1]; s.Kind != "push" || s.To != "Uuser1" || s.Text != text || s.RetryKey == "" {
			t.Fatalf("fallback %d %+v", i, s)
		}
	}
	// Without a recipient to push to, an invalid token is a refusal.
	_, err = p.Send(ctx, creds, chanbridge.Outbound{Text: "nowhere", Key: "msg-5/0", ReplyToken: "unknown"})
	if !errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("reply without a recipient: %v", err)
	}
	safe(t, err, "nowhere", "unknown")
}

func TestSendErrors(t *testing.T) {
	ctx := context.Background()
	text := "private words of the contact"
	out := chanbridge.Outbound{To: "Uuser1", Text: text, Key: "msg-6/0"}
	t.Run("429 is a RateLimitedError, then sent", func(t *testing.T) {
		f, p := fake(t)
		f.FailNext(1, http.StatusTooManyRequests)
		_, err := p.Send(ctx, creds, out)
		if d, ok := channel.RetryAfter(err); !ok || d != time.Second {
			t.Fatalf("Send: %v, want a RateLimitedError of 1s", err)
		}
		safe(t, err, text)
		if _, err := p.Send(ctx, creds, out); err != nil || len(f.Sends()) != 1 {
			t.Fatalf("retry: %v, %d sends", err, len(f.Sends()))
		}
	})
	t.Run("429 on a reply is a RateLimitedError", func(t *testing.T) {
		f, p := fake(t)
		f.FailNext(1, http.StatusTooManyRequests)
		_, err := p.Send(ctx, creds, chanbridge.Outbound{To: "Uuser1", Text: text, Key: "k", ReplyToken: f.IssueReplyToken()})
		if _, ok := channel.RetryAfter(err); !ok || len(f.Sends()) != 0 {
			t.Fatalf("Send: %v, %d sends", err, len(f.Sends()))
		}
	})
	t.Run("500 is transient", func(t *testing.T) {
		f, p := fake(t)
		f.FailNext(1, http.StatusInternalServerError)
		_, err := p.Send(ctx, creds, out)
		var ae *line.APIError
		if err == nil || errors.Is(err, chanbridge.ErrRefused) || !errors.As(err, &ae) || ae.Status != 500 || ae.Op != "push" {
			t.Fatalf("Send: %v, want a transient APIError", err)
		}
		if _, ok := channel.RetryAfter(err); ok {
			t.Fatal("a 500 is not a refusal for rate")
		}
		safe(t, err, text)
	})
	t.Run("400 is refused", func(t *testing.T) {
		f, p := fake(t)
		f.FailNext(1, http.StatusBadRequest)
		_, err := p.Send(ctx, creds, out)
		if !errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("Send: %v, want ErrRefused", err)
		}
		safe(t, err, text)
	})
	t.Run("bad token is refused", func(t *testing.T) {
		_, p := fake(t)
		_, err := p.Send(ctx, chanbridge.Credentials{Token: "revoked-" + token}, out)
		var ae *line.APIError
		if !errors.Is(err, chanbridge.ErrRefused) || !errors.As(err, &ae) || ae.Status != 401 || ae.RequestID == "" {
			t.Fatalf("Send: %v, want ErrRefused with LINE's 401", err)
		}
		safe(t, err, text)
	})
	t.Run("network error is transient", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		p := &line.Provider{APIURL: srv.URL}
		_, err := p.Send(ctx, creds, out)
		if err == nil || errors.Is(err, chanbridge.ErrRefused) {
			t.Fatalf("Send: %v, want a transient error", err)
		}
		safe(t, err, text)
	})
	t.Run("invalid sends are refused before sending", func(t *testing.T) {
		f, p := fake(t)
		for _, o := range []chanbridge.Outbound{{To: "U1"}, {Text: text}, {To: "U1", Text: strings.Repeat("a", line.TextLimit+1)}} {
			if _, err := p.Send(ctx, creds, o); !errors.Is(err, chanbridge.ErrRefused) {
				t.Errorf("Send(%d characters to %q): %v", len(o.Text), o.To, err)
			} else {
				safe(t, err, text)
			}
		}
		if _, err := p.Send(ctx, chanbridge.Credentials{}, out); !errors.Is(err, chanbridge.ErrRefused) {
			t.Errorf("Send without a token: %v", err)
		}
		if n := len(f.Sends()); n != 0 {
			t.Errorf("%d sends", n)
		}
	})
}

func TestFetch(t *testing.T) {
	f, p := fake(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte{0xff, 0xd8, 0x01}, 1000)
	f.AddContent("900", "image/jpeg", data)
	got, ct, err := p.Fetch(ctx, creds, channel.Attachment{MediaID: "900", ContentType: "image/png"}, 10000)
	if err != nil || !bytes.Equal(got, data) || ct != "image/jpeg" {
		t.Fatalf("Fetch = %d bytes, %q, %v", len(got), ct, err)
	}
	_, _, err = p.Fetch(ctx, creds, channel.Attachment{MediaID: "900"}, 2999)
	if !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("Fetch over max: %v, want ErrTooLarge", err)
	}
	_, _, err = p.Fetch(ctx, creds, channel.Attachment{MediaID: "404"}, 10000)
	if !errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("Fetch of unknown content: %v", err)
	}
	safe(t, err)
	_, _, err = p.Fetch(ctx, chanbridge.Credentials{Token: "wrong-" + token}, channel.Attachment{MediaID: "900"}, 10000)
	if !errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("Fetch with a bad token: %v", err)
	}
	safe(t, err)
	if _, _, err := p.Fetch(ctx, creds, channel.Attachment{}, 10000); err == nil {
		t.Fatal("Fetch of nothing succeeded")
	}
}

func TestFetchExternal(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write([]byte("external bytes"))
	}))
	defer srv.Close()
	p := &line.Provider{}
	got, ct, err := p.Fetch(context.Background(), creds, channel.Attachment{URL: srv.URL + "/a.jpg?sig=x", ContentType: "image/jpeg"}, 100)
	if err != nil || string(got) != "external bytes" || ct == "" || auth != "" {
		t.Fatalf("Fetch = %q, %q, %v (authorization %q: the token must not leave)", got, ct, err, auth)
	}
	_, _, err = p.Fetch(context.Background(), creds, channel.Attachment{URL: "http://cdn.example/a.jpg?sig=x"}, 100)
	if !errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("Fetch of a plain http URL: %v", err)
	}
	safe(t, err, "cdn.example")
}

func TestParts(t *testing.T) {
	p := &line.Provider{}
	if got := p.Parts(""); got != nil {
		t.Fatalf("Parts of nothing = %q", got)
	}
	if got := p.Parts("short"); len(got) != 1 || got[0] != "short" {
		t.Fatalf("Parts = %q", got)
	}
	for _, text := range []string{
		strings.Repeat("a", 12001),
		strings.Repeat("word ", 2500),
		strings.Repeat("日本語", 2000),
		strings.Repeat("😀", 2600), // two UTF-16 units each
	} {
		parts := p.Parts(text)
		if strings.Join(parts, "") != text {
			t.Fatal("parts do not join to the text")
		}
		for i, part := range parts {
			units := 0
			for _, r := range part {
				units++
				if r > 0xffff {
					units++
				}
			}
			if part == "" || units > line.TextLimit || !utf8.ValidString(part) {
				t.Fatalf("part %d of %d: %d units", i, len(parts), units)
			}
		}
	}
	if got := p.Parts(strings.Repeat("a", 5000)); len(got) != 1 {
		t.Fatalf("5000 characters in %d parts", len(got))
	}
	if got := p.Parts(strings.Repeat("a", 5001)); len(got) != 2 || len(got[0]) != 5000 {
		t.Fatalf("5001 characters in %d parts", len(got))
	}
}

func TestSendConflictWithoutSentMessages(t *testing.T) {
	for _, tc := range []struct {
		accepted, want string
	}{
		{"req-accepted-1", "req-accepted-1"},
		{"", "retry:" + line.RetryKey("msg-7/0")},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.accepted != "" {
				w.Header().Set("X-Line-Accepted-Request-Id", tc.accepted)
			}
			w.Header().Set("X-Line-Request-Id", "req-this-one")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"message":"The retry key is already accepted"}`))
		}))
		p := &line.Provider{APIURL: srv.URL}
		id, err := p.Send(context.Background(), creds, chanbridge.Outbound{To: "U1", Text: "x", Key: "msg-7/0"})
		srv.Close()
		if err != nil || id != tc.want {
			t.Errorf("409 = %q, %v; want success %q", id, err, tc.want)
		}
	}
}
