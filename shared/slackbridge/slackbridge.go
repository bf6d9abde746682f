// Package slackbridge lets a tenant's agents answer visitors from Slack threads:
// the OAuth install of the Slack app (token encrypted with KMS), the outbound
// delivery of visitor and bot messages into one thread per conversation (run by
// dispatch), the inbound Events API endpoint that turns a human thread reply into
// an agent message, uninstall, and the erase hook of privacy requests.
//
// Slack sends every event of the app to one URL and names only the workspace
// (team_id); the store resolves it to a tenant through a route item under the
// reserved pseudo-tenant "_slack" (see store/slack.go).
package slackbridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// Scopes are the bot scopes the app asks for at install. users:read is only
// for the user_change events that keep a replying agent's name current; no
// member list and no email is ever read (no users:read.email).
var Scopes = []string{"chat:write", "channels:history", "groups:history", "users:read", "incoming-webhook"}

// DefaultAuthorizeURL is Slack's OAuth v2 authorize page.
const DefaultAuthorizeURL = "https://slack.com/oauth/v2/authorize"

// Config holds the settings of the Slack app.
type Config struct {
	ClientID string
	// ClientSecret and SigningSecret are the app's secrets when they are
	// known up front (tests). A function passes Secrets instead, and the
	// bridge asks it for SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET on each
	// request that needs one.
	ClientSecret  string
	SigningSecret string
	Secrets       Secrets
	// KMSKeyID is the key of the production TokenCipher (slackkms).
	KMSKeyID string
	// PublicURL, when set, is the HTTP API's public base URL (PUBLIC_API_URL):
	// the OAuth callback is PublicURL + OAuthPath. When empty, the base is taken
	// from each request (apiurl.Base), which is right on the API's own domain and
	// on a custom domain mapped without a path.
	PublicURL string
	// ConsoleURL, when set, is where the thread header links a conversation
	// (ConsoleURL?conversation=<id>) and where the OAuth callback sends the admin.
	ConsoleURL string
	// APIURL is the Slack Web API base ending in "/" (default slack.APIURL).
	APIURL string
	// AuthorizeURL is Slack's authorize page (default DefaultAuthorizeURL).
	AuthorizeURL string
	HTTPClient   *http.Client
}

// ConfigFromEnv reads SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET
// and SLACK_KMS_KEY_ID, PUBLIC_API_URL, CONSOLE_URL, SLACK_API_URL and
// SLACK_AUTHORIZE_URL (the local stack's fake workspace sets both). Only the
// settings a function needs are required (awsclients.Env: the error names
// every missing one): pass their names in required (all four when nil). A
// function that reads the secrets per request (Config.Secrets) requires
// neither secret here.
func ConfigFromEnv(getenv func(string) string, required ...string) (Config, error) {
	if required == nil {
		required = []string{"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "SLACK_KMS_KEY_ID"}
	}
	if _, err := awsclients.Env(getenv, required...); err != nil {
		return Config{}, err
	}
	return Config{
		ClientID: getenv("SLACK_CLIENT_ID"), ClientSecret: getenv("SLACK_CLIENT_SECRET"),
		SigningSecret: getenv("SLACK_SIGNING_SECRET"), KMSKeyID: getenv("SLACK_KMS_KEY_ID"),
		PublicURL: getenv("PUBLIC_API_URL"), ConsoleURL: getenv("CONSOLE_URL"), APIURL: getenv("SLACK_API_URL"),
		AuthorizeURL: getenv("SLACK_AUTHORIZE_URL"),
	}, nil
}

// secret returns the app's secret of name (SLACK_CLIENT_SECRET or
// SLACK_SIGNING_SECRET): from Config.Secrets when set, else static.
func (b *Bridge) secret(name, static string) (string, error) {
	if b.cfg.Secrets == nil {
		return static, nil
	}
	v, err := b.cfg.Secrets.Get(name)
	if err == nil && v == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrNotConfigured, name)
	}
	return v, err
}

// ErrNotConfigured means the deployment has no Slack app secrets: the webhook
// answers as NotConfigured, the admin API as a deployment without Slack.
var ErrNotConfigured = errors.New("slack is not configured")

// Bridge is the Slack bridge of every tenant.
type Bridge struct {
	cfg     Config
	st      Store
	cipher  TokenCipher
	log     *slog.Logger
	now     func() time.Time
	tenants *store.TenantCache // retention periods, read once a warm minute
	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	sum [32]byte // of the ciphertext: a reinstall changes it
	api *slack.Client
	exp time.Time
}

// clientTTL bounds how long a decrypted token stays in a warm Lambda.
const clientTTL = 5 * time.Minute

// Deps is what a bridge is built from.
type Deps struct {
	Config Config
	// Store is the store (a *store.Store).
	Store Store
	// Cipher is the bot tokens' cipher: slackkms over KMS; nil where nothing
	// is installed or posted, as in the admin API.
	Cipher TokenCipher
	// Log is the bridge's logger (nil: discarded).
	Log *slog.Logger
}

// New returns the bridge of d.
func New(d Deps) *Bridge {
	cfg, st, c, log := d.Config, d.Store, d.Cipher, d.Log
	if cfg.APIURL == "" {
		cfg.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.AuthorizeURL == "" {
		cfg.AuthorizeURL = DefaultAuthorizeURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{cfg: cfg, st: st, cipher: c, log: log, now: time.Now, tenants: store.NewTenantCache(st, time.Minute),
		clients: map[string]cachedClient{}}
}

// WithClock returns a copy of b that reads the time from now (for tests). The
// copy shares nothing mutable with b.
func (b *Bridge) WithClock(now func() time.Time) *Bridge {
	return &Bridge{cfg: b.cfg, st: b.st, cipher: b.cipher, log: b.log, now: now, tenants: store.NewTenantCache(b.st, time.Minute),
		clients: map[string]cachedClient{}}
}

// api returns a Web API client with a token.
func (b *Bridge) api(token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(b.cfg.APIURL), slack.OptionHTTPClient(b.cfg.HTTPClient))
}

// errNotInstalled means the tenant has no Slack integration.
var errNotInstalled = errors.New("slack is not installed")

// client returns the tenant's integration and a Web API client with its token.
// A tenant without Slack is errNotInstalled.
func (b *Bridge) client(ctx context.Context, tenantID string) (*chat.SlackIntegration, *slack.Client, error) {
	in, err := b.st.SlackIntegration(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil, errNotInstalled
	}
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(in.TokenEncrypted)
	now := b.now()
	b.mu.Lock()
	c, ok := b.clients[tenantID]
	b.mu.Unlock()
	if ok && c.sum == sum && now.Before(c.exp) {
		return in, c.api, nil
	}
	token, err := b.cipher.Decrypt(ctx, tenantID, in.TokenEncrypted)
	if err != nil {
		return nil, nil, err
	}
	api := b.api(token)
	b.mu.Lock()
	b.clients[tenantID] = cachedClient{sum: sum, api: api, exp: now.Add(clientTTL)}
	b.mu.Unlock()
	return in, api, nil
}

func (b *Bridge) forget(tenantID string) {
	b.mu.Lock()
	delete(b.clients, tenantID)
	b.mu.Unlock()
}

// Uninstall removes a tenant's Slack integration: the encrypted token, the
// workspace route and the member items. Nothing installed is no error.
func (b *Bridge) Uninstall(ctx context.Context, tenantID string) error {
	b.forget(tenantID)
	if err := b.st.DeleteSlackIntegration(ctx, tenantID); err != nil {
		return fmt.Errorf("uninstall slack of %s: %w", tenantID, err)
	}
	return nil
}

// Integration describes a tenant's Slack integration without its secret, in
// the shape the admin API lists.
type Integration struct {
	Channel     string    `json:"channel"`
	TeamID      string    `json:"teamId"`
	TeamName    string    `json:"teamName,omitempty"`
	ChannelID   string    `json:"channelId"`
	ChannelName string    `json:"channelName,omitempty"`
	BotUserID   string    `json:"botUserId"`
	InstalledAt time.Time `json:"installedAt"`
}

// Describe returns the tenant's integration without its token; none is
// chat.ErrNotFound.
func (b *Bridge) Describe(ctx context.Context, tenantID string) (*Integration, error) {
	in, err := b.st.SlackIntegration(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &Integration{Channel: "slack", TeamID: in.TeamID, TeamName: in.TeamName, ChannelID: in.ChannelID,
		ChannelName: in.ChannelName, BotUserID: in.BotUserID, InstalledAt: in.InstalledAt}, nil
}
