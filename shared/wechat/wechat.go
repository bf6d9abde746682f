// Package wechat is a WeChat Official Account on the channel seam: the
// inbound adapter of an account's server URL (Inbound) and the calls the
// bridge makes with the account's access token (Provider, a
// chanbridge.Provider with the optional parts WeChat needs: a keyed inbound
// adapter, the GET handshake, the "success" acknowledgement, the stable
// access token and the customer-service quota).
//
// Inbound: WeChat signs every request in its query string: signature is the
// SHA-1 of the URL token, timestamp and nonce, sorted and concatenated. In
// plain mode that is all (it authenticates the sender, not the body); in
// safe mode (encrypt_type=aes) the body is an envelope whose Encrypt element
// is the message, AES-256-CBC encrypted with the account's EncodingAESKey,
// and msg_signature is the SHA-1 of the token, timestamp, nonce and Encrypt
// (it covers the body). Parse turns a message into at most one
// channel.Event.
//
// Outbound: Provider obtains access tokens (cgi-bin/stable_token), checks
// them (cgi-bin/get_api_domain_ip), sends text through the customer-service
// API (cgi-bin/message/custom/send: at most 5 messages within 48 hours of a
// contact's message) and downloads media by id (cgi-bin/media/get).
//
// The package does no AWS or store work and logs nothing. Its errors name
// WeChat's API paths, errcodes, HTTP statuses and ids; never an access
// token, a secret, a signature, a message's text or a URL with a token.
package wechat

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// ChannelName is the channel's name: Identity.Channel of the events and the
// prefix of their dedupe keys in stores.
const ChannelName = "wechat"

// MaxSkew is how far a request's timestamp may be from now, either way:
// WeChat signs a request when it sends it and retries within seconds, so an
// older signature is a replay.
const MaxSkew = 5 * time.Minute

// The query parameters WeChat signs its requests with.
const (
	QuerySignature    = "signature"
	QueryTimestamp    = "timestamp"
	QueryNonce        = "nonce"
	QueryEchostr      = "echostr"
	QueryEncryptType  = "encrypt_type"
	QueryMsgSignature = "msg_signature"
)

// EncryptAES is encrypt_type's value in safe mode.
const EncryptAES = "aes"

// maxEchostr bounds the echostr a handshake answers (WeChat's is a number
// of about 19 digits).
const maxEchostr = 256

// Inbound is a WeChat Official Account's server URL as a channel.Inbound,
// with the keys of the account (Provider.InboundFor builds it from the
// tenant's credentials). It is safe for concurrent use.
//
// The zero Inbound (Provider.Inbound) has no keys and verifies nothing: it
// cannot tell whether the account is in safe mode, so it would take a plain
// request to an account that requires encryption.
type Inbound struct {
	// Token is the URL token the owner set in the WeChat console: every
	// signature is made with it.
	Token string
	// AESKey is the 43-character EncodingAESKey of safe mode; empty: plain
	// mode. With it, only encrypted requests verify.
	AESKey string
	// AppID is the account's app id, the suffix of every encrypted message.
	AppID string
	// Now is the clock the timestamps are checked against (default
	// time.Now).
	Now func() time.Time
}

var _ channel.Inbound = Inbound{}

// Channel is "wechat" (ChannelName).
func (Inbound) Channel() string { return ChannelName }

func (in Inbound) now() time.Time {
	if in.Now == nil {
		return time.Now()
	}
	return in.Now()
}

// Sign is WeChat's signature of parts (the URL token, a timestamp and a
// nonce; in safe mode also the Encrypt element): the hex SHA-1 of the parts
// sorted in byte order and concatenated.
func Sign(parts ...string) string {
	sorted := append([]string(nil), parts...)
	sort.Strings(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// Verify checks a request of WeChat with the account's keys: the timestamp
// within MaxSkew of Now, then
//
//   - in safe mode (AESKey set): encrypt_type=aes, msg_signature the SHA-1 of
//     the token, timestamp, nonce and the body's Encrypt element, and the
//     message decrypting with AESKey to one of AppID (Decrypt). The plain
//     signature may be present too; it is not what counts. A request without
//     encryption is refused: an account in safe mode never sends one.
//   - in plain mode: signature the SHA-1 of the token, timestamp and nonce.
//     It authenticates the sender only, not the body: plain mode is
//     WeChat's own choice of what to protect.
//
// secret is the URL token the bridge picks (Provider.VerifySecret); when
// given it must be the adapter's Token. An adapter without a Token verifies
// nothing. Signatures are compared in constant time. Failures wrap
// channel.ErrUnverified and name only the reason.
func (in Inbound) Verify(req channel.Request, secret string) error {
	ts, nonce, err := in.checkCommon(req, secret)
	if err != nil {
		return err
	}
	if in.AESKey == "" {
		return checkSignature(req.Query[QuerySignature], QuerySignature, Sign(in.Token, ts, nonce))
	}
	if req.Query[QueryEncryptType] != EncryptAES {
		return fmt.Errorf("%w: a request without encryption to an account in safe mode", channel.ErrUnverified)
	}
	env, err := parseEnvelope(req.Body)
	if err != nil {
		return fmt.Errorf("%w: %w", channel.ErrUnverified, err)
	}
	if err := checkSignature(req.Query[QueryMsgSignature], QueryMsgSignature, Sign(in.Token, ts, nonce, env.Encrypt)); err != nil {
		return err
	}
	_, err = Decrypt(in.AESKey, in.AppID, env.Encrypt)
	return err
}

// checkCommon checks what every request needs: the adapter's token (and the
// bridge's secret the same), a fresh timestamp and a nonce.
func (in Inbound) checkCommon(req channel.Request, secret string) (ts, nonce string, err error) {
	if in.Token == "" {
		return "", "", fmt.Errorf("%w: no wechat URL token configured", channel.ErrUnverified)
	}
	if secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(in.Token)) != 1 {
		return "", "", fmt.Errorf("%w: the secret is not the adapter's URL token", channel.ErrUnverified)
	}
	ts, nonce = req.Query[QueryTimestamp], req.Query[QueryNonce]
	if ts == "" || nonce == "" {
		return "", "", fmt.Errorf("%w: no timestamp or nonce", channel.ErrUnverified)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("%w: timestamp is not an integer", channel.ErrUnverified)
	}
	now := in.now().Unix()
	if d := now - sec; d > int64(MaxSkew/time.Second) || d < -int64(MaxSkew/time.Second) {
		return "", "", fmt.Errorf("%w: timestamp outside the %s window", channel.ErrUnverified, MaxSkew)
	}
	return ts, nonce, nil
}

// checkSignature compares a hex SHA-1 signature with want in constant time
// (the case of the hex does not matter).
func checkSignature(got, name, want string) error {
	if got == "" {
		return fmt.Errorf("%w: no %s", channel.ErrUnverified, name)
	}
	if len(got) != sha1.Size*2 {
		return fmt.Errorf("%w: %s is not a hex SHA-1 digest", channel.ErrUnverified, name)
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) != 1 {
		return fmt.Errorf("%w: %s does not match", channel.ErrUnverified, name)
	}
	return nil
}

// Handshake answers WeChat's check of the server URL (a GET when the owner
// saves it in the console): signature, timestamp and nonce as in plain mode
// (the check is plain in safe mode too), and echostr answered unchanged as
// text/plain. An invalid request wraps channel.ErrUnverified.
func (in Inbound) Handshake(req channel.Request) (string, error) {
	ts, nonce, err := in.checkCommon(req, "")
	if err != nil {
		return "", err
	}
	if err := checkSignature(req.Query[QuerySignature], QuerySignature, Sign(in.Token, ts, nonce)); err != nil {
		return "", err
	}
	echo := req.Query[QueryEchostr]
	if echo == "" || len(echo) > maxEchostr {
		return "", fmt.Errorf("%w: echostr missing or over %d bytes", channel.ErrUnverified, maxEchostr)
	}
	return echo, nil
}
