package line_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/line"
)

const (
	secret = "test-channel-secret"
	bot    = "Ubot00000000000000000000000000001"
)

func signed(t testing.TB, body []byte, secret string) channel.Request {
	return channel.Request{Method: "POST", Body: body,
		Headers: map[string]string{"content-type": "application/json", linefake.SignatureHeader: linefake.Sign(body, secret)}}
}

func TestVerify(t *testing.T) {
	body := linefake.TextEvent(bot, "Uuser1", "01HEV1", "rt1", "hello")
	good := linefake.Sign(body, secret)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    []byte
		secret  string
		reason  string // in the error; "" for success
	}{
		{"good", map[string]string{"x-line-signature": good}, body, secret, ""},
		{"header in another case", map[string]string{"X-Line-Signature": good}, body, secret, ""},
		{"wrong secret", map[string]string{"x-line-signature": linefake.Sign(body, "other")}, body, secret, "does not match"},
		{"changed body", map[string]string{"x-line-signature": good}, append([]byte(" "), body...), secret, "does not match"},
		{"missing header", map[string]string{}, body, secret, "no x-line-signature"},
		{"bad base64", map[string]string{"x-line-signature": "!!" + good[2:]}, body, secret, "not a base64"},
		{"short digest", map[string]string{"x-line-signature": good[:20]}, body, secret, "not a base64"},
		{"hex instead of base64", map[string]string{"x-line-signature": strings.Repeat("ab", 32)}, body, secret, "not a base64"},
		{"empty secret never verifies", map[string]string{"x-line-signature": linefake.Sign(body, "")}, body, "", "no channel secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := line.Inbound{}.Verify(channel.Request{Method: "POST", Headers: tc.headers, Body: tc.body}, tc.secret)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), good) {
				t.Fatalf("error %q names the secret or the signature", err)
			}
		})
	}
}

func TestInboundContract(t *testing.T) {
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: line.Inbound{}, Secret: secret, Sign: signed,
		Message:   func(id, text string) []byte { return linefake.TextEvent(bot, "Uuser1", id, "rt-"+id, text) },
		Malformed: []byte(`{"events":[{"type":"message"}]}`),
	})
	if (line.Inbound{}).Channel() != "line" {
		t.Errorf("Channel() = %q", line.Inbound{}.Channel())
	}
}
