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
	"github.com/livesupportbot/backend/shared/wechat"
	"github.com/livesupportbot/backend/shared/xdm"
)

// Each channel's post verifies and parses as that channel's webhook with the
// secret given (WeChat's in safe mode, signed in the query), and carries the
// text.
func TestPostsVerifiedMessages(t *testing.T) {
	const secret, aesKey = "the-secret-0123456789", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	for _, c := range []struct {
		ch   string
		in   channel.Inbound
		args []string
	}{
		{"line", line.Inbound{}, []string{"-account", "Ubot"}},
		{"viber", viber.Inbound{}, nil},
		{"x", xdm.Inbound{}, []string{"-account", "1500"}},
		{"wechat", wechat.Inbound{Token: secret, AESKey: aesKey, AppID: "wxlocal0000000001"}, []string{"-account", "wxlocal0000000001", "-aeskey", aesKey}},
	} {
		var got []channel.Event
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			h, q := map[string]string{}, map[string]string{}
			for k := range r.Header {
				h[strings.ToLower(k)] = r.Header.Get(k)
			}
			for k := range r.URL.Query() {
				q[k] = r.URL.Query().Get(k)
			}
			evs, err := channel.Receive(c.in, channel.Request{Method: r.Method, Headers: h, Query: q, Body: body}, secret)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			got = evs
			w.Write([]byte("ok"))
		}))
		var out bytes.Buffer
		args := append([]string{"-channel", c.ch, "-url", srv.URL, "-secret", secret, "-text", "hi there"}, c.args...)
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if !strings.HasPrefix(out.String(), "200") || len(got) != 1 || got[0].Text != "hi there" || got[0].Kind != channel.KindMessage {
			t.Errorf("%s: %s, events %+v", c.ch, out.String(), got)
		}
	}
	if err := run(context.Background(), []string{"-channel", "telegram", "-url", "http://x", "-secret", "s"}, io.Discard, io.Discard); err == nil {
		t.Error("telegram was accepted")
	}
}
