// Package zendeskbridge hands conversations to a tenant's Zendesk Support
// and brings the desk's answers back:
//
//   - connecting (PUT /v1/integrations/zendesk): the subdomain, an agent's
//     email and API token and the signing secret of the tenant's Zendesk
//     webhook; the token is checked with Zendesk (users/me) and the
//     credentials are stored encrypted with KMS under the tenant's context;
//     the webhook's URL is /webhooks/zendesk/<webhook id>, kept across
//     reconnects of the same subdomain so the webhook need not change;
//   - the handoff (POST /v1/conversations/{id}/handoff, or the bot): a ticket
//     with the transcript so far, created once per conversation (Zendesk's
//     Idempotency-Key, then a conditional record in the conversation);
//   - the webhook: Zendesk's ticket comment events, verified (HMAC over the
//     timestamp and the body, fresh within minutes) before they are read; a
//     public comment of a Zendesk agent becomes an agent message of the
//     conversation, once per comment, which dispatch delivers on the
//     conversation's own channel; a redelivery (the same invocation id)
//     stores nothing more;
//   - the contact's later messages (dispatch's destination "zendesk") are
//     added to the ticket as the requester's public comments, once each.
//     Neither they nor the transcript come back: the webhook takes only
//     comments of Zendesk staff other than the integration's own user.
package zendeskbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/outbox"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/tokencache"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// Channel is the integration's name, and Destination its name among
// dispatch's outbound destinations.
const (
	Channel     = "zendesk"
	Destination = "zendesk"
)

// Store is what the bridge reads and writes (*store.Store).
type Store interface {
	outbox.Store
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	Now() time.Time
	ChannelOfWebhook(ctx context.Context, webhookID string) (tenantID, channel string, err error)
	ChannelTenantOfAccount(ctx context.Context, channel, accountID string) (string, error)
	PutChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) error
	ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
	DeleteChannelIntegration(ctx context.Context, tenantID, channel string) error
	ChannelIntegrationsOf(ctx context.Context, tenantID, channel string) ([]*chat.ChannelIntegration, error)
	Conversation(ctx context.Context, tenantID, convID string) (*chat.Conversation, error)
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	History(ctx context.Context, tenantID, convID, before string, limit int) ([]*chat.Message, string, error)
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
	TouchConversation(ctx context.Context, tenantID, convID string, at, keepUntil time.Time, step time.Duration) (time.Time, error)
	PutHandoff(ctx context.Context, h *chat.Handoff, p retention.Periods) (*chat.Handoff, bool, error)
	Handoff(ctx context.Context, tenantID, convID, desk string) (*chat.Handoff, error)
	ClaimInbound(ctx context.Context, tenantID, contactID, dedupeKey, convID string, p retention.Periods) (string, error)
	InboundConversation(ctx context.Context, tenantID, contactID, dedupeKey string) (string, bool, error)
}

// TokenCipher keeps credentials encrypted, bound to their tenant (slackkms).
type TokenCipher = channel.TokenCipher

// Deps is what a bridge is built from.
type Deps struct {
	Store  Store
	Cipher TokenCipher
	// BaseURL, when set, is where every subdomain's API is reached (a fake
	// Zendesk in tests and the local stack); unset: https://<subdomain>.zendesk.com.
	BaseURL string
	Log     *slog.Logger
}

// Bridge is the Zendesk handoff of every tenant.
type Bridge struct {
	Deps
	now     func() time.Time
	tenants *store.TenantCache
	creds   tokencache.Cache        // by tenant id
	has     *store.IntegrationCache // whether a tenant connected Zendesk
}

// New returns the bridge of d.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{Deps: d, now: time.Now, tenants: store.NewTenantCache(d.Store, time.Minute),
		has: store.NewIntegrationCache(d.Store, Channel, time.Minute)}
}

// WithClock returns a copy of b that reads the time from now (tests).
func (b *Bridge) WithClock(now func() time.Time) *Bridge {
	c := New(b.Deps)
	c.now = now
	return c
}

// credentials are what the integration keeps encrypted: the agent's email
// and API token, the webhook's signing secret, and the agent's Zendesk user
// id (its comments are ours: the webhook skips them).
type credentials struct {
	Email         string `json:"email"`
	APIToken      string `json:"apiToken"`
	WebhookSecret string `json:"webhookSecret"`
	UserID        string `json:"userId"`
}

var subdomainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Channels is the one integration of the bridge.
func (b *Bridge) Channels() []string { return []string{Channel} }

// Connect checks a tenant's Zendesk credentials (an agent or admin of the
// subdomain) and stores the integration. Bad input names its fields and
// stores nothing; a token Zendesk refuses is invalid; a subdomain another
// tenant connected is a conflict. Reconnecting the same subdomain keeps the
// webhook URL.
func (b *Bridge) Connect(ctx context.Context, t *chat.Tenant, ch string, c chat.ChannelConnect) (*chat.ChannelIntegration, error) {
	if ch != Channel {
		return nil, chat.ErrNotFound
	}
	sub := strings.ToLower(strings.TrimSpace(c.Subdomain))
	cr := credentials{Email: strings.TrimSpace(c.Email), APIToken: strings.TrimSpace(c.APIToken), WebhookSecret: strings.TrimSpace(c.WebhookSecret)}
	issues := map[string]string{}
	if !subdomainRE.MatchString(sub) {
		issues["subdomain"] = "must be the Zendesk subdomain: the <name> of <name>.zendesk.com"
	}
	if a, err := mail.ParseAddress(cr.Email); err != nil || a.Address != cr.Email || len(cr.Email) > 254 {
		issues["email"] = "must be the email address of a Zendesk agent"
	}
	if n := len(cr.APIToken); n < 20 || n > 200 || strings.ContainsAny(cr.APIToken, " \t\r\n") {
		issues["apiToken"] = "is required: a Zendesk API token, without spaces"
	}
	if n := len(cr.WebhookSecret); n < 16 || n > 200 || strings.ContainsAny(cr.WebhookSecret, " \t\r\n") {
		issues["webhookSecret"] = "is required: the signing secret of the Zendesk webhook"
	}
	for f, v := range map[string]string{"accountId": c.AccountID, "accessToken": c.AccessToken, "botToken": c.BotToken,
		"channelSecret": c.ChannelSecret, "authToken": c.AuthToken, "senderName": c.SenderName, "appId": c.AppID,
		"appSecret": c.AppSecret, "token": c.Token, "encodingAesKey": c.EncodingAESKey, "consumerKey": c.ConsumerKey,
		"consumerSecret": c.ConsumerSecret, "clientId": c.ClientID, "clientSecret": c.ClientSecret, "refreshToken": c.RefreshToken} {
		if v != "" {
			issues[f] = "does not apply to zendesk"
		}
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the integration is invalid", Fields: issues}
	}
	if c.WebhookBase == "" {
		return nil, errors.New("connect: the API's public URL is unknown")
	}
	me, err := b.client(sub, cr).Me(ctx)
	if errors.Is(err, zendesk.ErrRefused) {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "Zendesk refused the credentials", Fields: map[string]string{"apiToken": "was refused by Zendesk (or is not an agent's)"}}
	}
	if err != nil {
		return nil, err
	}
	cr.UserID = me.ID
	if owner, err := b.Store.ChannelTenantOfAccount(ctx, Channel, sub); err == nil && owner != t.ID {
		return nil, store.ErrAccountTaken
	} else if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return nil, err
	}
	webhookID := ids.Secret(32)
	if prev, err := b.Store.ChannelIntegration(ctx, t.ID, Channel); err == nil && prev.AccountID == sub {
		webhookID = prev.WebhookID
	} else if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return nil, err
	}
	raw, _ := json.Marshal(cr)
	blob, err := b.Cipher.Encrypt(ctx, t.ID, string(raw))
	if err != nil {
		return nil, err
	}
	in := &chat.ChannelIntegration{TenantID: t.ID, Channel: Channel, AccountID: sub, AccountName: me.Name, WebhookID: webhookID,
		WebhookURL: c.WebhookBase + "/webhooks/zendesk/" + webhookID, TokenEncrypted: blob, InstalledAt: b.now().UTC()}
	if err := b.Store.PutChannelIntegration(ctx, in, t.Periods()); err != nil {
		return nil, err
	}
	b.creds.Forget(t.ID)
	b.has.Forget(t.ID)
	return in, nil
}

// Disconnect removes the integration (handoffs and tickets stay).
func (b *Bridge) Disconnect(ctx context.Context, tenantID, ch string) error {
	if ch != Channel {
		return chat.ErrNotFound
	}
	b.creds.Forget(tenantID)
	b.has.Forget(tenantID)
	return b.Store.DeleteChannelIntegration(ctx, tenantID, Channel)
}

// Integrations lists the tenant's Zendesk integration, if any.
func (b *Bridge) Integrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error) {
	return b.Store.ChannelIntegrationsOf(ctx, tenantID, Channel)
}

// integration reads the tenant's integration and its credentials.
func (b *Bridge) integration(ctx context.Context, tenantID string) (*chat.ChannelIntegration, credentials, error) {
	in, err := b.Store.ChannelIntegration(ctx, tenantID, Channel)
	if err != nil {
		return nil, credentials{}, err
	}
	raw, err := b.creds.Get(ctx, tenantID, in.TokenEncrypted, b.now(), func(ctx context.Context) (string, error) {
		return b.Cipher.Decrypt(ctx, tenantID, in.TokenEncrypted)
	})
	if err != nil {
		return nil, credentials{}, fmt.Errorf("decrypt zendesk credentials: %w", err)
	}
	var cr credentials
	if err := json.Unmarshal([]byte(raw), &cr); err != nil {
		return nil, credentials{}, errors.New("decode zendesk credentials: not the stored shape")
	}
	return in, cr, nil
}

// client is the Zendesk API of a subdomain with the agent's credentials.
func (b *Bridge) client(sub string, cr credentials) *zendesk.Client {
	return &zendesk.Client{Subdomain: sub, Email: cr.Email, APIToken: cr.APIToken, BaseURL: b.BaseURL}
}
