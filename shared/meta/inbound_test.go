package meta_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/meta"
)

const secret = "test-app-secret"

func signed(t testing.TB, body []byte, secret string) channel.Request {
	return channel.Request{Method: "POST", Body: body,
		Headers: map[string]string{"content-type": "application/json", meta.SignatureHeader: metafake.Sign(body, secret)}}
}

func TestVerify(t *testing.T) {
	body := metafake.MessengerPayload("page1", "psid1", "m_1", "hello")
	good := metafake.Sign(body, secret)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    []byte
		secret  string
		reason  string // in the error; "" for success
	}{
		{"good", map[string]string{"x-hub-signature-256": good}, body, secret, ""},
		{"header in another case", map[string]string{"X-Hub-Signature-256": good}, body, secret, ""},
		{"wrong secret", map[string]string{"x-hub-signature-256": metafake.Sign(body, "other")}, body, secret, "does not match"},
		{"changed body", map[string]string{"x-hub-signature-256": good}, append([]byte(" "), body...), secret, "does not match"},
		{"missing header", map[string]string{}, body, secret, "no x-hub-signature-256"},
		{"sha1 prefix", map[string]string{"x-hub-signature-256": "sha1=" + strings.TrimPrefix(good, "sha256=")}, body, secret, "not sha256="},
		{"bad hex", map[string]string{"x-hub-signature-256": "sha256=zz" + good[9:]}, body, secret, "not a hex"},
		{"short digest", map[string]string{"x-hub-signature-256": good[:20]}, body, secret, "not a hex"},
		{"no secret configured", map[string]string{"x-hub-signature-256": metafake.Sign(body, "")}, body, "", "no app secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := meta.Inbound{}.Verify(channel.Request{Method: "POST", Headers: tc.headers, Body: tc.body}, tc.secret)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), good[7:]) {
				t.Fatalf("error %q names the secret or the signature", err)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	q := func(mode, token, challenge string) map[string]string {
		return map[string]string{"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
	}
	for _, tc := range []struct {
		name        string
		query       map[string]string
		verifyToken string
		ok          bool
	}{
		{"match", q("subscribe", "vt", "1158201444"), "vt", true},
		{"wrong token", q("subscribe", "vx", "1158201444"), "vt", false},
		{"wrong mode", q("unsubscribe", "vt", "1158201444"), "vt", false},
		{"no query", map[string]string{}, "vt", false},
		{"empty verify token never matches", q("subscribe", "", "1"), "", false},
	} {
		c, ok := meta.Handshake(tc.query, tc.verifyToken)
		if ok != tc.ok || (ok && c != tc.query["hub.challenge"]) || (!ok && c != "") {
			t.Errorf("%s: %q %v", tc.name, c, ok)
		}
	}
}

func TestInboundContract(t *testing.T) {
	malformed := []byte(`{"object":"user","entry":[{"id":"1","changes":[]}]}`)
	t.Run("messenger", func(t *testing.T) {
		channeltest.RunInbound(t, channeltest.Inbound{
			Adapter: meta.Inbound{}, Channel: meta.ChannelMessenger, Secret: secret, Sign: signed, Malformed: malformed,
			Message: func(id, text string) []byte { return metafake.MessengerPayload("page1", "psid1", "m_"+id, text) },
		})
	})
	t.Run("instagram", func(t *testing.T) {
		channeltest.RunInbound(t, channeltest.Inbound{
			Adapter: meta.Inbound{}, Channel: meta.ChannelInstagram, Secret: secret, Sign: signed, Malformed: malformed,
			Message: func(id, text string) []byte { return metafake.InstagramPayload("ig1", "igsid1", "m_"+id, text) },
		})
	})
	t.Run("whatsapp", func(t *testing.T) {
		channeltest.RunInbound(t, channeltest.Inbound{
			Adapter: meta.Inbound{}, Channel: meta.ChannelWhatsApp, Secret: secret, Sign: signed, Malformed: malformed,
			Message: func(id, text string) []byte {
				return metafake.WhatsAppPayload("phone1", "4915112345", "Ana", "wamid."+id, text)
			},
		})
	})
	if (meta.Inbound{}).Channel() != "meta" {
		t.Errorf("Channel() = %q", meta.Inbound{}.Channel())
	}
}
