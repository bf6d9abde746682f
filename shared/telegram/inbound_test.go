package telegram_test

import (
	"errors"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/telegram"
)

const secret = "whs_Test-Secret-0123456789"

// signed is the request Telegram sends: the secret token in its header.
func signed(_ testing.TB, body []byte, secret string) channel.Request {
	return channel.Request{Method: "POST", Body: body,
		Headers: map[string]string{"content-type": "application/json", telegram.SecretHeader: secret}}
}

func TestVerify(t *testing.T) {
	body := telegramfake.TextUpdate(1, 42, "Ana", "hello")
	for _, tc := range []struct {
		name    string
		headers map[string]string
		secret  string
		reason  string // in the error; "" for success
	}{
		{"right", map[string]string{telegram.SecretHeader: secret}, secret, ""},
		{"header as Telegram spells it", map[string]string{"X-Telegram-Bot-Api-Secret-Token": secret}, secret, ""},
		{"wrong", map[string]string{telegram.SecretHeader: secret + "x"}, secret, "does not match"},
		{"prefix of the secret", map[string]string{telegram.SecretHeader: secret[:10]}, secret, "does not match"},
		{"missing", map[string]string{}, secret, "no " + telegram.SecretHeader},
		{"empty header", map[string]string{telegram.SecretHeader: ""}, secret, "no " + telegram.SecretHeader},
		{"empty expected secret never verifies", map[string]string{telegram.SecretHeader: ""}, "", "no webhook secret"},
		{"empty expected secret, any header", map[string]string{telegram.SecretHeader: "x"}, "", "no webhook secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := telegram.Inbound{}.Verify(channel.Request{Method: "POST", Headers: tc.headers, Body: body}, tc.secret)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), secret[:10]) {
				t.Fatalf("error %q names the secret", err)
			}
		})
	}
}

func TestValidSecret(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, secret: true, strings.Repeat("Z", 256): true,
		"": false, strings.Repeat("Z", 257): false, "with space": false, "dot.": false, "ünï": false, "a/b": false,
	} {
		if telegram.ValidSecret(s) != want {
			t.Errorf("ValidSecret(%.20q) = %v", s, !want)
		}
	}
}

// updateID is the update id of a contract event id.
func updateID(id string) int64 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int64(h.Sum32()) + 1
}

func TestInboundContract(t *testing.T) {
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: telegram.Inbound{}, Channel: telegram.Channel, Secret: secret, SenderOnly: true,
		Sign: signed,
		Message: func(id, text string) []byte {
			return telegramfake.TextUpdate(updateID(id), -1001234567890, "Ana", text)
		},
		Malformed: []byte(`{"ok":true,"result":[]}`),
	})
	if (telegram.Inbound{}).Channel() != "telegram" || (&telegram.Provider{}).Inbound().Channel() != "telegram" {
		t.Errorf("Channel() = %q", telegram.Inbound{}.Channel())
	}
}

// TestChangedBodyVerifies pins what the secret token proves: the sender, not
// the body. A body changed in transit would need TLS broken.
func TestChangedBodyVerifies(t *testing.T) {
	req := signed(t, telegramfake.TextUpdate(1, 42, "Ana", "original"), secret)
	req.Body = telegramfake.TextUpdate(2, 42, "Ana", "changed")
	evs, err := channel.Receive(telegram.Inbound{}, req, secret)
	if err != nil || len(evs) != 1 || evs[0].Text != "changed" {
		t.Fatalf("Receive = %d events, %v", len(evs), err)
	}
}
