// Package viber is Viber's REST Bot API on the channel seam: the inbound
// adapter of an account's webhook (Inbound) and the calls the bridge makes
// with the tenant's auth token (Provider, a chanbridge.Provider).
//
// Inbound: every callback is signed with the account's auth token (Verify)
// and carries one event that Parse turns into at most one channel.Event.
// Outbound: Provider registers the webhook (set_webhook), reads the account
// (get_account_info), sends text (send_message) and downloads media from
// the URLs of inbound messages.
//
// Viber's message tokens are 64-bit integers above 2^53: they are decoded as
// integers, never through float64, and kept as decimal strings.
//
// The package does no AWS or store work and logs nothing. Its errors name
// Viber's API methods, status codes, HTTP statuses and message tokens; never
// an auth token, a signature, a message's text, a name or a URL.
package viber

import (
	"github.com/livesupportbot/backend/shared/channel"
)

// ChannelName is the channel's name: Identity.Channel of the events and the
// prefix of their dedupe keys in stores.
const ChannelName = "viber"

// SignatureHeader is the request header with the body's signature, as API
// Gateway passes it (lower case): the hex HMAC-SHA256 of the raw body with
// the account's auth token, no prefix.
const SignatureHeader = "x-viber-content-signature"

// Inbound is a Viber account's webhook as a channel.Inbound. It holds nothing
// and is safe for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "viber" (ChannelName).
func (Inbound) Channel() string { return ChannelName }

// Verify checks the x-viber-content-signature header against HMAC-SHA256 of
// the raw body with the account's auth token, in constant time. The header is
// hex; its case does not matter (the digest is compared, not the text), so
// upper-case hex verifies too. The sig query parameter some setups add is
// ignored. Viber's signature carries no timestamp, so there is no replay
// window: redeliveries are absorbed by the dedupe keys. An empty auth token
// verifies nothing. Failures wrap channel.ErrUnverified and name only the
// reason.
func (Inbound) Verify(req channel.Request, authToken string) error {
	return channel.VerifyHMAC(req, SignatureHeader, "", channel.Hex, "viber auth token", authToken)
}
