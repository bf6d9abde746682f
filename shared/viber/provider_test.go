package viber_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/viber"
)

const hookURL = "https://api.livesupportbot.test/viber/webhook/t1"

var creds = chanbridge.Credentials{Token: authToken, SenderName: "Acme Support"}

func setup(t *testing.T) (*viberfake.Server, *viber.Provider) {
	f := viberfake.New(t)
	f.AddAccount(authToken, "pa:5491540939539838373", "Acme")
	return f, &viber.Provider{BaseURL: f.URL()}
}

// clean fails when err names a secret, a text or a URL.
func clean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range append(secrets, authToken, "http://", "https://") {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q names %q", err, s)
		}
	}
}

func TestConnect(t *testing.T) {
	f, p := setup(t)
	acc, err := p.Connect(context.Background(), creds, hookURL)
	if err != nil || acc != (chanbridge.Account{ID: "pa:5491540939539838373", Name: "Acme"}) {
		t.Fatalf("Connect: %+v, %v", acc, err)
	}
	u, events := f.Webhook(authToken)
	if u != hookURL || strings.Join(events, ",") != "delivered,seen,failed,subscribed,unsubscribed,conversation_started" {
		t.Fatalf("webhook %q %v", u, events)
	}
	if err := p.Disconnect(context.Background(), creds); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if u, _ := f.Webhook(authToken); u != "" {
		t.Fatalf("webhook %q after Disconnect", u)
	}
	if err := p.Disconnect(context.Background(), chanbridge.Credentials{}); err != nil {
		t.Fatalf("Disconnect without a token: %v", err)
	}

	for _, tc := range []struct {
		name  string
		creds chanbridge.Credentials
		url   string
		code  string // in the error
	}{
		{"bad token", chanbridge.Credentials{Token: "wrong-token-0123", SenderName: "Acme"}, hookURL, "status 2"},
		{"no token", chanbridge.Credentials{SenderName: "Acme"}, hookURL, "no auth token"},
		{"sender name over 28", chanbridge.Credentials{Token: authToken, SenderName: strings.Repeat("é", 29)}, hookURL, "sender name of 29"},
		{"blank sender name", chanbridge.Credentials{Token: authToken, SenderName: "  "}, hookURL, "sender name"},
		{"no webhook URL", creds, "", "without a webhook URL"},
		{"invalid webhook URL", creds, "ftp://x", "status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Connect(context.Background(), tc.creds, tc.url)
			if !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Connect: %v, want ErrRefused naming %q", err, tc.code)
			}
			clean(t, err, "wrong-token-0123", "ftp://x")
		})
	}
	if _, err := p.Connect(context.Background(), chanbridge.Credentials{Token: authToken, SenderName: strings.Repeat("é", 28)}, hookURL); err != nil {
		t.Errorf("a sender name of 28 characters: %v", err)
	}
	if err := p.Disconnect(context.Background(), chanbridge.Credentials{Token: "wrong-token-0123"}); !errors.Is(err, chanbridge.ErrRefused) {
		t.Errorf("Disconnect with a refused token: %v", err)
	}
}

func TestSend(t *testing.T) {
	f, p := setup(t)
	out := chanbridge.Outbound{To: "01234567890A=", Text: "secret order 42", Key: "k1"}
	id, err := p.Send(context.Background(), creds, out)
	if err != nil || id != "5491540939539838373" {
		t.Fatalf("Send: %q, %v; want the fake's first token exactly", id, err)
	}
	s := f.Sends()
	if len(s) != 1 || s[0] != (viberfake.Send{Token: authToken, Receiver: out.To, SenderName: "Acme Support", Text: out.Text, Token64: id}) {
		t.Fatalf("sends %+v", s)
	}
	long := strings.Repeat("ж", viber.TextLimit)
	if id, err := p.Send(context.Background(), creds, chanbridge.Outbound{To: "U1", Text: long}); err != nil || id != "5491540939539838374" {
		t.Fatalf("a text of %d characters: %q, %v", viber.TextLimit, id, err)
	}

	for _, tc := range []struct {
		name    string
		fault   func()
		out     chanbridge.Outbound
		creds   chanbridge.Credentials
		refused bool
		rate    time.Duration // a RateLimitedError with this RetryAfter
		code    string        // in the error
	}{
		{"not subscribed", func() { f.Unsubscribe("gone") }, chanbridge.Outbound{To: "gone", Text: out.Text}, creds, true, 0, "status 6"},
		{"not registered", func() { f.FailNext(1, 5) }, out, creds, true, 0, "status 5"},
		{"no suitable device", func() { f.FailNext(1, 11) }, out, creds, true, 0, "status 11"},
		{"bad token", func() {}, out, chanbridge.Credentials{Token: "wrong-token-0123", SenderName: "Acme"}, true, 0, "status 2"},
		{"too many requests", func() { f.FailNext(1, 12) }, out, creds, false, viber.RetryAfterDefault, "status 12"},
		{"HTTP 429", func() { f.FailHTTP(1, 429) }, out, creds, false, viber.RetryAfterDefault, "HTTP 429"},
		{"HTTP 500 is transient", func() { f.FailHTTP(1, 500) }, out, creds, false, 0, "HTTP 500"},
		{"general error is transient", func() { f.FailNext(1, 99) }, out, creds, false, 0, "status 99"},
		{"lost answer is transient", func() { f.LoseNext(1) }, out, creds, false, 0, "HTTP 500"},
		{"text over the limit", func() {}, chanbridge.Outbound{To: "U1", Text: long + "ж"}, creds, true, 0, "over 7000"},
		{"no text", func() {}, chanbridge.Outbound{To: "U1"}, creds, true, 0, "without text"},
		{"no receiver", func() {}, chanbridge.Outbound{Text: "x"}, creds, true, 0, "without a receiver"},
		{"sender name over 28", func() {}, out, chanbridge.Credentials{Token: authToken, SenderName: strings.Repeat("n", 29)}, true, 0, "sender name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			id, err := p.Send(context.Background(), tc.creds, tc.out)
			if err == nil || id != "" || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("Send: %q, %v; want an error naming %q", id, err, tc.code)
			}
			if errors.Is(err, chanbridge.ErrRefused) != tc.refused {
				t.Errorf("%v: refused %v, want %v", err, !tc.refused, tc.refused)
			}
			if d, ok := channel.RetryAfter(err); ok != (tc.rate > 0) || d != tc.rate {
				t.Errorf("%v: retry after %v (%v), want %v", err, d, ok, tc.rate)
			}
			clean(t, err, "wrong-token-0123", out.Text)
		})
	}
	if n := len(f.Sends()); n != 3 {
		t.Errorf("%d sends carried out, want 3 (the lost answer's included)", n)
	}

	f.Close()
	_, err = p.Send(context.Background(), creds, out)
	if err == nil || errors.Is(err, chanbridge.ErrRefused) {
		t.Fatalf("Send to a closed server: %v, want a transient error", err)
	}
	clean(t, err, out.Text)
}

func TestFetch(t *testing.T) {
	f, p := setup(t)
	data := []byte("\xff\xd8\xff\xe0 a JPEG")
	u := f.CDN("a.jpg", "image/jpeg", data)
	a := channel.Attachment{URL: u, Name: "picture.jpg", ContentType: "image/jpeg"}
	got, ct, err := p.Fetch(context.Background(), creds, a, int64(len(data)))
	if err != nil || string(got) != string(data) || ct != "image/jpeg" {
		t.Fatalf("Fetch: %q %q %v", got, ct, err)
	}
	_, _, err = p.Fetch(context.Background(), creds, a, int64(len(data))-1)
	if !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("Fetch over the cap: %v", err)
	}
	clean(t, err, u)
	a.URL = strings.TrimSuffix(u, "a.jpg") + "gone.jpg"
	if _, _, err := p.Fetch(context.Background(), creds, a, 100); !errors.Is(err, chanbridge.ErrRefused) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Fetch of an expired URL: %v", err)
	}
	for _, bad := range []channel.Attachment{{}, {URL: "file:///etc/passwd"}, {MediaID: "m1"}} {
		if _, _, err := p.Fetch(context.Background(), creds, bad, 100); !errors.Is(err, viber.ErrInvalid) {
			t.Errorf("Fetch(%+v): %v", bad, err)
		}
	}

	// A CDN that sends no length, and no type: the cap still holds, the type
	// is the attachment's or sniffed.
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		w.(http.Flusher).Flush()
		w.Write([]byte("%PDF-1.7 a document of some length"))
	}))
	defer cdn.Close()
	if _, _, err := p.Fetch(context.Background(), creds, channel.Attachment{URL: cdn.URL + "/f?token=secret-q"}, 10); !errors.Is(err, chanbridge.ErrTooLarge) {
		t.Fatalf("Fetch of a stream over the cap: %v", err)
	} else {
		clean(t, err, "secret-q")
	}
	if _, ct, err := p.Fetch(context.Background(), creds, channel.Attachment{URL: cdn.URL, ContentType: "application/pdf"}, 100); err != nil || ct != "application/pdf" {
		t.Fatalf("type from the attachment: %q %v", ct, err)
	}
	if _, ct, err := p.Fetch(context.Background(), creds, channel.Attachment{URL: cdn.URL}, 100); err != nil || ct != "application/pdf" {
		t.Fatalf("sniffed type: %q %v", ct, err)
	}
}

func TestParts(t *testing.T) {
	p := &viber.Provider{}
	words := strings.Repeat("word ", 3000) // 15000 runes
	for _, tc := range []struct {
		name string
		text string
		n    int
	}{
		{"empty", "", 0},
		{"short", "hello", 1},
		{"at the limit", strings.Repeat("ж", 7000), 1},
		{"one over", strings.Repeat("ж", 7001), 2},
		{"emoji", strings.Repeat("😀", 14001), 5}, // two UTF-16 units each: channel.SplitText counts units, never fewer than runes
		{"words", words, 3},
	} {
		parts := p.Parts(tc.text)
		if len(parts) != tc.n || strings.Join(parts, "") != tc.text {
			t.Errorf("%s: %d parts, want %d, joined equal to the text", tc.name, len(parts), tc.n)
		}
		for i, part := range parts {
			if n := utf8.RuneCountInString(part); n == 0 || n > viber.TextLimit || !utf8.ValidString(part) {
				t.Errorf("%s: part %d of %d runes", tc.name, i, n)
			}
		}
	}
	if parts := p.Parts(words); !strings.HasSuffix(parts[0], " ") || utf8.RuneCountInString(parts[0]) != 7000 {
		t.Errorf("words are cut after a space: %q...", parts[0][len(parts[0])-10:])
	}
	if parts := p.Parts(strings.Repeat("ж", 7001)); utf8.RuneCountInString(parts[0]) != 7000 || parts[1] != "ж" {
		t.Errorf("cut at 7000 runes: %d + %q", utf8.RuneCountInString(parts[0]), parts[1])
	}
}

func TestProviderBasics(t *testing.T) {
	p := &viber.Provider{}
	if p.Inbound().Channel() != "viber" || p.VerifySecret(creds) != authToken || p.VerifySecret(chanbridge.Credentials{}) != "" {
		t.Errorf("Inbound %q, VerifySecret %q", p.Inbound().Channel(), p.VerifySecret(creds))
	}
	if l := p.Limit(); l.Scope != channel.ScopeAccount || l.PerSecond != 100 || l.Burst < 1 {
		t.Errorf("Limit %+v", l)
	}
	// A secret VerifySecret picks verifies the fake's signed callbacks end to end.
	body := viberfake.Event("delivered", "U1", viberfake.FirstMessageToken)
	evs, err := channel.Receive(p.Inbound(), signed(t, body, authToken), p.VerifySecret(creds))
	if err != nil || len(evs) != 1 || evs[0].Status.ProviderID != "5491540939539838373" {
		t.Fatalf("Receive: %+v, %v", evs, err)
	}
	if _, err := channel.Receive(p.Inbound(), signed(t, body, authToken), p.VerifySecret(chanbridge.Credentials{})); !errors.Is(err, channel.ErrUnverified) {
		t.Fatalf("Receive with no token: %v", err)
	}
	if !errors.Is(viber.ErrInvalid, chanbridge.ErrRefused) {
		t.Error("ErrInvalid does not wrap ErrRefused")
	}
}
