// Package chanbridge connects the messaging channels whose credentials belong
// to the tenant (Telegram, LINE, Viber) to its inbox, both ways. Each channel
// is a Provider (shared/telegram, shared/line, shared/viber: the wire format);
// the bridge does the rest the same way for all of them:
//
//   - connecting: the owner's credentials are checked with the provider, the
//     webhook is registered at /webhooks/<channel>/<webhook id> (an
//     unguessable id per integration), and the credentials are stored
//     encrypted with KMS under the tenant's context;
//   - the webhook: the id names the tenant; the request is verified with the
//     tenant's secret before anything is parsed; messages go into the inbox
//     through shared/ingest (one per provider event id, files copied to S3);
//     statuses, (un)subscriptions and LINE reply tokens are recorded;
//   - sending (dispatch's destination "bots"): agents' and bots' messages go
//     out part by part through shared/outbox, once each.
package chanbridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ingest"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/tokencache"
)

// Destination is the name of the bridge's sends among dispatch's outbound
// destinations (their parked deliveries).
const Destination = "bots"

// WebhookPrefix is where the providers post: WebhookPrefix + <channel> + "/" + <webhook id>.
const WebhookPrefix = "/webhooks/"

// Store is what the bridge reads and writes (*store.Store).
type Store interface {
	ingest.Store
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	ChannelOfWebhook(ctx context.Context, webhookID string) (tenantID, channel string, err error)
	ChannelTenantOfAccount(ctx context.Context, channel, accountID string) (string, error)
	PutChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) error
	ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
	ChannelIntegrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error)
	DeleteChannelIntegration(ctx context.Context, tenantID, channel string) error
	MarkChannelIntegrationBroken(ctx context.Context, tenantID, channel, reason string) error
	ChannelUser(ctx context.Context, tenantID, channel, account, user string) (*chat.ChannelUser, error)
	ContactChannelUser(ctx context.Context, tenantID, contactID, channel string) (*chat.ChannelUser, error)
	SetChannelUserSubscribed(ctx context.Context, tenantID, channel, account, user string, subscribed bool) error
	TakeReplyToken(ctx context.Context, tenantID string, u *chat.ChannelUser, token string) (bool, error)
	ProviderStatus(ctx context.Context, tenantID, contactID, channel, providerID, status, code string) (bool, error)
	BeginChannelSend(ctx context.Context, m *chat.Message, channel string, p retention.Periods) (*store.ChannelSend, error)
	RecordSentPart(ctx context.Context, m *chat.Message, channel string, n int, providerID string, p retention.Periods) error
	SetDelivery(ctx context.Context, m *chat.Message, status, code string) (bool, error)
	ClaimQuotaSend(ctx context.Context, tenantID string, u *chat.ChannelUser, part string, max int) (bool, error)
	// The shared access tokens of Refresher providers (token.go).
	ChannelTokenOf(ctx context.Context, tenantID, channel string) (*store.ChannelToken, error)
	LeaseChannelToken(ctx context.Context, tenantID, channel, owner string, now, until time.Time) (bool, error)
	PutChannelToken(ctx context.Context, tenantID, channel, owner string, t store.ChannelToken, now time.Time, p retention.Periods) error
	ReleaseChannelToken(ctx context.Context, tenantID, channel, owner string) error
}

// TokenCipher keeps credentials encrypted, bound to their tenant (slackkms).
type TokenCipher = channel.TokenCipher

// Deps is what a bridge is built from.
type Deps struct {
	Store  Store
	Cipher TokenCipher
	// Providers are the channels, by name ("telegram", "line", "viber").
	Providers map[string]Provider
	// Files keeps attachments (nil: messages are stored without them).
	Files *attachment.Store
	Log   *slog.Logger
}

// Bridge is the tenant-credential channels of every tenant.
type Bridge struct {
	Deps
	now     func() time.Time
	tenants *store.TenantCache
	creds   tokencache.Cache // by tenantId/channel
	tokens  tokens           // access tokens of Refresher providers
}

// New returns the bridge of d.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{Deps: d, now: time.Now, tenants: store.NewTenantCache(d.Store, time.Minute)}
}

// WithClock returns a copy of b that reads the time from now (tests).
func (b *Bridge) WithClock(now func() time.Time) *Bridge {
	c := New(b.Deps)
	c.now = now
	return c
}

// Channels are the bridge's channel names, sorted.
func (b *Bridge) Channels() []string {
	out := make([]string, 0, len(b.Providers))
	for name := range b.Providers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// credentials decrypts an integration's credentials (kept a few minutes by
// their ciphertext).
func (b *Bridge) credentials(ctx context.Context, in *chat.ChannelIntegration) (Credentials, error) {
	raw, err := b.creds.Get(ctx, in.TenantID+"/"+in.Channel, in.TokenEncrypted, b.now(), func(ctx context.Context) (string, error) {
		return b.Cipher.Decrypt(ctx, in.TenantID, in.TokenEncrypted)
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("decrypt %s credentials: %w", in.Channel, err)
	}
	var c Credentials
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Credentials{}, errors.New("decode credentials: not the stored shape")
	}
	return c, nil
}

// newSecret is a random webhook secret of Telegram's alphabet (A-Z a-z 0-9 _ -).
func newSecret(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
