package wechat_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/wechat"
)

// FuzzParse feeds Parse arbitrary bodies, with the plain adapter and the
// safe-mode one (seeds in testdata/fuzz/FuzzParse: every message type, the
// events, envelopes, malformed bodies). Parse never panics, fails only with
// ErrMalformed and then returns no events, returns the same events for the
// same body, and gives at most one event; a message has a MsgId key, an
// openid, something to show and attachments by media id only; a
// (un)subscription a key of its event and openid.
func FuzzParse(f *testing.F) {
	f.Add([]byte(wire("text", `<Content><![CDATA[你好]]></Content>`)))
	f.Add([]byte(event("subscribe")))
	enc, err := wechat.Encrypt(aesKey, appID, []byte(wire("image", `<MediaId>m</MediaId>`)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wechatfake.Envelope(account, enc))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, in := range []wechat.Inbound{plainIn, safeIn} {
			evs, err := in.Parse(body)
			if err != nil {
				if !errors.Is(err, channel.ErrMalformed) || evs != nil {
					t.Fatalf("error %v with %d events", err, len(evs))
				}
				continue
			}
			again, err := in.Parse(body)
			if err != nil || !reflect.DeepEqual(evs, again) {
				t.Fatalf("the same body parsed differently: %v", err)
			}
			if len(evs) > 1 {
				t.Fatalf("%d events of one message", len(evs))
			}
			for _, ev := range evs {
				m, ok := ev.Native.(*wechat.Message)
				if !ok || ev.From.Channel != wechat.ChannelName || ev.From.Account != "" || ev.From.UserID == "" || ev.From.UserID != m.OpenID {
					t.Fatalf("event without its message or identity: %+v", ev)
				}
				if m.Encrypted != (in.AESKey != "") {
					t.Fatalf("encrypted %v with key %q", m.Encrypted, in.AESKey)
				}
				if !utf8.ValidString(ev.DedupeKey) || !utf8.ValidString(ev.Text) {
					t.Fatalf("event of invalid UTF-8: %+v", ev)
				}
				switch ev.Kind {
				case channel.KindMessage:
					if ev.DedupeKey == "" || ev.DedupeKey != m.MsgID || strings.TrimLeft(ev.DedupeKey, "0123456789") != "" {
						t.Fatalf("message without a MsgId key: %+v", ev)
					}
					if ev.Text == "" && len(ev.Attachments) == 0 {
						t.Fatalf("message with nothing to show: %+v", ev)
					}
					for _, a := range ev.Attachments {
						if a.MediaID == "" || a.URL != "" {
							t.Fatalf("attachment not by media id: %+v", ev)
						}
					}
				case channel.KindSubscribed, channel.KindUnsubscribed:
					if !strings.HasPrefix(ev.DedupeKey, strings.ToLower(m.Event)+":"+m.OpenID+":") || m.MsgType != wechat.TypeEvent {
						t.Fatalf("event without a key of its event: %+v", ev)
					}
				default:
					t.Fatalf("event of kind %q", ev.Kind)
				}
			}
		}
	})
}

// FuzzDecrypt feeds Decrypt arbitrary messages (seeds in
// testdata/fuzz/FuzzDecrypt): raw is either taken as the ciphertext (when
// not whole AES blocks) or encrypted, as is, with the account's key, so that
// the fuzzer reaches the padding, length and app id checks behind the
// cipher. Decrypt never panics, fails only with ErrUnverified and no
// message, and a message it returns is framed as WeChat frames one: it is
// the bytes after the random prefix and length, followed by the app id and
// a padding. A safe-mode request of it, signed, verifies exactly when it
// decrypts.
func FuzzDecrypt(f *testing.F) {
	pad := 32 - len(frame("<xml/>", appID, 0, 0))%32
	f.Add(frame("<xml/>", appID, pad, byte(pad)))
	f.Add(frame("<xml/>", appID, 4, 0))
	f.Add([]byte("not whole blocks"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		enc := base64.StdEncoding.EncodeToString(raw)
		framed := len(raw) > 0 && len(raw)%16 == 0
		if framed {
			enc = rawEncrypt(t, raw)
		}
		msg, err := wechat.Decrypt(aesKey, appID, enc)
		verr := safeIn.Verify(safeReq(enc), urlToken)
		if err != nil {
			if !errors.Is(err, channel.ErrUnverified) || msg != nil {
				t.Fatalf("error %v with a message of %d bytes", err, len(msg))
			}
			if !errors.Is(verr, channel.ErrUnverified) {
				t.Fatalf("Verify of an envelope that does not decrypt: %v", verr)
			}
			return
		}
		if verr != nil {
			t.Fatalf("Verify of an envelope that decrypts: %v", verr)
		}
		if !framed {
			t.Fatalf("%d random bytes decrypted", len(raw))
		}
		p := int(raw[len(raw)-1])
		body := raw[20 : len(raw)-p]
		if !bytes.HasPrefix(body, msg) || string(body[len(msg):]) != appID {
			t.Fatalf("message of %d bytes is not the frame's", len(msg))
		}
		safeIn.Parse(wechatfake.Envelope(account, enc)) // must not panic
		again, err := wechat.Encrypt(aesKey, appID, msg)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := wechat.Decrypt(aesKey, appID, again); err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("a message does not survive Encrypt and Decrypt: %v", err)
		}
	})
}
