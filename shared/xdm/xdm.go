// Package xdm is X's (Twitter's) direct messages on the channel seam: the
// inbound adapter of the Account Activity API's webhook (Inbound) and the
// calls the bridge makes with the tenant's app and the account's OAuth 2.0
// grant (Provider, a chanbridge.Provider, chanbridge.Handshaker and
// chanbridge.Refresher).
//
// Access: the Account Activity API is sold with X's Enterprise and
// pay-per-use tiers only; the tenant's app must have it, "Read, Write and
// Direct Messages" permissions and an OAuth 2.0 confidential client whose
// grant of the account has the dm.read, dm.write, users.read, tweet.read and
// offline.access scopes.
//
// Inbound: X checks the webhook URL with a GET carrying a crc_token that
// Handshake answers with its HMAC-SHA256 under the app's consumer secret (at
// registration and about hourly after); every POST is signed the same way
// over the raw body (Verify), and Parse turns its direct_message_events into
// channel.Events: a KindMessage per message a contact sent the account. The
// account's own sends (ours, echoed back, or the owner's from an X client)
// give none, and so do all of the API's other activity (posts, likes,
// follows, typing indicators, read receipts, revokes).
//
// Media: X does not let an app download a DM's photo, video or GIF with an
// OAuth 2.0 token: the media URLs need an OAuth 1.0a signature with the
// user's token secret, which we do not hold. Media are therefore not copied:
// Parse gives no Attachments, and the message's text says what was sent
// ("[photo]", "[video]", "[gif]") so an agent knows to ask for it another way.
// Fetch refuses.
//
// Outbound: Provider refreshes the account's access token (the
// refresh_token grant; X rotates the refresh token on every refresh, so the
// new one must be kept), reads the account (users/me), registers the app's
// webhook and subscribes the account to it (Connect), unsubscribes it
// (Disconnect) and sends text DMs.
//
// The package does no AWS or store work and logs nothing. Its errors name
// X's endpoints, HTTP statuses and X's error titles and codes; never a token,
// a secret, a signature, a message's text, a name or a URL.
package xdm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
)

// ChannelName is the channel's name: Identity.Channel of the events and the
// prefix of their dedupe keys in stores.
const ChannelName = "x"

// SignatureHeader is the request header with the body's signature, as API
// Gateway passes it (lower case): "sha256=" and the Base64 HMAC-SHA256 of
// the raw body with the app's consumer secret.
const SignatureHeader = "x-twitter-webhooks-signature"

// CRCParam is the query parameter of X's challenge-response check.
const CRCParam = "crc_token"

// maxCRCToken bounds the crc_token Handshake signs (X's are 48 characters
// or so).
const maxCRCToken = 1024

// Inbound is an X account's webhook as a channel.Inbound. It holds nothing
// and is safe for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "x" (ChannelName).
func (Inbound) Channel() string { return ChannelName }

// Verify checks the x-twitter-webhooks-signature header ("sha256=" and the
// Base64 HMAC-SHA256 of the raw body with the app's consumer secret), in
// constant time. X's signature carries no timestamp, so there is no replay
// window: redeliveries are absorbed by the dedupe keys. An empty consumer
// secret verifies nothing. Failures wrap channel.ErrUnverified and name only
// the reason.
func (Inbound) Verify(req channel.Request, consumerSecret string) error {
	return channel.VerifyHMAC(req, SignatureHeader, "sha256=", channel.Base64, "x consumer secret", consumerSecret)
}

// CRCResponse is the response_token of X's challenge: "sha256=" and the
// Base64 HMAC-SHA256 of crcToken with the app's consumer secret.
func CRCResponse(crcToken, consumerSecret string) string {
	mac := hmac.New(sha256.New, []byte(consumerSecret))
	mac.Write([]byte(crcToken))
	return "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Handshake answers X's challenge-response check of the webhook URL (a GET
// with the crc_token query parameter): 200, application/json,
// {"response_token":"sha256=<CRCResponse>"} under creds.ConsumerSecret. A
// request without a crc_token (or with one over 1,024 bytes) and an app
// without a consumer secret wrap channel.ErrUnverified: nothing is answered
// but 401. The check proves to X that we hold the secret; it authenticates
// nothing of X's, and changes nothing.
func (p *Provider) Handshake(req channel.Request, creds chanbridge.Credentials) (chanbridge.Reply, error) {
	token := req.Query[CRCParam]
	switch {
	case creds.ConsumerSecret == "":
		return chanbridge.Reply{}, fmt.Errorf("%w: no x consumer secret configured", channel.ErrUnverified)
	case token == "":
		return chanbridge.Reply{}, fmt.Errorf("%w: no %s parameter", channel.ErrUnverified, CRCParam)
	case len(token) > maxCRCToken:
		return chanbridge.Reply{}, fmt.Errorf("%w: %s of %d bytes, over %d", channel.ErrUnverified, CRCParam, len(token), maxCRCToken)
	}
	body, _ := json.Marshal(map[string]string{"response_token": CRCResponse(token, creds.ConsumerSecret)})
	return chanbridge.Reply{Status: 200, ContentType: "application/json", Body: string(body)}, nil
}
