package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/meta"
)

// recorder is a webhook that verifies and parses what it gets.
func recorder(t *testing.T, secret string, got *[]channel.Event) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := channel.Receive(meta.Inbound{}, channel.Request{Method: r.Method, Body: body,
			Headers: map[string]string{meta.SignatureHeader: r.Header.Get("X-Hub-Signature-256")}}, secret)
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		*got = append(*got, evs...)
		w.Write([]byte("EVENT_RECEIVED"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRun_PostsSignedSamples(t *testing.T) {
	var got []channel.Event
	srv := recorder(t, "s3cret", &got)
	env := map[string]string{"META_APP_SECRET": "s3cret"}
	for _, product := range []string{"messenger", "instagram", "whatsapp", "whatsapp"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-url", srv.URL, "-product", product, "-text", "hi " + product}, func(k string) string { return env[k] },
			nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "200 OK\nEVENT_RECEIVED") {
			t.Fatalf("%s: %v, printed %q", product, err, out.String())
		}
	}
	if len(got) != 4 || got[0].From.Account != "100000000000001" || got[1].From.Channel != "instagram" || got[2].From.Account != "100000000000003" ||
		got[2].Text != "hi whatsapp" || got[2].DedupeKey == got[3].DedupeKey {
		t.Fatalf("events %+v", got)
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", srv.URL, "-secret", "wrong"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil ||
		!strings.HasPrefix(out.String(), "401") {
		t.Errorf("wrong secret: %v %q", err, out.String())
	}
}

func TestRun_FileAndPrint(t *testing.T) {
	var got []channel.Event
	srv := recorder(t, LocalAppSecret, &got)
	body := `{"object":"page","entry":[{"id":"P","messaging":[{"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1,"message":{"mid":"m_file","text":"it's me"}}]}]}`
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", srv.URL, "-file", "-"}, func(string) string { return "" }, strings.NewReader(body), &out, io.Discard); err != nil ||
		len(got) != 1 || got[0].DedupeKey != "m_file" {
		t.Fatalf("stdin payload: %v %q %+v", err, out.String(), got)
	}
	out.Reset()
	if err := run(context.Background(), []string{"-print", "-file", "-", "-url", "http://h/webhooks/meta"}, func(string) string { return "" }, strings.NewReader(body), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasPrefix(s, "curl ") || !strings.Contains(s, `'\''s me`) || !strings.Contains(s, "X-Hub-Signature-256: sha256=") {
		t.Errorf("curl line %q", s)
	}
	if err := run(context.Background(), []string{"-product", "telegram"}, func(string) string { return "" }, nil, io.Discard, io.Discard); err == nil {
		t.Errorf("unknown product accepted")
	}
}
