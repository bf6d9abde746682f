// Package telegram is Telegram's Bot API on the channel seam, as a
// chanbridge.Provider: a tenant connects a bot with its token, and the bot's
// webhook carries the contacts' messages.
//
// Inbound: Telegram sends each update in its own POST with the secret_token
// given at setWebhook in the X-Telegram-Bot-Api-Secret-Token header (Verify:
// no HMAC, the secret names the sender; TLS keeps the body); Parse turns the
// update into its event. Outbound: Provider calls the Bot API (getMe,
// setWebhook, deleteWebhook, sendMessage, getFile and the file download).
//
// An update does not name the bot it is for, so Parse leaves From.Account
// empty: the bridge knows the integration the webhook URL belongs to and
// fills From.Account with its account id (the bot id Connect returned), and
// prefixes the dedupe key with it, since update ids are unique per bot only.
//
// The package does no AWS or store work and logs nothing. Its errors name
// methods, chat and update ids and Bot API error codes; never a token (it is
// in every Bot API URL), a secret, a message's text or a URL.
package telegram

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/livesupportbot/backend/shared/channel"
)

// Channel is the channel's name: Identity.Channel of the events, and the
// prefix of the dedupe keys stores write.
const Channel = "telegram"

// SecretHeader is the request header with the webhook's secret_token, as API
// Gateway passes it (lower case).
const SecretHeader = "x-telegram-bot-api-secret-token"

// Inbound is a bot's webhook as a channel.Inbound: the secret token header,
// one update per request. It holds nothing and is safe for concurrent use.
type Inbound struct{}

var _ channel.Inbound = Inbound{}

// Channel is "telegram".
func (Inbound) Channel() string { return Channel }

// Verify checks the X-Telegram-Bot-Api-Secret-Token header against secret
// (the WebhookSecret given to setWebhook), in constant time. Telegram signs
// nothing: the header proves the request comes from Telegram, not what the
// body is, and it carries no time, so redeliveries are absorbed by the dedupe
// keys. An empty secret verifies nothing. Failures wrap channel.ErrUnverified
// and name only the reason.
func (Inbound) Verify(req channel.Request, secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: no webhook secret configured", channel.ErrUnverified)
	}
	got := req.HeaderFold(SecretHeader)
	if got == "" {
		return fmt.Errorf("%w: no %s header", channel.ErrUnverified, SecretHeader)
	}
	// Hashing first makes the comparison's time independent of the lengths.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fmt.Errorf("%w: secret token does not match", channel.ErrUnverified)
	}
	return nil
}

// ValidSecret reports whether s may be a webhook's secret_token: 1 to 256
// characters of A-Z, a-z, 0-9, _ and -.
func ValidSecret(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
