package slackbridge

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Store is what the bridge reads and writes; *store.Store is one. The Slack
// records' layout is the store's (store/slack.go).
type Store interface {
	SlackStore
	// Now is the store's clock; Tenant reads a tenant (chat.ErrNotFound if
	// gone). Both feed the bridge's tenant cache.
	Now() time.Time
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	// PutMessage stores a message once per ClientMessageID (an agent's reply,
	// "slack:<event_id>"); Contact and LastPagePath feed a thread's header.
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	LastPagePath(ctx context.Context, tenantID, contactID string) (string, error)
}

// SlackStore is the store of the bridge's own records: installations and their
// workspace routes, the member items of agents who replied (display name
// only), used OAuth states, threads and posts.
// Missing records are chat.ErrNotFound.
type SlackStore interface {
	PutSlackIntegration(ctx context.Context, in *chat.SlackIntegration, p retention.Periods) error
	SlackIntegration(ctx context.Context, tenantID string) (*chat.SlackIntegration, error)
	TouchSlackIntegration(ctx context.Context, in *chat.SlackIntegration, at time.Time, p retention.Periods) error
	DeleteSlackIntegration(ctx context.Context, tenantID string) error
	SlackTenantOfTeam(ctx context.Context, teamID string) (string, error)
	ClaimSlackState(ctx context.Context, tenantID, nonce string, stateExpiry time.Time, p retention.Periods) (bool, error)

	SlackMember(ctx context.Context, tenantID, teamID, userID string) (*chat.SlackMember, error)
	PutSlackMember(ctx context.Context, tenantID string, m *chat.SlackMember, at time.Time, p retention.Periods) error
	RenameSlackMember(ctx context.Context, tenantID, teamID, userID, displayName string) (bool, error)
	DeleteSlackMember(ctx context.Context, tenantID, teamID, userID string) error

	SlackThread(ctx context.Context, tenantID, convID string) (*chat.SlackThread, error)
	SlackThreadByTS(ctx context.Context, tenantID, teamID, channelID, threadTS string) (*chat.SlackThread, error)
	PutSlackThread(ctx context.Context, th *chat.SlackThread, at time.Time, p retention.Periods) (*chat.SlackThread, bool, error)
	DeleteSlackThread(ctx context.Context, th *chat.SlackThread) error

	SlackPost(ctx context.Context, tenantID, convID, messageID string) (*chat.SlackPost, error)
	BeginSlackPost(ctx context.Context, tenantID, convID string, sp *chat.SlackPost, at time.Time, p retention.Periods) (*chat.SlackPost, bool, error)
	FinishSlackPost(ctx context.Context, tenantID, convID, messageID, ts string) (bool, error)
	DeleteSlackPost(ctx context.Context, tenantID, convID, messageID string) error
	SlackItemsOfContact(ctx context.Context, tenantID, contactID string) ([]chat.SlackConversationItems, error)
}

// TokenCipher keeps bot tokens encrypted at rest, bound to their tenant: the
// ciphertext of one tenant does not decrypt for another. Production uses KMS
// (shared/slackbridge/slackkms, linked only by the functions that post to
// Slack); the admin API installs nothing and passes none. Errors never carry
// the token.
type TokenCipher = channel.TokenCipher

// Secrets gives the Slack app's secrets by name (SLACK_CLIENT_SECRET,
// SLACK_SIGNING_SECRET) when they are needed: awsclients.Runtime.Secrets,
// which waits for the cold start's one background fetch the first time.
type Secrets interface {
	Get(name string) (string, error)
}
