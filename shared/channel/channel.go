// Package channel is the seam every messaging channel fills (Slack today;
// Messenger, Instagram, WhatsApp, Telegram, LINE, Viber, X, WeChat, Zendesk
// next). A channel has two halves:
//
//   - an Inbound adapter turns the provider's webhook request into events: it
//     verifies the request's signature with the channel's secret, then parses
//     the raw body into zero or more Events, each with its dedupe key, the
//     contact's identity and the text and attachments;
//   - a Sender delivers our messages to a contact's thread on the channel,
//     idempotently by our message id, and states the channel's window rule (when
//     a message may be sent at all) and its rate limit (how fast).
//
// The package holds no AWS or provider code: adapters live with their channel
// (shared/slackbridge for Slack), storage in shared/store. Receive is the one
// order of the inbound steps: nothing is parsed, and so nothing is stored,
// before the signature is verified.
//
// What is safe to log: channel names, event kinds, dedupe keys, external
// thread and user ids. Never a secret, a signature, a raw body, a message's
// text or attachment URLs, or a display name (personal data).
package channel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
)

// Request is an inbound webhook request as the provider sent it.
type Request struct {
	// Method is the HTTP method ("POST").
	Method string
	// Headers holds the request's headers with lower-case names (as API
	// Gateway passes them).
	Headers map[string]string
	// Query holds the query string parameters.
	Query map[string]string
	// Body is the raw body, byte for byte as signed (base64 already decoded).
	Body []byte
}

// Header returns the value of a header by its lower-case name.
func (r Request) Header(name string) string { return r.Headers[name] }

// Kinds of inbound events.
const (
	// KindMessage is a message of a contact (or of an agent answering in the
	// provider's own tool, such as a Slack thread reply): it has text or
	// attachments.
	KindMessage = "message"
	// KindChallenge is the provider's handshake of a new webhook URL (Slack's
	// url_verification, Messenger's hub.challenge): answer Event.Challenge
	// verbatim and store nothing.
	KindChallenge = "challenge"
	// KindStatus is the provider's delivery status of a message we sent:
	// Status holds it.
	KindStatus = "status"
	// KindSubscribed and KindUnsubscribed say that a contact (From) may be
	// sent messages again, or no longer (Viber's subscribed and
	// unsubscribed, a Telegram user who blocked the bot).
	KindSubscribed   = "subscribed"
	KindUnsubscribed = "unsubscribed"
	// KindOther is any other event the channel reports (installs, profile
	// changes, read receipts...). Native holds the channel's own form.
	KindOther = "other"
)

// DeliveryStatus is a provider's report on a message we sent: its id at the
// provider, "sent", "delivered", "read" or "failed", and the provider's
// error code of a failure.
type DeliveryStatus struct {
	ProviderID string
	Status     string
	Code       string
}

// Identity is a contact (or agent) as a channel knows them.
type Identity struct {
	// Channel is the channel's name ("slack"); an adapter that serves several
	// products on one webhook names the product ("messenger", not "meta").
	Channel string `json:"channel"`
	// Account is the provider-side account the webhook belongs to (Slack's
	// team id, a Messenger page id, a Telegram bot): external user ids are
	// unique only within it. Empty if the channel has one global namespace.
	Account string `json:"account,omitempty"`
	// UserID is the external user id within Account.
	UserID string `json:"userId"`
	// DisplayName is the name the provider shows, when the event carries it
	// (personal data: never logged).
	DisplayName string `json:"displayName,omitempty"`
}

// Key is the identity's stable key, "<channel>:<account>:<user id>": the same
// person on the same channel account always has the same key.
func (id Identity) Key() string { return id.Channel + ":" + id.Account + ":" + id.UserID }

// Attachment is a file an inbound message carries, by reference.
type Attachment struct {
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Size        int64  `json:"size,omitempty"`
	// MediaID is the provider's id of a file that is not at a URL but must be
	// fetched by id with the channel's token (WhatsApp Cloud API media); URL is
	// then empty.
	MediaID string `json:"mediaId,omitempty"`
}

// Event is one inbound event of a channel.
type Event struct {
	// Kind is KindMessage, KindChallenge or KindOther.
	Kind string
	// DedupeKey is the provider's id of the event (Slack's event_id): the same
	// on every redelivery of the event, different for different events. Stores
	// write an event at most once per DedupeKey (prefixed with the channel's
	// name, e.g. a message's ClientMessageID "slack:<event_id>"). Empty only
	// for KindChallenge.
	DedupeKey string
	// From is who sent it (KindMessage; for KindOther when the event has a
	// sender).
	From Identity
	// Thread is the provider's reference of the conversation or thread the
	// message belongs to (Slack: "<channel id>/<thread ts>"), empty if none.
	Thread string
	// Text is the message's text as plain text (provider escaping undone).
	Text string
	// Attachments are the files of the message, if any.
	Attachments []Attachment
	// At is when the provider says the event happened (zero if it does not).
	At time.Time
	// Challenge is the value to answer for KindChallenge.
	Challenge string
	// ReplyToken is LINE's reply token of the message: one reply may use it,
	// within about a minute.
	ReplyToken string
	// Status is the report of a KindStatus event.
	Status *DeliveryStatus
	// Native is the channel's own parsed form of the event (Slack:
	// *slackbridge.Event), for what the seam does not carry.
	Native any
}

// ErrUnverified means a request's signature is missing, wrong or too old.
// Answer 401 and store nothing.
var ErrUnverified = errors.New("request signature is missing, invalid or expired")

// ErrMalformed means a verified body is not a request of the channel. Answer
// 400 (the provider would only send it again) and store nothing.
var ErrMalformed = errors.New("malformed channel request")

// Inbound is the receiving half of a channel.
type Inbound interface {
	// Channel is the channel's name ("slack"), as it appears in
	// Identity.Channel and in the dedupe keys stores write.
	Channel() string
	// Verify checks the request's signature over its raw body with the
	// channel's secret (and the provider's replay window, if it has one). A
	// failure wraps ErrUnverified; its message names the reason, never the
	// secret or the expected signature, so it is safe to log. Verify reads
	// nothing but the request and the secret.
	Verify(req Request, secret string) error
	// Parse turns a verified body into its events, in the provider's order:
	// none for a body that carries nothing to do. A body that is not a
	// request of the channel wraps ErrMalformed. Parse is pure (no I/O), never
	// panics, and returns the same events (same dedupe keys) for the same body,
	// so a redelivery deduplicates.
	Parse(body []byte) ([]Event, error)
}

// Receive verifies req with secret and parses it: the only order in which a
// channel's webhook handles a request. Nothing is parsed (so nothing can be
// stored) unless the signature holds.
func Receive(in Inbound, req Request, secret string) ([]Event, error) {
	if err := in.Verify(req, secret); err != nil {
		if !errors.Is(err, ErrUnverified) {
			err = fmt.Errorf("%w: %w", ErrUnverified, err)
		}
		return nil, err
	}
	evs, err := in.Parse(req.Body)
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return evs, err
}

// Sender is the sending half of a channel.
type Sender interface {
	// Channel is the channel's name ("slack").
	Channel() string
	// Wants reports whether the channel takes m at all (Slack mirrors visitor
	// and bot messages, not agent replies that came from Slack). A caller
	// neither sends nor parks a message the sender does not want.
	Wants(m *chat.Message) bool
	// Send delivers m to its contact's thread on the channel. It is
	// idempotent by m.ID: sending the same message again, after a success, a
	// failure, or concurrently, shows it once on the channel. A tenant without
	// the channel installed is no error (nothing is sent).
	//
	// Errors: a refusal for rate is a *RateLimitedError (errors.As), with the
	// provider's RetryAfter; ErrOutsideWindow means the Window forbids the send
	// (do not retry); anything else is transient. The caller parks a failed
	// send and retries it later (dispatch's parked deliveries), never re-running
	// the stream for it. Errors name ids and provider error codes, never text,
	// so they are safe to log.
	Send(ctx context.Context, m *chat.Message) error
	// Window is the channel's rule on when a message may be sent.
	Window() Window
	// Limit is the channel's rate limit, so a caller can pace its sends.
	Limit() RateLimit
}

// Window is a channel's rule on when we may message a contact, counted from the
// contact's last inbound message. The zero Window allows any time.
type Window struct {
	// Reply is how long after the contact's last message a free-form message
	// may be sent (WhatsApp, Messenger: 24h); 0 means no limit.
	Reply time.Duration
	// Tag, if set, is the message tag that allows a message after Reply and
	// until TagReply (Messenger's HUMAN_AGENT: 7 days).
	Tag      string
	TagReply time.Duration
}

// ErrOutsideWindow means a message may not be sent now: the contact's window
// closed. Retrying does not help.
var ErrOutsideWindow = errors.New("outside the channel's messaging window")

// Check tells how a message may be sent at now to a contact whose last inbound
// message was at lastInbound: free-form (tag ""), only with tag, or not at all
// (ErrOutsideWindow).
func (w Window) Check(lastInbound, now time.Time) (tag string, err error) {
	if w.Reply <= 0 {
		return "", nil
	}
	since := now.Sub(lastInbound)
	switch {
	case since <= w.Reply:
		return "", nil
	case w.Tag != "" && since <= w.TagReply:
		return w.Tag, nil
	}
	return "", ErrOutsideWindow
}

// Scopes of a rate limit: what one budget is shared by.
const (
	ScopeApp     = "app"     // every send of the app, all tenants
	ScopeAccount = "account" // one provider account, or the one place our integration posts to (a tenant's Slack channel)
	ScopeContact = "contact" // one contact's chat (Telegram: about 1 a second per chat)
)

// RateLimit is how fast a channel accepts sends: PerSecond sustained, Burst
// at once, per Scope. A zero RateLimit means the provider states none.
type RateLimit struct {
	PerSecond float64
	Burst     int
	Scope     string
}

// Interval is the pause between sends that keeps to the limit (0 for none).
func (l RateLimit) Interval() time.Duration {
	if l.PerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / l.PerSecond)
}

// RateLimitedError is a send the provider refused for rate. The caller parks
// it and retries no sooner than RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
	Err        error // the provider's error, as returned
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *RateLimitedError) Unwrap() error { return e.Err }

// RetryAfter returns how long to wait before retrying a send that failed with
// err, and whether err was a refusal for rate.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// TokenCipher keeps a tenant's credentials (bot and page tokens, refresh
// tokens, API tokens) encrypted and bound to the tenant: slackkms.Cipher, KMS
// with the encryption context {"tenantId": <id>}. Every bridge that stores a
// credential takes one.
type TokenCipher interface {
	Encrypt(ctx context.Context, tenantID, token string) ([]byte, error)
	Decrypt(ctx context.Context, tenantID string, blob []byte) (string, error)
}
