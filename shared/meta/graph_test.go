package meta_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/meta"
)

const (
	pageToken = "EAAG-page-token-secret"
	igToken   = "EAAG-ig-token-secret"
	waToken   = "EAAG-wa-token-secret"
)

func fake(t *testing.T) (*metafake.Server, *meta.Graph) {
	f := metafake.New(t)
	f.AddAccount("PAGE1", pageToken)
	f.AddAccount("IG1", igToken)
	f.AddAccount("PHONE1", waToken)
	return f, &meta.Graph{BaseURL: f.URL()}
}

// safe fails if an error's text holds a token, the message's text or a URL.
func safe(t *testing.T, err error, secrets ...string) {
	t.Helper()
	s := err.Error()
	for _, x := range append(secrets, pageToken, igToken, waToken, "http://", "https://", "Injected failure", "Invalid OAuth") {
		if strings.Contains(s, x) {
			t.Errorf("error %q contains %q", s, x)
		}
	}
}

func TestSend(t *testing.T) {
	f, g := fake(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		token string
		out   meta.Outbound
		id    string
		body  string // the JSON body the fake got, as Go prints the map
	}{
		{"messenger response", pageToken, meta.Outbound{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "PSID1", Text: "Hi there"}, "m_1",
			`map[message:map[text:Hi there] messaging_type:RESPONSE recipient:map[id:PSID1]]`},
		{"messenger human agent tag", pageToken, meta.Outbound{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "PSID1", Text: "Late answer", Tag: meta.TagHumanAgent}, "m_2",
			`map[message:map[text:Late answer] messaging_type:MESSAGE_TAG recipient:map[id:PSID1] tag:HUMAN_AGENT]`},
		{"instagram", igToken, meta.Outbound{Channel: meta.ChannelInstagram, Account: "IG1", To: "IGSID1", Text: "Hi on IG"}, "m_3",
			`map[message:map[text:Hi on IG] messaging_type:RESPONSE recipient:map[id:IGSID1]]`},
		{"whatsapp text", waToken, meta.Outbound{Channel: meta.ChannelWhatsApp, Account: "PHONE1", To: "4911", Text: "Hallo"}, "wamid.4",
			`map[messaging_product:whatsapp recipient_type:individual text:map[body:Hallo] to:4911 type:text]`},
		{"whatsapp template", waToken, meta.Outbound{Channel: meta.ChannelWhatsApp, Account: "PHONE1", To: "4911",
			Template: &meta.Template{Name: "follow_up", Language: "de", Params: []string{"Ana", "#42"}}}, "wamid.5",
			`map[messaging_product:whatsapp recipient_type:individual template:map[components:[map[parameters:[map[text:Ana type:text] map[text:#42 type:text]] type:body]] language:map[code:de] name:follow_up] to:4911 type:template]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(f.Sends())
			id, err := g.Send(ctx, tc.token, tc.out)
			if err != nil || id != tc.id {
				t.Fatalf("Send = %q, %v; want %q", id, err, tc.id)
			}
			sends := f.Sends()
			if len(sends) != n+1 {
				t.Fatalf("%d sends", len(sends)-n)
			}
			s := sends[n]
			if s.Account != tc.out.Account || s.Token != tc.token || s.ID != id {
				t.Errorf("send %+v", s)
			}
			if got := fmt.Sprint(s.Body); got != tc.body {
				t.Errorf("body\n got %s\nwant %s", got, tc.body)
			}
		})
	}
}

func TestSend_Invalid(t *testing.T) {
	f, g := fake(t)
	long := strings.Repeat("é", 2001)
	for _, out := range []meta.Outbound{
		{Channel: "telegram", Account: "PAGE1", To: "P", Text: "x"},
		{Channel: meta.ChannelMessenger, To: "P", Text: "x"},
		{Channel: meta.ChannelMessenger, Account: "PAGE1", Text: "x"},
		{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "P"},
		{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "P", Text: long},
		{Channel: meta.ChannelInstagram, Account: "IG1", To: "P", Text: strings.Repeat("a", 1001)},
		{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "P", Template: &meta.Template{Name: "t", Language: "en"}},
		{Channel: meta.ChannelWhatsApp, Account: "PHONE1", To: "1", Text: "x", Tag: meta.TagHumanAgent},
		{Channel: meta.ChannelWhatsApp, Account: "PHONE1", To: "1", Template: &meta.Template{Name: "t"}},
	} {
		_, err := g.Send(context.Background(), pageToken, out)
		if !errors.Is(err, meta.ErrInvalid) || !meta.Permanent(err) || meta.ErrorCode(err) != "invalid" {
			t.Errorf("%+v: %v", out, err)
			continue
		}
		safe(t, err, long)
	}
	if n := len(f.Sends()); n != 0 {
		t.Errorf("%d invalid sends reached the API", n)
	}
}

func TestSend_Errors(t *testing.T) {
	f, g := fake(t)
	ctx := context.Background()
	text := "a private question about my order"
	wa := meta.Outbound{Channel: meta.ChannelWhatsApp, Account: "PHONE1", To: "4911", Text: text}
	ms := meta.Outbound{Channel: meta.ChannelMessenger, Account: "PAGE1", To: "PSID1", Text: text}

	t.Run("429 is a RateLimitedError with the Retry-After", func(t *testing.T) {
		f.FailNext(1, 429, 4, 0)
		_, err := g.Send(ctx, waToken, wa)
		d, ok := channel.RetryAfter(err)
		var ge *meta.GraphError
		if !ok || d != time.Second || !errors.As(err, &ge) || ge.Code != 4 || meta.Permanent(err) || meta.ErrorCode(err) != "4" {
			t.Fatalf("%v (%v %v)", err, d, ok)
		}
		safe(t, err, text)
	})
	t.Run("rate codes without 429", func(t *testing.T) {
		for _, code := range []int{4, 17, 32, 613, 130429} {
			f.FailNext(1, 400, code, 0)
			_, err := g.Send(ctx, pageToken, ms)
			if d, ok := channel.RetryAfter(err); !ok || d != meta.RetryAfterDefault || meta.Permanent(err) {
				t.Errorf("code %d: %v", code, err)
			}
		}
	})
	t.Run("131047 is outside the window, permanent", func(t *testing.T) {
		f.FailNext(1, 400, 131047, 0)
		_, err := g.Send(ctx, waToken, wa)
		var ge *meta.GraphError
		if !errors.Is(err, channel.ErrOutsideWindow) || !errors.As(err, &ge) || !meta.Permanent(err) || meta.ErrorCode(err) != "131047" {
			t.Fatalf("%v", err)
		}
		if _, ok := channel.RetryAfter(err); ok {
			t.Errorf("a closed window is not a rate refusal")
		}
		safe(t, err, text)
	})
	t.Run("messenger 10/2018278 is outside the window", func(t *testing.T) {
		f.FailNext(1, 400, 10, 2018278)
		_, err := g.Send(ctx, pageToken, ms)
		if !errors.Is(err, channel.ErrOutsideWindow) || !meta.Permanent(err) || meta.ErrorCode(err) != "10/2018278" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("551 user unavailable is permanent, not the window", func(t *testing.T) {
		f.FailNext(1, 400, 551, 1545041)
		_, err := g.Send(ctx, pageToken, ms)
		if errors.Is(err, channel.ErrOutsideWindow) || !meta.Permanent(err) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("500 is transient", func(t *testing.T) {
		f.FailNext(1, 500, 2, 0)
		_, err := g.Send(ctx, waToken, wa)
		var ge *meta.GraphError
		if !errors.As(err, &ge) || ge.Status != 500 || meta.Permanent(err) || meta.ErrorCode(err) != "2" {
			t.Fatalf("%v", err)
		}
		safe(t, err, text)
	})
	t.Run("a lost answer is transient and the send happened", func(t *testing.T) {
		n := len(f.Sends())
		f.LoseNext(1)
		_, err := g.Send(ctx, waToken, wa)
		if err == nil || meta.Permanent(err) || len(f.Sends()) != n+1 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("190 invalid token is permanent", func(t *testing.T) {
		_, err := g.Send(ctx, "EAAG-wrong-token-secret", ms)
		var ge *meta.GraphError
		if !errors.As(err, &ge) || ge.Code != 190 || !meta.Permanent(err) || meta.ErrorCode(err) != "190" {
			t.Fatalf("%v", err)
		}
		safe(t, err, text, "EAAG-wrong-token-secret")
	})
	t.Run("network error is transient and names no URL or token", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		_, err := (&meta.Graph{BaseURL: down.URL + "/v21.0"}).Send(ctx, pageToken, ms)
		if err == nil || meta.Permanent(err) || meta.ErrorCode(err) != "" {
			t.Fatalf("%v", err)
		}
		safe(t, err, text, "/v21.0", "PSID1/messages")
	})
	t.Run("a 502 without JSON is transient", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}))
		defer bad.Close()
		_, err := (&meta.Graph{BaseURL: bad.URL}).Send(ctx, pageToken, ms)
		if err == nil || meta.Permanent(err) || meta.ErrorCode(err) != "http_502" {
			t.Fatalf("%v", err)
		}
	})
}

func TestParts(t *testing.T) {
	for _, tc := range []struct {
		channel string
		text    string
		limit   int
		n       int
	}{
		{meta.ChannelMessenger, "short", 2000, 1},
		{meta.ChannelMessenger, strings.Repeat("word ", 1000), 2000, 3},
		{meta.ChannelInstagram, strings.Repeat("x", 2500), 1000, 3},
		{meta.ChannelWhatsApp, strings.Repeat("ünïcödé ", 1100), 4096, 3},
		{meta.ChannelInstagram, strings.Repeat("😀", 600), 1000, 2}, // two UTF-16 units each
		{meta.ChannelMessenger, "", 2000, 0},
	} {
		parts := meta.Parts(tc.channel, tc.text)
		if len(parts) != tc.n || strings.Join(parts, "") != tc.text {
			t.Errorf("%s %d runes: %d parts, want %d, rejoined equal %v", tc.channel, utf8.RuneCountInString(tc.text), len(parts), tc.n, strings.Join(parts, "") == tc.text)
		}
		for i, p := range parts {
			if p == "" || !utf8.ValidString(p) || len([]rune(p)) > tc.limit {
				t.Errorf("%s part %d: %d runes, valid %v", tc.channel, i, len([]rune(p)), utf8.ValidString(p))
			}
			if i < len(parts)-1 && strings.Contains(tc.text, " ") && !strings.HasSuffix(p, " ") {
				t.Errorf("%s part %d is not cut after a space: ...%q", tc.channel, i, p[len(p)-10:])
			}
		}
	}
	// Every part of a long text sends.
	f, g := fake(t)
	for _, p := range g.Parts(meta.ChannelInstagram, strings.Repeat("Long answer. ", 200)) {
		if _, err := g.Send(context.Background(), igToken, meta.Outbound{Channel: meta.ChannelInstagram, Account: "IG1", To: "U", Text: p}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.Sends()); n != 3 {
		t.Errorf("%d sends", n)
	}
}

func TestMediaAndDownload(t *testing.T) {
	f, g := fake(t)
	ctx := context.Background()
	jpeg := []byte("\xff\xd8\xff\xe0 fake jpeg")
	f.AddMedia("MEDIA1", "image/jpeg", jpeg)
	info, err := g.Media(ctx, waToken, "MEDIA1")
	if err != nil || info.MimeType != "image/jpeg" || info.Size != int64(len(jpeg)) || info.URL == "" {
		t.Fatalf("Media = %+v, %v", info, err)
	}
	data, ct, err := g.Download(ctx, waToken, info.URL, 1<<20)
	if err != nil || ct != "image/jpeg" || !reflect.DeepEqual(data, jpeg) {
		t.Fatalf("Download = %q %q %v", data, ct, err)
	}
	_, _, err = g.Download(ctx, "", info.URL, 1<<20)
	if ge := new(meta.GraphError); !errors.As(err, &ge) || ge.Code != 190 || !meta.Permanent(err) {
		t.Errorf("download without the token: %v", err)
	}
	safe(t, err)
	_, _, err = g.Download(ctx, waToken, info.URL, 4)
	if !errors.Is(err, meta.ErrTooLarge) || !meta.Permanent(err) || meta.ErrorCode(err) != "too_large" {
		t.Errorf("over the limit: %v", err)
	}
	safe(t, err)
	if _, err := g.Media(ctx, waToken, "NOPE"); !meta.Permanent(err) || meta.ErrorCode(err) != "100/33" {
		t.Errorf("unknown media: %v", err)
	}
	if _, err := g.Media(ctx, "EAAG-wrong", "MEDIA1"); meta.ErrorCode(err) != "190" {
		t.Errorf("wrong token: %v", err)
	}

	cdn := f.CDN("a.png", "image/png", []byte("PNG DATA"))
	data, ct, err = g.Download(ctx, "", cdn, 100)
	if err != nil || ct != "image/png" || string(data) != "PNG DATA" {
		t.Fatalf("CDN download = %q %q %v", data, ct, err)
	}

	// A body with no Content-Length over the limit is cut and refused.
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for range 10 {
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()
	if _, _, err := g.Download(ctx, "", chunked.URL+"/v?sig=x", 50); !errors.Is(err, meta.ErrTooLarge) {
		t.Errorf("chunked over the limit: %v", err)
	} else {
		safe(t, err, "sig=x")
	}
	if data, _, err := g.Download(ctx, "", chunked.URL+"/v", 100); err != nil || len(data) != 100 {
		t.Errorf("chunked at the limit: %d %v", len(data), err)
	}
}
