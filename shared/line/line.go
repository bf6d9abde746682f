// Package line is the LINE Messaging API on the channel seam: the webhook's
// inbound adapter (Inbound: the channel secret's HMAC-SHA256 over the raw
// body, then the events) and the calls the bridge makes with a tenant's
// channel access token (Provider: the bot's info and webhook endpoint at
// connect, reply and push sends, message content).
//
// It speaks the few parts of LINE's wire format it needs itself, with the
// standard library only. The package does no AWS or store work and logs
// nothing. Its errors name calls, HTTP statuses, LINE's request ids and
// event or message ids; never a token, a secret, a signature, a message's
// text or a URL.
package line

import (
	"github.com/livesupportbot/backend/shared/channel"
)

// Channel is LINE's channel name: Identity.Channel of the events and the
// prefix of the dedupe keys stores write ("line:<webhookEventId>").
const Channel = "line"

// SignatureHeader is the request header with the body's signature, as API
// Gateway passes it (lower case): base64 of HMAC-SHA256(channel secret, body).
const SignatureHeader = "x-line-signature"

// Inbound is LINE's webhook as a channel.Inbound. It holds nothing and is safe
// for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "line".
func (Inbound) Channel() string { return Channel }

// Verify checks the x-line-signature header against HMAC-SHA256 of the raw
// body with the channel secret, compared with hmac.Equal. LINE's signature
// carries no timestamp, so there is no replay window: redeliveries are
// absorbed by the dedupe keys (webhookEventId). An empty secret verifies
// nothing. Failures wrap channel.ErrUnverified and name only the reason.
func (Inbound) Verify(req channel.Request, channelSecret string) error {
	return channel.VerifyHMAC(req, SignatureHeader, "", channel.Base64, "channel secret", channelSecret)
}
