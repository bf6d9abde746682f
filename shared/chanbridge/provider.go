package chanbridge

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// Credentials are a tenant's secrets of one channel, as the owner gave them
// (kept encrypted with KMS under the tenant's context, decrypted only to
// verify a webhook or call the provider): Telegram's bot token; LINE's
// channel secret and channel access token; Viber's auth token. WebhookSecret
// is the secret a webhook is verified with when the channel lets us choose
// one (Telegram's secret_token, generated at connect); SenderName is Viber's
// sender name (at most 28 characters).
type Credentials struct {
	Token         string `json:"token,omitempty"`
	ChannelSecret string `json:"channelSecret,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	SenderName    string `json:"senderName,omitempty"`
}

// Account is what connecting tells of the tenant's account on the channel:
// its id (the bot's id, LINE's destination user id, the Viber account id),
// used as channel.Identity.Account, and a display name.
type Account struct {
	ID   string
	Name string
}

// Outbound is one part of a message to send.
type Outbound struct {
	// To is the contact's id on the channel (Telegram chat id, LINE user id,
	// Viber user id).
	To   string
	Text string
	// Key is stable across retries of this part (LINE's X-Line-Retry-Key is
	// derived from it; other providers ignore it).
	Key string
	// ReplyToken, when set, is LINE's reply token of the contact's last
	// message, still fresh: the part goes out as a reply, not a push.
	ReplyToken string
}

// Provider is one tenant-credential channel's provider API: the inbound
// adapter of its webhook and the calls the bridge makes. Implementations hold
// no tenant state and are safe for concurrent use. Errors never carry a
// token, a secret, a message's text or a file URL (they are logged): ids and
// provider error codes only.
type Provider interface {
	// Inbound is the webhook's adapter: Channel() is the channel's name
	// ("telegram", "line", "viber"); Verify checks a request with the
	// secret VerifySecret picks (Telegram's authenticates the sender only:
	// a secret header, not a signature of the body); Parse gives the events,
	// a KindMessage per contact message (DedupeKey the provider's event id,
	// unique within the account; From.Account the account when the body
	// names it, else empty and filled by the bridge with the integration's),
	// statuses, (un)subscriptions; events with nothing to store give none.
	Inbound() channel.Inbound
	// VerifySecret is the secret of creds that Inbound().Verify checks:
	// Telegram's WebhookSecret, LINE's ChannelSecret, Viber's Token.
	VerifySecret(creds Credentials) string
	// Account checks creds with the provider and returns the account they
	// are of, changing nothing (a refused credential wraps ErrRefused).
	Account(ctx context.Context, creds Credentials) (Account, error)
	// Connect checks creds with the provider and registers webhookURL as the
	// account's webhook (Telegram setWebhook with creds.WebhookSecret as
	// secret_token and the allowed updates; LINE: nothing to register through
	// the API, the owner sets the URL in the console, but the token is
	// checked; Viber set_webhook). A refused credential wraps ErrRefused.
	Connect(ctx context.Context, creds Credentials, webhookURL string) (Account, error)
	// Disconnect removes the webhook registration (Telegram deleteWebhook,
	// Viber set_webhook with an empty url); nothing to do is no error.
	Disconnect(ctx context.Context, creds Credentials) error
	// Parts splits text at the channel's length limit (rune boundaries,
	// never an empty part).
	Parts(text string) []string
	// Send sends one part and returns the provider's id of it. A refusal for
	// rate is a *channel.RateLimitedError with the provider's retry_after; a
	// final refusal (blocked, unsubscribed, bad recipient, bad token) wraps
	// ErrRefused and names the provider's code; anything else is transient.
	// LINE: a 409 for a retry key already accepted is success.
	Send(ctx context.Context, creds Credentials, out Outbound) (string, error)
	// Fetch downloads an attachment of an inbound message (Telegram getFile
	// then the file; LINE's content API by message id; Viber's media URL),
	// at most max bytes (over it: an error wrapping ErrTooLarge). It returns
	// the bytes and their content type. Provider URLs (Telegram's carry the
	// bot token) never leave it.
	Fetch(ctx context.Context, creds Credentials, a channel.Attachment, max int64) ([]byte, string, error)
	// Limit is the pace of sends to one chat (Telegram: 1 a second).
	Limit() channel.RateLimit
}

// ReplyTokenLife is how long after a contact's message a LINE reply token is
// used; later replies are pushed.
const ReplyTokenLife = 50 * time.Second
