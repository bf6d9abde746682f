package wechat_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/wechat"
)

const (
	urlToken = "Tk7hWq2pLmZx"
	aesKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	appID    = "wx2c2769f8efd9abc2"
	openID   = "oia2TjjewbmiOUlr6X-1crbLOvLw"
	account  = "gh_7f083739789a"
)

var now = time.Unix(1_767_225_600, 0) // 2026-01-01T00:00:00Z

func clock() time.Time { return now }

var (
	plainIn = wechat.Inbound{Token: urlToken, AppID: appID, Now: clock}
	safeIn  = wechat.Inbound{Token: urlToken, AESKey: aesKey, AppID: appID, Now: clock}
)

// signed is the request WeChat posts for body at now: plain, or in safe mode
// when aesKey is set.
func signed(t testing.TB, body []byte, token, key string) channel.Request {
	t.Helper()
	q, post, err := wechatfake.Signed(token, key, appID, body, now)
	if err != nil {
		t.Fatal(err)
	}
	return channel.Request{Method: "POST", Query: q, Body: post, Headers: map[string]string{"content-type": "text/xml"}}
}

func textBody(msgID int64, text string) []byte {
	return wechatfake.TextMessage(account, openID, msgID, text, now)
}

// rawEncrypt encrypts framed (random, length, message, app id and padding:
// any whole AES blocks) with the key, as WeChat's cipher would.
func rawEncrypt(t testing.TB, framed []byte) string {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(aesKey + "=")
	block, _ := aes.NewCipher(key)
	if len(framed)%aes.BlockSize != 0 {
		t.Fatalf("framed of %d bytes", len(framed))
	}
	out := make([]byte, len(framed))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, framed)
	return base64.StdEncoding.EncodeToString(out)
}

// frame is WeChat's plaintext of msg for app, with a PKCS#7 padding of pad
// bytes of value val.
func frame(msg, app string, pad int, val byte) []byte {
	b := make([]byte, 20, 64)
	copy(b, "0123456789abcdef")
	binary.BigEndian.PutUint32(b[16:], uint32(len(msg)))
	b = append(append(b, msg...), app...)
	for range pad {
		b = append(b, val)
	}
	return b
}

// safeReq is a safe-mode request of an Encrypt value, signed with the token.
func safeReq(enc string) channel.Request {
	ts, nonce := strconv.FormatInt(now.Unix(), 10), "1320562132"
	return channel.Request{Method: "POST", Body: wechatfake.Envelope(account, enc), Query: map[string]string{
		"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": wechatfake.Sign(urlToken, ts, nonce, enc),
		"signature": wechatfake.Sign(urlToken, ts, nonce)}}
}

func TestVerifyPlain(t *testing.T) {
	body := textBody(1, "hello")
	good := signed(t, body, urlToken, "")
	with := func(k, v string) channel.Request {
		q := map[string]string{}
		for kk, vv := range good.Query {
			q[kk] = vv
		}
		if v == "" {
			delete(q, k)
		} else {
			q[k] = v
		}
		return channel.Request{Method: "POST", Query: q, Body: body}
	}
	stale := func(d time.Duration) channel.Request {
		ts := strconv.FormatInt(now.Add(d).Unix(), 10)
		return channel.Request{Method: "POST", Body: body, Query: map[string]string{"timestamp": ts, "nonce": "7",
			"signature": wechatfake.Sign(urlToken, ts, "7")}}
	}
	for _, tc := range []struct {
		name   string
		in     wechat.Inbound
		req    channel.Request
		secret string
		reason string // in the error; "" for success
	}{
		{"good", plainIn, good, urlToken, ""},
		{"no secret given: the adapter's token", plainIn, good, "", ""},
		{"upper-case hex is the same digest", plainIn, with("signature", strings.ToUpper(good.Query["signature"])), urlToken, ""},
		{"4 minutes old", plainIn, stale(-4 * time.Minute), urlToken, ""},
		{"4 minutes ahead", plainIn, stale(4 * time.Minute), urlToken, ""},
		{"wrong token", plainIn, signed(t, body, "other", ""), urlToken, "signature does not match"},
		{"secret not the adapter's", plainIn, good, "other", "not the adapter's URL token"},
		{"no signature", plainIn, with("signature", ""), urlToken, "no signature"},
		{"short signature", plainIn, with("signature", "abc"), urlToken, "not a hex SHA-1"},
		{"other nonce", plainIn, with("nonce", "999"), urlToken, "does not match"},
		{"no nonce", plainIn, with("nonce", ""), urlToken, "no timestamp or nonce"},
		{"timestamp not a number", plainIn, with("timestamp", "1e9"), urlToken, "not an integer"},
		{"stale timestamp", plainIn, stale(-6 * time.Minute), urlToken, "outside the 5m0s window"},
		{"timestamp in the future", plainIn, stale(6 * time.Minute), urlToken, "outside"},
		{"adapter without keys", wechat.Inbound{}, good, urlToken, "no wechat URL token"},
		{"plain request to a safe-mode account", safeIn, good, urlToken, "without encryption"},
		{"plain request claiming aes to a safe-mode account", safeIn, with("encrypt_type", "aes"), urlToken, "without an Encrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Verify(tc.req, tc.secret)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), urlToken) || strings.Contains(err.Error(), good.Query["signature"]) {
				t.Fatalf("error %q names the token or the signature", err)
			}
		})
	}
	// Plain mode signs the sender, not the body: a body changed after
	// signing verifies (the contract runs with SenderOnly).
	changed := good
	changed.Body = textBody(2, "changed")
	if err := plainIn.Verify(changed, urlToken); err != nil {
		t.Fatalf("plain mode: %v", err)
	}
}

func TestVerifySafe(t *testing.T) {
	body := textBody(1, "hello")
	good := signed(t, body, urlToken, aesKey)
	enc, err := wechat.Encrypt(aesKey, appID, body)
	if err != nil {
		t.Fatal(err)
	}
	otherApp, _ := wechat.Encrypt(aesKey, "wx0000000000000000", body)
	otherKey, _ := wechat.Encrypt("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg", appID, body)
	for _, tc := range []struct {
		name   string
		in     wechat.Inbound
		req    channel.Request
		reason string
	}{
		{"good", safeIn, good, ""},
		{"wechat.Encrypt", safeIn, safeReq(enc), ""},
		{"the test's own framing", safeIn, safeReq(rawEncrypt(t, func() []byte {
			pad := 32 - len(frame(string(body), appID, 0, 0))%32
			return frame(string(body), appID, pad, byte(pad))
		}())), ""},
		{"msg_signature of another Encrypt", safeIn, func() channel.Request {
			r := safeReq(enc)
			r.Query["msg_signature"] = safeReq(otherApp).Query["msg_signature"]
			return r
		}(), "msg_signature does not match"},
		{"no msg_signature, plain signature good", safeIn, func() channel.Request {
			r := safeReq(enc)
			delete(r.Query, "msg_signature")
			return r
		}(), "no msg_signature"},
		{"body changed after signing", safeIn, func() channel.Request {
			r := safeReq(enc)
			r.Body = wechatfake.Envelope(account, otherApp)
			return r
		}(), "msg_signature does not match"},
		{"another app id", safeIn, safeReq(otherApp), "not of the account's app id"},
		{"another AES key", safeIn, safeReq(otherKey), "padding"},
		{"adapter's key is not an EncodingAESKey", wechat.Inbound{Token: urlToken, AESKey: "short", AppID: appID, Now: clock}, good, "EncodingAESKey"},
		{"adapter without app id", wechat.Inbound{Token: urlToken, AESKey: aesKey, Now: clock}, good, "no wechat app id"},
		{"not base64", safeIn, safeReq("not base64!"), "not base64"},
		{"not whole blocks", safeIn, safeReq(base64.StdEncoding.EncodeToString(make([]byte, 40))), "whole AES blocks"},
		{"padding value 0", safeIn, safeReq(rawEncrypt(t, frame("<xml/>", appID, 4, 0))), "bad padding"},
		{"padding value 33", safeIn, safeReq(rawEncrypt(t, frame("<xml/>", appID, 4, 33))), "bad padding"},
		{"padding bytes unequal", safeIn, safeReq(rawEncrypt(t, append(frame("<xml/>", appID, 3, 3), 4))), "bad padding"},
		{"length over the message", safeIn, safeReq(rawEncrypt(t, func() []byte {
			b := frame("<xml/>", appID, 4, 4)
			binary.BigEndian.PutUint32(b[16:], 1000)
			return b
		}())), "length is over"},
		{"length of 2^32-1", safeIn, safeReq(rawEncrypt(t, func() []byte {
			b := frame("<xml/>", appID, 4, 4)
			binary.BigEndian.PutUint32(b[16:], 1<<32-1)
			return b
		}())), "length is over"},
		{"app id cut short", safeIn, safeReq(rawEncrypt(t, frame("<xml/>", appID[:17], 5, 5))), "app id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Verify(tc.req, urlToken)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				evs, err := tc.in.Parse(tc.req.Body)
				if err != nil || len(evs) != 1 || evs[0].Text != "hello" || !evs[0].Native.(*wechat.Message).Encrypted {
					t.Fatalf("Parse: %+v, %v", evs, err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), aesKey) || strings.Contains(err.Error(), urlToken) {
				t.Fatalf("error %q names a key", err)
			}
		})
	}
}

// The public test vector of WeChat's message encryption (Tencent's sample
// of WXBizMsgCrypt, the same scheme for Official Accounts and WeCom): an
// implementation of our own would agree with itself whatever its mistakes.
func TestOfficialVector(t *testing.T) {
	const enc = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	in := wechat.Inbound{Token: "QDG6eK", AESKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", AppID: "wx5823bf96d3bd56c7",
		Now: func() time.Time { return time.Unix(1409659813, 0) }}
	req := channel.Request{Method: "POST", Body: wechatfake.Envelope("wx5823bf96d3bd56c7", enc), Query: map[string]string{
		"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813", "nonce": "1372623149",
		"encrypt_type": "aes"}}
	evs, err := channel.Receive(in, req, "QDG6eK")
	if err != nil || len(evs) != 1 {
		t.Fatalf("Receive: %d events, %v", len(evs), err)
	}
	if ev := evs[0]; ev.Kind != channel.KindMessage || ev.Text != "hello" || ev.DedupeKey != "4561255354251345929" {
		t.Fatalf("event %+v", ev)
	}
	if got := wechat.Sign("QDG6eK", "1409659813", "1372623149", enc); got != "477715d11cdb4164915debcba66cb864d751f3e6" {
		t.Fatalf("Sign = %s", got)
	}
	in.AppID = "wx5823bf96d3bd56c8"
	if _, err := channel.Receive(in, req, "QDG6eK"); !errors.Is(err, channel.ErrUnverified) {
		t.Fatalf("another app id: %v", err)
	}
}

func TestHandshake(t *testing.T) {
	p := &wechat.Provider{Now: clock}
	creds := chanbridge.Credentials{Token: urlToken, AESKey: aesKey, AppID: appID}
	q := wechatfake.Handshake(urlToken, "5837397520665436492", now)
	rep, err := p.Handshake(channel.Request{Method: "GET", Query: q}, creds)
	if err != nil || rep.Status != 200 || rep.Body != "5837397520665436492" || !strings.HasPrefix(rep.ContentType, "text/plain") {
		t.Fatalf("Handshake: %+v, %v", rep, err)
	}
	for name, q := range map[string]map[string]string{
		"wrong token":  wechatfake.Handshake("other", "1", now),
		"stale":        wechatfake.Handshake(urlToken, "1", now.Add(-time.Hour)),
		"no echostr":   wechatfake.Handshake(urlToken, "", now),
		"long echostr": wechatfake.Handshake(urlToken, strings.Repeat("9", 257), now),
		"no signature": {"timestamp": q["timestamp"], "nonce": q["nonce"], "echostr": "1"},
	} {
		if rep, err := p.Handshake(channel.Request{Method: "GET", Query: q}, creds); !errors.Is(err, channel.ErrUnverified) || rep.Body != "" {
			t.Errorf("%s: %+v, %v; want ErrUnverified", name, rep, err)
		}
	}
	if _, err := p.Handshake(channel.Request{Method: "GET", Query: q}, chanbridge.Credentials{}); !errors.Is(err, channel.ErrUnverified) {
		t.Errorf("no token: %v", err)
	}
	if a := p.Ack(); a.Status != 200 || a.Body != "success" || !strings.HasPrefix(a.ContentType, "text/plain") {
		t.Errorf("Ack %+v", a)
	}
}

func TestProviderInbound(t *testing.T) {
	p := &wechat.Provider{Now: clock}
	body := textBody(7, "hi")
	if err := p.Inbound().Verify(signed(t, body, urlToken, ""), urlToken); !errors.Is(err, channel.ErrUnverified) {
		t.Fatalf("the adapter without keys verified: %v", err)
	}
	creds := chanbridge.Credentials{Token: urlToken, AESKey: aesKey, AppID: appID}
	if p.VerifySecret(creds) != urlToken {
		t.Fatalf("VerifySecret")
	}
	in := p.InboundFor(creds)
	if evs, err := channel.Receive(in, signed(t, body, urlToken, aesKey), p.VerifySecret(creds)); err != nil || len(evs) != 1 || evs[0].Text != "hi" {
		t.Fatalf("keyed adapter, safe mode: %+v %v", evs, err)
	}
	if _, err := channel.Receive(in, signed(t, body, urlToken, ""), p.VerifySecret(creds)); !errors.Is(err, channel.ErrUnverified) {
		t.Fatalf("keyed adapter took a plain request in safe mode: %v", err)
	}
	creds.AESKey = ""
	if evs, err := channel.Receive(p.InboundFor(creds), signed(t, body, urlToken, ""), urlToken); err != nil || len(evs) != 1 {
		t.Fatalf("keyed adapter, plain mode: %+v %v", evs, err)
	}
}

func msgIDOf(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() >> 1)
}

func TestInboundContract(t *testing.T) {
	message := func(id, text string) []byte { return textBody(msgIDOf(id), text) }
	t.Run("plain", func(t *testing.T) {
		channeltest.RunInbound(t, channeltest.Inbound{
			Adapter: plainIn, Secret: urlToken, SenderOnly: true, Message: message,
			Sign:      func(t testing.TB, body []byte, secret string) channel.Request { return signed(t, body, secret, "") },
			Malformed: []byte(`<xml><FromUserName>x</FromUserName></xml>`),
		})
	})
	t.Run("safe", func(t *testing.T) {
		channeltest.RunInbound(t, channeltest.Inbound{
			Adapter: safeIn, Secret: urlToken, Message: message,
			Sign:      func(t testing.TB, body []byte, secret string) channel.Request { return signed(t, body, secret, aesKey) },
			Malformed: []byte(`{"not":"xml"}`),
		})
	})
	if (wechat.Inbound{}).Channel() != "wechat" {
		t.Errorf("Channel() = %q", wechat.Inbound{}.Channel())
	}
}
