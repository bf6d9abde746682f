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
//
// WeChat: AppID and AppSecret (the access token's credentials), Token (the
// URL token the owner set in the console: the webhook's SHA-1 signatures)
// and AESKey (the 43-character EncodingAESKey of safe mode; empty: plain
// mode). X: ConsumerKey and ConsumerSecret (the app's: CRC and webhook
// signatures), ClientID and ClientSecret (the OAuth 2.0 client) and
// RefreshToken (the account's offline.access grant; X rotates it on every
// refresh, so the bridge keeps the newest with the access token).
//
// Access is never stored with the credentials: it is the short-lived access
// token the bridge fills in, for a Refresher, before it calls the provider.
type Credentials struct {
	Token         string `json:"token,omitempty"`
	ChannelSecret string `json:"channelSecret,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	SenderName    string `json:"senderName,omitempty"`

	AppID     string `json:"appId,omitempty"`
	AppSecret string `json:"appSecret,omitempty"`
	AESKey    string `json:"aesKey,omitempty"`

	ConsumerKey    string `json:"consumerKey,omitempty"`
	ConsumerSecret string `json:"consumerSecret,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	ClientSecret   string `json:"clientSecret,omitempty"`
	RefreshToken   string `json:"refreshToken,omitempty"`

	Access string `json:"-"`
	// Replaces is, at a reconnect, the webhook URL of the integration the
	// connect replaces: a provider that registers webhooks per app (X) may
	// remove that one, which no longer works.
	Replaces string `json:"-"`
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

// The optional parts of a Provider: a provider implements those its channel
// needs, and the bridge uses them when it does.

// KeyedInbound is a provider whose inbound adapter needs more of the
// tenant's credentials than VerifySecret (WeChat's safe mode decrypts with
// the AES key and checks the app id): the bridge uses InboundFor(creds)
// instead of Inbound() for the tenant's requests.
type KeyedInbound interface {
	InboundFor(creds Credentials) channel.Inbound
}

// Reply is an HTTP answer of the webhook: its status, content type and body.
type Reply struct {
	Status      int
	ContentType string
	Body        string
}

// Handshaker is a provider that checks the webhook URL with a GET (WeChat's
// echostr, X's CRC): Handshake answers it with the tenant's credentials, or
// returns an error wrapping channel.ErrUnverified (answered 401, nothing
// written) when the request is not the provider's.
type Handshaker interface {
	Handshake(req channel.Request, creds Credentials) (Reply, error)
}

// Acker is a provider that expects a given 200 answer to its POSTs
// (WeChat: the text "success"; the default is {"ok":true}).
type Acker interface {
	Ack() Reply
}

// Token is a short-lived access token: Access until Expires. Refresh is the
// refresh token to keep for the next refresh, when the provider rotated it
// (X); empty if it did not (WeChat).
type Token struct {
	Access  string
	Refresh string
	Expires time.Time
}

// Refresher is a provider whose calls take a short-lived access token that
// the bridge obtains with Refresh, keeps encrypted in the store and in
// memory, and shares between all instances under a lease, so that only one
// instance refreshes at a time (a WeChat stable_token refresh or an X
// refresh-token rotation by one instance would otherwise invalidate
// another's). The bridge sets creds.Access before Account, Connect, Send,
// Fetch and Disconnect.
type Refresher interface {
	// Refresh obtains a new access token with creds (WeChat: stable_token
	// with AppID and AppSecret, force_refresh when force; X: the OAuth 2.0
	// refresh_token grant with creds.RefreshToken, which the bridge sets to
	// the newest one kept). A refused credential wraps ErrRefused.
	Refresh(ctx context.Context, creds Credentials, force bool) (Token, error)
}

// Quota is a provider that allows at most Max sends to a contact within
// Life after each message of theirs (WeChat's customer-service messages: 5
// within 48 hours). The bridge counts them per contact message, refuses a
// send over the quota (the message fails "window_closed", the admin API
// answers 409) and shows the rest in the conversation's reply window.
type Quota interface {
	Quota() (max int, life time.Duration)
}
