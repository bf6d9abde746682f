package xdm_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/xdm"
)

const consumerSecret = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw2Zq1Xqr"

var at = time.UnixMilli(1700000000000).UTC()

func signed(t testing.TB, body []byte, secret string) channel.Request {
	return channel.Request{Method: "POST", Body: body,
		Headers: map[string]string{"content-type": "application/json", xdm.SignatureHeader: xfake.Sign(body, secret)}}
}

func TestVerify(t *testing.T) {
	body := xfake.DM("3805104374", "1234858592", "3001969357", "Ana", "hello", at)
	// HMAC-SHA256 of the body, computed here, not by the code under test.
	mac := hmac.New(sha256.New, []byte(consumerSecret))
	mac.Write(body)
	good := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if xfake.Sign(body, consumerSecret) != good {
		t.Fatalf("xfake.Sign = %s, want %s", xfake.Sign(body, consumerSecret), good)
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    []byte
		secret  string
		reason  string // in the error; "" for success
	}{
		{"good", map[string]string{"x-twitter-webhooks-signature": good}, body, consumerSecret, ""},
		{"header as X spells it", map[string]string{"X-Twitter-Webhooks-Signature": good}, body, consumerSecret, ""},
		{"wrong secret", map[string]string{"x-twitter-webhooks-signature": xfake.Sign(body, "other")}, body, consumerSecret, "does not match"},
		{"tampered body", map[string]string{"x-twitter-webhooks-signature": good}, []byte(strings.Replace(string(body), "hello", "hellO", 1)), consumerSecret, "does not match"},
		{"missing header", map[string]string{}, body, consumerSecret, "no x-twitter-webhooks-signature"},
		{"no sha256= prefix", map[string]string{"x-twitter-webhooks-signature": strings.TrimPrefix(good, "sha256=")}, body, consumerSecret, "not sha256="},
		{"hex, not Base64", map[string]string{"x-twitter-webhooks-signature": "sha256=" + hex.EncodeToString(mac.Sum(nil))}, body, consumerSecret, "not a base64"},
		{"empty secret verifies nothing", map[string]string{"x-twitter-webhooks-signature": xfake.Sign(body, "")}, body, "", "no x consumer secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := xdm.Inbound{}.Verify(channel.Request{Method: "POST", Headers: tc.headers, Body: tc.body}, tc.secret)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), consumerSecret) || strings.Contains(err.Error(), good[7:]) {
				t.Fatalf("error %q names the secret or the signature", err)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	p := &xdm.Provider{}
	creds := chanbridge.Credentials{ConsumerKey: "ck", ConsumerSecret: consumerSecret}
	const token = "cRcToKeN-9d9b2bf6-1c6a-4cbb-8e3b-6f3e0b0a1b2c"
	rep, err := p.Handshake(channel.Request{Method: "GET", Query: map[string]string{"crc_token": token, "nonce": "n1"}}, creds)
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	mac := hmac.New(sha256.New, []byte(consumerSecret))
	mac.Write([]byte(token))
	want := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	var ans map[string]string
	if err := json.Unmarshal([]byte(rep.Body), &ans); err != nil || len(ans) != 1 || ans["response_token"] != want {
		t.Fatalf("answer %q (%v), want {\"response_token\":%q}", rep.Body, err, want)
	}
	if rep.Status != 200 || rep.ContentType != "application/json" {
		t.Errorf("answer %d %q", rep.Status, rep.ContentType)
	}
	if xfake.CRC(token, consumerSecret) != want || xdm.CRCResponse(token, consumerSecret) != want {
		t.Errorf("xfake.CRC or xdm.CRCResponse differ from %s", want)
	}
	for _, tc := range []struct {
		name   string
		query  map[string]string
		creds  chanbridge.Credentials
		reason string
	}{
		{"no crc_token", map[string]string{"nonce": "n1"}, creds, "no crc_token"},
		{"empty crc_token", map[string]string{"crc_token": ""}, creds, "no crc_token"},
		{"crc_token over 1024 bytes", map[string]string{"crc_token": strings.Repeat("a", 1025)}, creds, "over 1024"},
		{"no consumer secret", map[string]string{"crc_token": token}, chanbridge.Credentials{ConsumerKey: "ck"}, "no x consumer secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := p.Handshake(channel.Request{Method: "GET", Query: tc.query}, tc.creds)
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) || rep.Body != "" {
				t.Fatalf("Handshake: %+v, %v; want ErrUnverified naming %q", rep, err, tc.reason)
			}
		})
	}
}

func TestInboundContract(t *testing.T) {
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: xdm.Inbound{}, Secret: consumerSecret, Sign: signed,
		Message: func(id, text string) []byte {
			return xfake.DM("3805104374", id, "3001969357", "Ana", text, at)
		},
		Malformed: []byte(`{"for_user_id":"3805104374","direct_message_events":{"type":"message_create"}}`),
	})
	if (xdm.Inbound{}).Channel() != "x" {
		t.Errorf("Channel() = %q", xdm.Inbound{}.Channel())
	}
}
