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
	"github.com/livesupportbot/backend/shared/line"
	"github.com/livesupportbot/backend/shared/viber"
)

// Each channel's post verifies and parses as that channel's webhook with the
// secret given, and carries the text.
func TestPostsVerifiedMessages(t *testing.T) {
	for ch, in := range map[string]channel.Inbound{"line": line.Inbound{}, "viber": viber.Inbound{}} {
		var got []channel.Event
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			h := map[string]string{}
			for k := range r.Header {
				h[strings.ToLower(k)] = r.Header.Get(k)
			}
			evs, err := channel.Receive(in, channel.Request{Method: r.Method, Headers: h, Body: body}, "the-secret-0123456789")
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			got = evs
			w.Write([]byte("ok"))
		}))
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-channel", ch, "-url", srv.URL, "-secret", "the-secret-0123456789", "-account", "Ubot", "-text", "hi there"}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if !strings.HasPrefix(out.String(), "200") || len(got) != 1 || got[0].Text != "hi there" || got[0].Kind != channel.KindMessage {
			t.Errorf("%s: %s, events %+v", ch, out.String(), got)
		}
	}
	if err := run(context.Background(), []string{"-channel", "telegram", "-url", "http://x", "-secret", "s"}, io.Discard, io.Discard); err == nil {
		t.Error("telegram was accepted")
	}
}
