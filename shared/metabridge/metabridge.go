// Package metabridge connects a tenant's Facebook Page (Messenger), Instagram
// account and WhatsApp business number to its inbox, both ways: the webhook
// of the three Meta products (signed with the app secret, routed by account
// id) stores contacts' messages through shared/ingest, WhatsApp's delivery
// statuses update our messages, and an agent's reply in such a conversation is
// sent through the Graph API by dispatch (Sender). It also connects and
// disconnects the accounts for the admin API, the access tokens encrypted with
// KMS under the tenant's context. The wire format is shared/meta's.
package metabridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ingest"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/tokencache"
)

// The secrets of the Meta app (deployment parameters, in Secrets Manager).
const (
	AppSecretName   = "META_APP_SECRET"
	VerifyTokenName = "META_VERIFY_TOKEN"
)

// ErrNotConfigured means the deployment has no Meta app secret.
var ErrNotConfigured = errors.New("meta is not configured")

// Store is what the bridge reads and writes (*store.Store).
type Store interface {
	ingest.Store
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	ChannelTenantOfAccount(ctx context.Context, channel, accountID string) (string, error)
	PutChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) error
	ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
	ChannelIntegrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error)
	DeleteChannelIntegration(ctx context.Context, tenantID, channel string) error
	MarkChannelIntegrationBroken(ctx context.Context, tenantID, channel, reason string) error
	TouchChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, at time.Time, p retention.Periods) error
	ChannelUser(ctx context.Context, tenantID, channel, account, user string) (*chat.ChannelUser, error)
	ContactChannelUser(ctx context.Context, tenantID, contactID, channel string) (*chat.ChannelUser, error)
	ProviderStatus(ctx context.Context, tenantID, contactID, channel, providerID, status, code string) (bool, error)
	BeginChannelSend(ctx context.Context, m *chat.Message, channel string, p retention.Periods) (*store.ChannelSend, error)
	RecordSentPart(ctx context.Context, m *chat.Message, channel string, n int, providerID string, p retention.Periods) error
	SetDelivery(ctx context.Context, m *chat.Message, status, code string) (bool, error)
}

// TokenCipher keeps access tokens encrypted, bound to their tenant
// (slackkms.Cipher: KMS with the encryption context {"tenantId": <id>}).
type TokenCipher = channel.TokenCipher

// Secrets gives the app's secrets by name (awsclients.Runtime.Secrets).
type Secrets interface {
	Get(name string) (string, error)
}

// Deps is what a bridge is built from.
type Deps struct {
	Store  Store
	Cipher TokenCipher
	// Secrets holds AppSecretName and VerifyTokenName (the webhook needs
	// them; senders and the admin API do not).
	Secrets Secrets
	// Graph is the Graph API client (its BaseURL points at a fake in tests).
	Graph *meta.Graph
	// Files keeps attachments (nil: the webhook stores messages without them).
	Files *attachment.Store
	Log   *slog.Logger
}

// Bridge is the Meta channels of every tenant.
type Bridge struct {
	Deps
	now     func() time.Time
	tenants *store.TenantCache
	tokens  tokencache.Cache // by tenantId/channel
	mu      sync.Mutex
	touched map[string]time.Time // tenantId/channel: last renewal of the integration's expiry
}

// New returns the bridge of d.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Graph == nil {
		d.Graph = &meta.Graph{}
	}
	return &Bridge{Deps: d, now: time.Now, tenants: store.NewTenantCache(d.Store, time.Minute),
		touched: map[string]time.Time{}}
}

// WithClock returns a copy of b that reads the time from now (tests).
func (b *Bridge) WithClock(now func() time.Time) *Bridge {
	c := New(b.Deps)
	c.now = now
	return c
}

// secret returns one of the app's secrets; a deployment without them is
// ErrNotConfigured.
func (b *Bridge) secret(name string) (string, error) {
	if b.Secrets == nil {
		return "", ErrNotConfigured
	}
	v, err := b.Secrets.Get(name)
	if err == nil && v == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrNotConfigured, name)
	}
	return v, err
}

// token returns the decrypted access token of a tenant's integration, kept
// for a few minutes by its ciphertext.
func (b *Bridge) token(ctx context.Context, in *chat.ChannelIntegration) (string, error) {
	tok, err := b.tokens.Get(ctx, in.TenantID+"/"+in.Channel, in.TokenEncrypted, b.now(), func(ctx context.Context) (string, error) {
		return b.Cipher.Decrypt(ctx, in.TenantID, in.TokenEncrypted)
	})
	if err != nil {
		return "", fmt.Errorf("decrypt %s token: %w", in.Channel, err)
	}
	return tok, nil
}

// touch renews the expiry of an integration in use, at most once a day per
// instance (personal data lives while the account uses it).
func (b *Bridge) touch(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) {
	k, now := in.TenantID+"/"+in.Channel, b.now()
	b.mu.Lock()
	last := b.touched[k]
	due := now.Sub(last) > 24*time.Hour
	if due {
		b.touched[k] = now
	}
	b.mu.Unlock()
	if due {
		if err := b.Store.TouchChannelIntegration(ctx, in, now, p); err != nil {
			b.Log.WarnContext(ctx, "renew integration expiry", "tenantId", in.TenantID, "channel", in.Channel, "error", err.Error())
		}
	}
}

// isMeta reports whether channel is one of the bridge's.
func isMeta(channel string) bool {
	for _, c := range meta.Channels {
		if c == channel {
			return true
		}
	}
	return false
}
