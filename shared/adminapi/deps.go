package adminapi

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/legalhold"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// What the admin API needs of the data store, by concern; *store.Store is all
// of them (Store).

// Tenants reads, creates and changes tenants.
type Tenants interface {
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	PutTenant(ctx context.Context, t *chat.Tenant) error
	UpdateTenantSettings(ctx context.Context, tenantID string, u chat.TenantSettings) (*chat.Tenant, error)
	CloseTenant(ctx context.Context, tenantID string) error
	ReopenTenant(ctx context.Context, tenantID string) error
}

// APIKeys keeps tenants' API keys; lists page with the store's opaque cursors.
type APIKeys interface {
	PutAPIKey(ctx context.Context, k *chat.APIKey) error
	APIKey(ctx context.Context, tenantID, keyID string) (*chat.APIKey, error)
	APIKeys(ctx context.Context, tenantID string, limit int, cursor string) ([]chat.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, p retention.Periods) error
}

// AuditTrail writes and lists a tenant's audit events.
type AuditTrail interface {
	PutAuditEvent(ctx context.Context, e *chat.AuditEvent, p retention.Periods) error
	AuditEvents(ctx context.Context, tenantID string, limit int, cursor string) ([]chat.AuditEvent, string, error)
}

// Contacts reads, finds and corrects contacts.
type Contacts interface {
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	ContactsByEmail(ctx context.Context, tenantID, email string, limit int, cursor string) ([]chat.Contact, string, error)
	UpdateContactFields(ctx context.Context, tenantID, contactID string, f chat.ContactFields) (*chat.Contact, error)
}

// Conversations is the inbox: conversations, their history, agent replies.
type Conversations interface {
	Conversation(ctx context.Context, tenantID, convID string) (*chat.Conversation, error)
	ConversationOrArchived(ctx context.Context, tenantID, convID string) (*chat.Conversation, error)
	ConversationsByStatus(ctx context.Context, tenantID, status string, shards, limit int, cursor string) ([]chat.Conversation, string, error)
	SetConversationStatus(ctx context.Context, tenantID, convID, status string, shards int) (*chat.Conversation, error)
	SetInboxShards(ctx context.Context, tenantID string, n int) (*chat.Tenant, error)
	HistoryOrArchived(ctx context.Context, tenantID string, cv *chat.Conversation, before string, limit int) ([]*chat.Message, string, error)
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
	TouchConversation(ctx context.Context, tenantID, convID string, at, keepUntil time.Time, step time.Duration) (time.Time, error)
	AssignConversation(ctx context.Context, tenantID, convID, agentID string) (*chat.Conversation, error)
	// WithSummaries fills in the last message and unread count of a page of
	// conversations (one BatchGetItem); MarkConversationRead sets unread to 0.
	WithSummaries(ctx context.Context, tenantID string, cvs []chat.Conversation) error
	MarkConversationRead(ctx context.Context, tenantID, convID string) error
}

// Agents keeps the people who answer in the console: each is an API key that
// asked for an agent token, under the name it gave.
type Agents interface {
	PutAgent(ctx context.Context, tenantID, agentID, name string, p retention.Periods) error
	Agents(ctx context.Context, tenantID string) ([]chat.Agent, error)
	Agent(ctx context.Context, tenantID, agentID string) (*chat.Agent, error)
}

// Store is everything the admin API reads and writes.
type Store interface {
	Tenants
	APIKeys
	AuditTrail
	Contacts
	Conversations
	Agents
}

// RateLimiter counts a request of a subject against a limit
// (*ratelimit.Limiter): nil within it, a rate_limited error past it.
type RateLimiter interface {
	Take(ctx context.Context, tenantID, subject, bucket string, lim chat.RateLimit) error
}

// LegalHolds puts contacts and tenants on legal hold and lifts it
// (legalhold.Over(store)).
type LegalHolds interface {
	HoldContact(ctx context.Context, tenantID, contactID string) (*legalhold.Result, error)
	LiftContact(ctx context.Context, tenantID, contactID string) (*legalhold.Result, error)
	HoldTenant(ctx context.Context, tenantID string) (*legalhold.Result, error)
	LiftTenant(ctx context.Context, tenantID string) (*legalhold.Result, error)
}

// PrivacyRequests receives and shows privacy requests (*privacy.Service).
type PrivacyRequests interface {
	Create(ctx context.Context, tenant *chat.Tenant, actor privacy.Actor, in privacy.CreateInput) (*chat.PrivacyRequest, error)
	Get(ctx context.Context, tenant *chat.Tenant, actor privacy.Actor, id string) (*chat.PrivacyRequest, error)
	List(ctx context.Context, tenant *chat.Tenant, after string, limit int) ([]*chat.PrivacyRequest, string, error)
	UpdateSettings(ctx context.Context, tenant *chat.Tenant, actor privacy.Actor, in privacy.SettingsPatch) (privacy.Settings, error)
	Lift(ctx context.Context, tenant *chat.Tenant, actor privacy.Actor, in privacy.LiftInput) error
}

// AgentTokens gives the signer of agent tokens: a *visitortoken.Lazy that
// builds it from the visitor token secret on first use (the secret the
// WebSocket authorizer checks them with), or a *visitortoken.Signer.
type AgentTokens interface {
	Signer() (*visitortoken.Signer, error)
}

// Secrets gives a secret's value by name (awsclients' runtime secrets): the
// admin API reads the platform token through it on each request.
type Secrets interface {
	Get(name string) (string, error)
}

var (
	_ Store           = (*store.Store)(nil)
	_ LegalHolds      = legalhold.Holds{}
	_ PrivacyRequests = (*privacy.Service)(nil)
	_ AgentTokens     = (*visitortoken.Lazy)(nil)
)
