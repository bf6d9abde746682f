// Package botbridge lets a tenant's Dialogflow agent (ES or CX) answer
// visitors before people do, on every channel it is enabled for:
//
//   - connecting is Google's OAuth 2.0 authorisation-code flow, as Slack's
//     install: an install link from the admin API (GET
//     /v1/integrations/dialogflow/install with the agent's settings), a
//     signed, expiring, single-use state bound to the browser that started
//     it, and the callback (GET /webhooks/dialogflow/oauth) that exchanges
//     the code with offline access. Only the refresh token is kept,
//     encrypted with KMS under the tenant's context, with the settings as
//     plain values; everything else the exchange returns is dropped.
//   - answering runs in dispatch (destination "bot"): a visitor's message of
//     a conversation that is still the bot's, on an enabled channel, is
//     claimed (a marker, before the call: detectIntent is not idempotent),
//     sent to detectIntent with an access token that lives only in memory,
//     and the answers for the conversation's channel are stored as bot
//     messages, which dispatch delivers like any other;
//   - handing off: Dialogflow's signal (CX liveAgentHandoff, the ES payload
//     {"handoff": true}), a visitor asking for a person ("human", "agent" or
//     the tenant's phrases), any failure of Dialogflow, a revoked refresh
//     token or an agent's reply hand the conversation to people: the bot
//     stops answering it, and a system note in the conversation (the inbox,
//     the Slack thread) says why.
package botbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/tokencache"
)

// Channel is the integration's name; Destination its name among dispatch's
// outbound destinations.
const (
	Channel     = "dialogflow"
	Destination = "bot"
)

// BotChannels are the conversation channels the bot can be enabled for.
var BotChannels = []string{"widget", "messenger", "instagram", "whatsapp", "telegram", "line", "viber", "wechat", "x"}

// DefaultPhrases are the visitor's messages that hand a conversation to
// people, besides the tenant's own (compared without case and surrounding
// spaces and punctuation).
var DefaultPhrases = []string{"human", "agent"}

// Store is what the bridge reads and writes (*store.Store).
type Store interface {
	Tenant(ctx context.Context, tenantID string) (*chat.Tenant, error)
	Now() time.Time
	PutChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) error
	ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error)
	DeleteChannelIntegration(ctx context.Context, tenantID, channel string) error
	ChannelIntegrationsOf(ctx context.Context, tenantID, channel string) ([]*chat.ChannelIntegration, error)
	MarkChannelIntegrationBroken(ctx context.Context, tenantID, channel, reason string) error
	ClaimOAuthState(ctx context.Context, tenantID, channel, nonce string, stateExpiry time.Time, p retention.Periods) (bool, error)
	BotState(ctx context.Context, tenantID, convID string) (*chat.BotState, error)
	HandToPeople(ctx context.Context, tenantID, convID, reason string, at time.Time, p retention.Periods) (bool, error)
	ClaimBotQuery(ctx context.Context, tenantID, convID, messageID string, at time.Time, p retention.Periods) (bool, string, time.Time, error)
	AnswerBotQuery(ctx context.Context, tenantID, convID, messageID string) error
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
	TouchConversation(ctx context.Context, tenantID, convID string, at, keepUntil time.Time, step time.Duration) (time.Time, error)
}

// TokenCipher keeps the refresh token encrypted, bound to its tenant (slackkms).
type TokenCipher = channel.TokenCipher

// Secrets gives the Google OAuth client's secret by name
// (GOOGLE_CLIENT_SECRET), from the cold start's background fetch.
type Secrets interface {
	Get(name string) (string, error)
}

// Config is the deployment's Google OAuth client and where Google is.
type Config struct {
	ClientID string
	// ClientSecret is the client's secret when known up front (tests); a
	// function passes Secrets instead.
	ClientSecret string
	Secrets      Secrets
	// Endpoint is Google's OAuth endpoint (dialogflow.GoogleEndpoint; a
	// fake in tests and the local stack).
	Endpoint oauth2.Endpoint
	// PublicURL, when set, is the HTTP API's public base URL: the callback
	// is PublicURL + OAuthPath; else the request's own (apiurl.Base).
	PublicURL string
	// ConsoleURL, when set, is where the callback sends the owner.
	ConsoleURL string
}

// ConfigFromEnv reads GOOGLE_CLIENT_ID, GOOGLE_CONSENT_URL, GOOGLE_EXCHANGE_URL
// (unset: Google's), PUBLIC_API_URL and CONSOLE_URL; the client secret comes
// from secrets (GOOGLE_CLIENT_SECRET, of the GOOGLE_APP_SECRETS bundle). ok
// is false when the deployment has no client id: the bot is not offered.
func ConfigFromEnv(getenv func(string) string, secrets Secrets) (cfg Config, ok bool) {
	cfg = Config{ClientID: getenv("GOOGLE_CLIENT_ID"), Secrets: secrets, Endpoint: dialogflow.GoogleEndpoint,
		PublicURL: getenv("PUBLIC_API_URL"), ConsoleURL: getenv("CONSOLE_URL")}
	if u := getenv("GOOGLE_CONSENT_URL"); u != "" {
		cfg.Endpoint.AuthURL = u
	}
	if u := getenv("GOOGLE_EXCHANGE_URL"); u != "" {
		cfg.Endpoint.TokenURL = u
	}
	return cfg, cfg.ClientID != ""
}

// ErrNotConfigured means the deployment has no Google OAuth client.
var ErrNotConfigured = errors.New("dialogflow is not configured")

// Deps is what a bridge is built from.
type Deps struct {
	Config Config
	Store  Store
	Cipher TokenCipher
	// Dialogflow calls detectIntent (its BaseURL: a fake in tests).
	Dialogflow *dialogflow.Client
	Log        *slog.Logger
}

// Bridge is the bot of every tenant.
type Bridge struct {
	Deps
	now     func() time.Time
	tenants *store.TenantCache
	creds   tokencache.Cache // the decrypted refresh token, by tenant
	mu      sync.Mutex
	sources map[string]source // access tokens in memory, by tenant
	has     *store.IntegrationCache
}

// source is a tenant's in-memory access tokens, for the refresh token of
// one ciphertext.
type source struct {
	blob string
	ts   oauth2.TokenSource
}

// New returns the bridge of d.
func New(d Deps) *Bridge {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Dialogflow == nil {
		d.Dialogflow = &dialogflow.Client{}
	}
	return &Bridge{Deps: d, now: time.Now, tenants: store.NewTenantCache(d.Store, time.Minute), sources: map[string]source{},
		has: store.NewIntegrationCache(d.Store, Channel, time.Minute)}
}

// WithClock returns a copy of b that reads the time from now (tests).
func (b *Bridge) WithClock(now func() time.Time) *Bridge {
	c := New(b.Deps)
	c.now = now
	return c
}

// secret is the OAuth client's secret (ErrNotConfigured without one).
func (b *Bridge) secret() (string, error) {
	if b.Config.ClientID == "" {
		return "", ErrNotConfigured
	}
	if b.Config.Secrets == nil {
		if b.Config.ClientSecret == "" {
			return "", ErrNotConfigured
		}
		return b.Config.ClientSecret, nil
	}
	v, err := b.Config.Secrets.Get("GOOGLE_CLIENT_SECRET")
	if err == nil && v == "" {
		return "", fmt.Errorf("%w: GOOGLE_CLIENT_SECRET is empty", ErrNotConfigured)
	}
	return v, err
}

// Channels is the one integration of the bridge.
func (b *Bridge) Channels() []string { return []string{Channel} }

// Connect refuses: Dialogflow is connected through Google's consent (the
// install link), never with a token given to the API.
func (b *Bridge) Connect(context.Context, *chat.Tenant, string, chat.ChannelConnect) (*chat.ChannelIntegration, error) {
	return nil, chat.Errorf(chat.EConflict, "connect Dialogflow through GET /v1/integrations/dialogflow/install: Google's consent gives the refresh token")
}

// Disconnect removes the integration (the refresh token and settings);
// conversations stay as they are.
func (b *Bridge) Disconnect(ctx context.Context, tenantID, ch string) error {
	if ch != Channel {
		return chat.ErrNotFound
	}
	b.forget(tenantID)
	return b.Store.DeleteChannelIntegration(ctx, tenantID, Channel)
}

// Integrations lists the tenant's Dialogflow integration, if any: its
// settings and whether it is broken, never the token.
func (b *Bridge) Integrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error) {
	return b.Store.ChannelIntegrationsOf(ctx, tenantID, Channel)
}

// forget drops what the instance keeps of a tenant's integration.
func (b *Bridge) forget(tenantID string) {
	b.creds.Forget(tenantID)
	b.has.Forget(tenantID)
	b.mu.Lock()
	delete(b.sources, tenantID)
	b.mu.Unlock()
}

// settingsOf reads an integration's settings.
func settingsOf(in *chat.ChannelIntegration) (dialogflow.Settings, []string, []string) {
	m := in.Settings
	s := dialogflow.Settings{Edition: m["edition"], Project: m["project"], Location: m["location"], Agent: m["agent"],
		Environment: m["environment"], Language: m["language"]}
	return s, splitList(m["channels"]), splitList(m["phrases"])
}

// settingsMap is the plain settings an integration keeps.
func settingsMap(s dialogflow.Settings, channels, phrases []string) map[string]string {
	m := map[string]string{"edition": s.Edition, "project": s.Project, "location": s.Location, "language": s.Language,
		"channels": strings.Join(channels, ",")}
	if s.Agent != "" {
		m["agent"] = s.Agent
	}
	if s.Environment != "" {
		m["environment"] = s.Environment
	}
	if len(phrases) > 0 {
		m["phrases"] = strings.Join(phrases, ",")
	}
	return m
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
