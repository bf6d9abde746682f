// Package chat holds the domain of LiveSupportBot: tenants, contacts,
// conversations, messages and connections, and the error codes every layer
// shares. It has no AWS dependencies.
package chat

import (
	"errors"
	"fmt"
	"time"

	"github.com/livesupportbot/backend/shared/retention"
)

// Author kinds of a message.
const (
	AuthorVisitor = "visitor"
	AuthorAgent   = "agent"
	AuthorBot     = "bot"
	AuthorSystem  = "system"
)

// Conversation statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// ChannelWidget is the channel of messages sent through the web widget.
const ChannelWidget = "widget"

// The tenant's choices of AnalyticsConsent.
const (
	AnalyticsConsentRequired    = "required"
	AnalyticsConsentNotRequired = "not_required"
)

// ConsentRequired reports whether the widget's usage analytics wait for the
// visitor's consent.
func (t *Tenant) ConsentRequired() bool { return t.AnalyticsConsent == AnalyticsConsentRequired }

// Tenant is a business that embeds the widget.
type Tenant struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	WidgetKey      string            `json:"widgetKey"`
	AllowedOrigins []string          `json:"allowedOrigins"`
	Retention      retention.Periods `json:"retention"`
	Status         string            `json:"status"` // active or closed
	ClosedAt       *time.Time        `json:"closedAt,omitempty"`
	LegalHold      bool              `json:"legalHold"`
	CreatedAt      time.Time         `json:"createdAt"`

	// ReingestAfterErasure says what happens when an erased identity comes back:
	// "refuse" (the default) or "new_contact" (a new contact, unlinked to the old).
	ReingestAfterErasure string `json:"reingestAfterErasure,omitempty"`

	// AnalyticsConsent says whether the widget records usage analytics (page
	// views, device) only after the visitor consents: AnalyticsConsentRequired,
	// or "" / AnalyticsConsentNotRequired (the default) for at once.
	AnalyticsConsent string `json:"analyticsConsent,omitempty"`

	// RateLimits are the tenant's overrides of the platform's rate limits
	// (shared/ratelimit); a zero limit is the platform default.
	RateLimits RateLimits `json:"rateLimits"`

	// InboxShards is the number of write shards of the tenant's inbox (1 when
	// 0): a tenant whose conversations move in the inbox faster than one
	// partition takes gets more (docs/SCALE.md). The operator sets it; it only
	// ever grows, so readers always read every shard a conversation can be in.
	InboxShards int `json:"inboxShards,omitempty"`

	// Version counts the changes of the tenant's settings (name, origins,
	// retention, limits, legal hold, re-ingest choice, status): a cache of the
	// tenant compares it (store.TenantCache.TenantAtLeast).
	Version int64 `json:"-"`
}

// RateLimit is a burst and a sustained rate: at most Burst requests in a short
// run, PerMinute on average. Zero fields mean the platform default.
type RateLimit struct {
	Burst     int `json:"burst"`
	PerMinute int `json:"perMinute"`
}

// RateLimits are a tenant's limits per kind of request: each visitor's
// WebSocket frames by action (shared by all of the visitor's connections), and
// each admin API key's requests.
type RateLimits struct {
	SendMessage RateLimit `json:"sendMessage"`
	Typing      RateLimit `json:"typing"`
	History     RateLimit `json:"history"`
	Identify    RateLimit `json:"identify"`
	PageView    RateLimit `json:"pageView"`
	APIKey      RateLimit `json:"apiKey"`
}

// Periods returns the tenant's effective retention periods; on a tenant-wide
// legal hold they stamp no expiresAt.
func (t *Tenant) Periods() retention.Periods {
	p := retention.Merge(t.Retention)
	p.Held = t.LegalHold
	p.InboxShards = t.InboxShards
	return p
}

// OriginAllowed reports whether a browser Origin may use the tenant's widget: an
// empty allowlist allows any origin.
func (t *Tenant) OriginAllowed(origin string) bool {
	if len(t.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range t.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// Contact is a person who talks to a tenant: a widget visitor or a channel user.
// For widget visitors the contact id is the visitor id.
type Contact struct {
	ID                 string    `json:"id"`
	TenantID           string    `json:"-"`
	Name               string    `json:"name,omitempty"`
	Email              string    `json:"email,omitempty"`
	Phone              string    `json:"phone,omitempty"`
	MarketingOptOut    bool      `json:"marketingOptOut"`
	LegalHold          bool      `json:"legalHold"`
	OpenConversationID string    `json:"openConversationId,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastSeenAt         time.Time `json:"lastSeenAt"`
}

// DisplayName is the contact's name, or "Visitor".
func (c *Contact) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return "Visitor"
}

// Conversation is a thread of messages between a contact and the tenant.
type Conversation struct {
	ID             string    `json:"id"`
	TenantID       string    `json:"-"`
	ContactID      string    `json:"contactId"`
	Channel        string    `json:"channel"`
	Status         string    `json:"status"`
	Archived       bool      `json:"archived,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	LastActivityAt time.Time `json:"lastActivityAt"`
	// ContactName and ContactEmail are the contact's, kept on the
	// conversation so the inbox shows who is writing without reading each
	// contact: set when it opens and when the visitor identifies.
	ContactName  string `json:"contactName,omitempty" dynamodbav:",omitempty"`
	ContactEmail string `json:"contactEmail,omitempty" dynamodbav:",omitempty"`
	// AssigneeID is the agent (an API key id) the conversation is assigned
	// to; "" is unassigned.
	AssigneeID string `json:"assigneeId,omitempty" dynamodbav:",omitempty"`
	// LastMessage and Unread come from the conversation's summary item
	// (store.ConversationSummaries), not from its own item.
	LastMessage *MessagePreview `json:"lastMessage,omitempty" dynamodbav:"-"`
	Unread      int             `json:"unread" dynamodbav:"-"`
}

// Author says who wrote a message.
type Author struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// Message is one chat message, in the shape of the public contract.
type Message struct {
	ID              string    `json:"id"`
	ConversationID  string    `json:"conversationId"`
	Author          Author    `json:"author"`
	Text            string    `json:"text"`
	Channel         string    `json:"channel"`
	CreatedAt       time.Time `json:"createdAt"`
	TenantID        string    `json:"-"`
	ContactID       string    `json:"-"`
	ClientMessageID string    `json:"-"`
	// SentAt is when the client sent the message, by the server's clock as
	// the client knows it (zero: not given). With a ClientMessageID it keys
	// the message, so one conditional write stores it once (store.PutMessage).
	SentAt time.Time `json:"-"`
	// OriginConnectionID is the WebSocket connection that sent a visitor message;
	// dispatch does not echo the message back to it (the sender got an ack).
	OriginConnectionID string `json:"-"`
	// KeepUntil is when retention removes the message (zero: no end, as under
	// a legal hold). Its conversation is kept as long from its last activity.
	KeepUntil time.Time `json:"-"`
	// Attachments are the files of a message received from a channel.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Template is the approved template an agent message is sent as
	// (WhatsApp, outside the reply window); Text then describes it.
	Template *Template `json:"template,omitempty"`
	// Delivery is where a message sent to a messaging channel stands.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Connection is a live WebSocket connection of a visitor.
type Connection struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"-"`
	ContactID   string    `json:"contactId"`
	ConnectedAt time.Time `json:"connectedAt"`
}

// Error codes shared by the HTTP problem mapping and the WebSocket error frames.
const (
	ENotFound     = "not_found"
	EInvalid      = "invalid"
	ETooLarge     = "too_large"
	EUnauthorized = "unauthorized"
	EForbidden    = "forbidden"
	EConflict     = "conflict"
	ERateLimited  = "rate_limited"
	EInternal     = "internal"
)

// Error is an application error: its Code and Message are safe to show to the
// client. Anything that is not an *Error is internal and shown as "internal error".
type Error struct {
	Code    string
	Message string
	Fields  map[string]string // failing fields of a validation error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error in err's chain, or EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrNotFound is returned for anything missing, expired, erased or of another tenant.
var ErrNotFound = &Error{Code: ENotFound, Message: "not found"}
