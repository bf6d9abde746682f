package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/botbridge"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/slackbridge"
)

// Audit actions of the integration routes.
const (
	ActIntegrationInstall = "integration.install"
	ActIntegrationDelete  = "integration.delete"
)

// SlackIntegrations is what the admin API needs of the Slack bridge
// (slackbridge.Bridge): the install link with the Set-Cookie value that binds
// it to the browser (an error wrapping slackbridge.ErrNotConfigured when the
// deployment has no Slack app secret), a description of the installation
// without its secret, and uninstalling.
type SlackIntegrations interface {
	InstallLink(tenantID string, rc events.APIGatewayV2HTTPRequestContext) (url, setCookie string, err error)
	Describe(ctx context.Context, tenantID string) (*IntegrationView, error)
	Uninstall(ctx context.Context, tenantID string) error
}

// IntegrationView is one integration as the API lists it. Secrets are
// write-only: no view carries a token.
type IntegrationView struct {
	Channel     string `json:"channel"`
	TeamID      string `json:"teamId,omitempty"`
	TeamName    string `json:"teamName,omitempty"`
	ChannelID   string `json:"channelId,omitempty"`
	ChannelName string `json:"channelName,omitempty"`
	BotUserID   string `json:"botUserId,omitempty"`
	// A messaging channel's account (Messenger, Instagram, WhatsApp).
	AccountID   string `json:"accountId,omitempty"`
	AccountName string `json:"accountName,omitempty"`
	BusinessID  string `json:"businessId,omitempty"`
	HumanAgent  bool   `json:"humanAgent,omitempty"`
	// WebhookURL is where the provider posts (Telegram, LINE, Viber).
	WebhookURL string `json:"webhookUrl,omitempty"`
	// Broken says why the integration stopped working (connect it again).
	Broken      string    `json:"broken,omitempty"`
	InstalledAt time.Time `json:"installedAt"`
	// Settings are the plain settings of the Dialogflow agent.
	Settings map[string]string `json:"settings,omitempty"`
}

func (a *API) integrationRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/v1/integrations", Role: RoleOwner, Handle: a.listIntegrations},
		{Method: http.MethodGet, Pattern: "/v1/integrations/slack/install", Role: RoleOwner, Handle: a.installSlack},
		{Method: http.MethodDelete, Pattern: "/v1/integrations/slack", Role: RoleOwner, Handle: a.deleteSlack},
		{Method: http.MethodGet, Pattern: "/v1/integrations/dialogflow/install", Role: RoleOwner, Handle: a.installDialogflow},
	}
}

// BotInstalls starts the install of a tenant's Dialogflow agent
// (botbridge.Bridge): Google's consent URL with a signed state carrying the
// settings, and the Set-Cookie value that binds it to the browser
// (botbridge.ErrNotConfigured when the deployment has no Google client).
type BotInstalls interface {
	InstallLink(tenantID string, in botbridge.Install, rc events.APIGatewayV2HTTPRequestContext) (consentURL, setCookie string, err error)
}

var errBotNotConfigured = chat.Errorf(chat.ENotFound, "Dialogflow is not configured for this deployment")

// installDialogflow starts connecting the tenant's Dialogflow agent: its
// settings (edition, project, location, agent, environment, language), the
// channels the bot answers and extra handoff phrases are checked (400 naming
// them), then the answer redirects to Google's consent (or, with
// redirect=false, gives its url), as installSlack does.
func (a *API) installDialogflow(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "redirect", "edition", "project", "location", "agent", "environment", "language", "channels", "phrases"); err != nil {
		return nil, err
	}
	redirect, err := installRedirect(r)
	if err != nil {
		return nil, err
	}
	in, issues := botbridge.ParseInstall(r.Query)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the Dialogflow settings are invalid", Fields: issues}
	}
	if a.bot == nil {
		return nil, errBotNotConfigured
	}
	u, cookie, err := a.bot.InstallLink(r.Principal.TenantID, in, r.APIContext)
	if errors.Is(err, botbridge.ErrNotConfigured) {
		return nil, errBotNotConfigured
	}
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActIntegrationInstall, map[string]string{"channel": "dialogflow", "project": in.Settings.Project}); err != nil {
		return nil, err
	}
	return installAnswer(redirect, u, cookie), nil
}

// installRedirect reads an install route's redirect parameter: true (the
// default) answers with a redirect to the provider's consent page, false
// with its url, for a script that cannot read a redirect's target.
func installRedirect(r *Request) (bool, error) {
	switch r.Query.Get("redirect") {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fieldError("redirect", "must be true or false")
}

// installAnswer is an install route's answer: the consent page's url, with
// the browser's binding cookie, as a 302 to it or a 200.
func installAnswer(redirect bool, url, cookie string) *Response {
	res := &Response{Status: http.StatusOK, Headers: map[string]string{"Set-Cookie": cookie}, Body: map[string]string{"url": url}}
	if redirect {
		res.Status, res.Headers["Location"] = http.StatusFound, url
	}
	return res
}

var errSlackNotConfigured = chat.Errorf(chat.ENotFound, "Slack is not configured for this deployment")

// listIntegrations lists the tenant's integrations, without secrets.
func (a *API) listIntegrations(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	items := []IntegrationView{}
	if a.slack != nil {
		in, err := a.slack.Describe(ctx, r.Principal.TenantID)
		if err != nil && !errors.Is(err, chat.ErrNotFound) {
			return nil, err
		}
		if in != nil {
			items = append(items, *in)
		}
	}
	chans, err := a.channelIntegrations(ctx, r.Principal.TenantID)
	if err != nil {
		return nil, err
	}
	items = append(items, chans...)
	return JSON(http.StatusOK, List[IntegrationView]{Items: items}), nil
}

// installSlack starts the Slack app's OAuth install for the caller's tenant: a
// redirect to Slack's authorize page with a signed, expiring state naming the
// tenant (the body carries the same URL for clients that do not follow it), and
// the install cookie: the callback completes the install only in the browser
// that got this answer. A browser page calls it with the owner key by fetch
// (same site as the API, so the cookie is kept), with redirect=false to get a
// 200 whose url it then opens: a script cannot read a redirect's target.
func (a *API) installSlack(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "redirect"); err != nil {
		return nil, err
	}
	redirect, err := installRedirect(r)
	if err != nil {
		return nil, err
	}
	if a.slack == nil {
		return nil, errSlackNotConfigured
	}
	u, cookie, err := a.slack.InstallLink(r.Principal.TenantID, r.APIContext)
	if errors.Is(err, slackbridge.ErrNotConfigured) {
		return nil, errSlackNotConfigured
	}
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActIntegrationInstall, map[string]string{"channel": "slack"}); err != nil {
		return nil, err
	}
	return installAnswer(redirect, u, cookie), nil
}

// deleteSlack uninstalls Slack: the encrypted token, the workspace route and the
// agents' display names go. Nothing installed is no error.
func (a *API) deleteSlack(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	if a.slack == nil {
		return NoContent(), nil
	}
	if err := a.slack.Uninstall(ctx, r.Principal.TenantID); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActIntegrationDelete, map[string]string{"channel": "slack"}); err != nil {
		return nil, err
	}
	return NoContent(), nil
}

// SlackBridge adapts the Slack bridge to SlackIntegrations.
func SlackBridge(b *slackbridge.Bridge) SlackIntegrations { return slackAdapter{b} }

type slackAdapter struct{ b *slackbridge.Bridge }

func (s slackAdapter) InstallLink(tenantID string, rc events.APIGatewayV2HTTPRequestContext) (string, string, error) {
	return s.b.InstallLink(tenantID, rc)
}

func (s slackAdapter) Uninstall(ctx context.Context, tenantID string) error {
	return s.b.Uninstall(ctx, tenantID)
}

func (s slackAdapter) Describe(ctx context.Context, tenantID string) (*IntegrationView, error) {
	in, err := s.b.Describe(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &IntegrationView{Channel: "slack", TeamID: in.TeamID, TeamName: in.TeamName, ChannelID: in.ChannelID,
		ChannelName: in.ChannelName, BotUserID: in.BotUserID, InstalledAt: in.InstalledAt}, nil
}
