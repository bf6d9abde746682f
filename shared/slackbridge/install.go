package slackbridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"

	"github.com/livesupportbot/backend/shared/apiurl"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// StateTTL is how long an install link stays valid.
const StateTTL = 10 * time.Minute

// stateKey derives the key that signs OAuth states from the client secret, so
// no further secret is needed and the key is never the secret itself.
func (b *Bridge) stateKey() []byte {
	h := hmac.New(sha256.New, []byte(b.cfg.ClientSecret))
	h.Write([]byte("livesupportbot slack oauth state v1"))
	return h.Sum(nil)
}

// signState returns a state naming the tenant, expiring after StateTTL:
// base64url("<tenantId>.<expiry unix>.<nonce>") "." base64url(HMAC-SHA256).
func (b *Bridge) signState(tenantID string) string {
	payload := tenantID + "." + strconv.FormatInt(b.now().Add(StateTTL).Unix(), 10) + "." + ids.Secret(10)
	m := hmac.New(sha256.New, b.stateKey())
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errBadState = chat.Errorf(chat.EInvalid, "the install link is invalid or has expired; start the installation again")

// verifyState checks a state's signature and expiry and returns its tenant,
// nonce and expiry.
func (b *Bridge) verifyState(state string) (tenantID, nonce string, exp time.Time, err error) {
	p, s, ok := strings.Cut(state, ".")
	if !ok {
		return "", "", time.Time{}, errBadState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return "", "", time.Time{}, errBadState
	}
	m := hmac.New(sha256.New, b.stateKey())
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return "", "", time.Time{}, errBadState
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", "", time.Time{}, errBadState
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || b.now().Unix() > unix {
		return "", "", time.Time{}, errBadState
	}
	return parts[0], parts[2], time.Unix(unix, 0), nil
}

// OAuthPath is the path of the OAuth callback under the HTTP API's base URL.
const OAuthPath = "/webhooks/slack/oauth"

// RedirectURL is the OAuth callback of the API whose request context is rc:
// the configured public URL, else the one the request came through.
func (b *Bridge) RedirectURL(rc events.APIGatewayV2HTTPRequestContext) string {
	return apiurl.Base(b.cfg.PublicURL, rc) + OAuthPath
}

// InstallURL returns Slack's authorize URL for installing the app for a
// tenant, with the OAuth callback of the API the admin's request came through
// (rc), which is the API that serves the callback.
func (b *Bridge) InstallURL(tenantID string, rc events.APIGatewayV2HTTPRequestContext) string {
	q := url.Values{
		"client_id":    {b.cfg.ClientID},
		"scope":        {strings.Join(Scopes, ",")},
		"redirect_uri": {b.RedirectURL(rc)},
		"state":        {b.signState(tenantID)},
	}
	return b.cfg.AuthorizeURL + "?" + q.Encode()
}

// HandleOAuth is the OAuth callback, GET /webhooks/slack/oauth?code&state: it
// checks the state, exchanges the code (oauth.v2.access), fetches the workspace
// members once (users.list), encrypts the bot token and stores the integration.
// A bad request changes nothing.
func (b *Bridge) HandleOAuth(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q := req.QueryStringParameters
	if q["error"] != "" {
		return problem(http.StatusBadRequest, "Slack was not connected", "the installation was cancelled in Slack"), nil
	}
	tenantID, nonce, exp, err := b.verifyState(q["state"])
	if err != nil {
		return problem(http.StatusBadRequest, "Bad request", chat.ErrorMessage(err)), nil
	}
	if q["code"] == "" {
		return problem(http.StatusBadRequest, "Bad request", "code is missing"), nil
	}
	tenant, err := b.st.Tenant(ctx, tenantID)
	if err == chat.ErrNotFound || (err == nil && tenant.Status == "closed") {
		return problem(http.StatusBadRequest, "Bad request", errBadState.Message), nil
	}
	if err != nil {
		return b.internal(ctx, "read tenant", err), nil
	}
	// An install link works once: a replayed state is refused before its code
	// reaches Slack.
	fresh, err := b.st.ClaimSlackState(ctx, tenantID, nonce, exp, tenant.Periods())
	if err != nil {
		return b.internal(ctx, "claim state", err), nil
	}
	if !fresh {
		return problem(http.StatusBadRequest, "Bad request", "this install link was already used; start the installation again"), nil
	}
	log := b.log.With("tenantId", tenantID)
	res, err := slack.GetOAuthV2ResponseContext(ctx, b.cfg.HTTPClient, b.cfg.ClientID, b.cfg.ClientSecret, q["code"],
		b.RedirectURL(req.RequestContext), slack.OAuthOptionAPIURL(b.cfg.APIURL))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		log.WarnContext(ctx, "slack refused the oauth code", "slackError", se.Err)
		return problem(http.StatusBadRequest, "Slack was not connected", "Slack refused the authorization code; start the installation again"), nil
	}
	if err != nil {
		return b.internal(ctx, "oauth.v2.access", err), nil
	}
	if res.AccessToken == "" || res.Team.ID == "" || res.BotUserID == "" || res.IncomingWebhook.ChannelID == "" {
		return problem(http.StatusBadRequest, "Slack was not connected", "the installation granted no bot or no channel; pick a channel when installing"), nil
	}
	members, err := b.fetchMembers(ctx, res.AccessToken, res.Team.ID)
	if err != nil {
		return b.internal(ctx, "users.list", err), nil
	}
	blob, err := b.encryptToken(ctx, tenantID, res.AccessToken)
	if err != nil {
		return b.internal(ctx, "encrypt token", err), nil
	}
	in := &store.SlackIntegration{
		TenantID: tenantID, TeamID: res.Team.ID, TeamName: res.Team.Name,
		ChannelID: res.IncomingWebhook.ChannelID, ChannelName: res.IncomingWebhook.Channel,
		BotUserID: res.BotUserID, AppID: res.AppID, InstalledBy: res.AuthedUser.ID,
		InstalledAt: b.now().UTC(), TokenEncrypted: blob,
	}
	err = b.st.PutSlackIntegration(ctx, in, members, tenant.Periods())
	if err == store.ErrSlackTeamTaken {
		return problem(http.StatusConflict, "Slack was not connected", store.ErrSlackTeamTaken.Message), nil
	}
	if err != nil {
		return b.internal(ctx, "store integration", err), nil
	}
	b.forget(tenantID)
	log.InfoContext(ctx, "slack installed", "teamId", in.TeamID, "channelId", in.ChannelID, "members", len(members))
	if b.cfg.ConsoleURL != "" {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusFound,
			Headers: map[string]string{"Location": b.cfg.ConsoleURL + "?slack=connected", "Cache-Control": "no-store"}}, nil
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK,
		Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
		Body:    "Slack is connected. You can close this window.\n"}, nil
}

// fetchMembers lists the human members of the workspace (users.list).
func (b *Bridge) fetchMembers(ctx context.Context, token, teamID string) ([]store.SlackMember, error) {
	users, err := b.api(token).GetUsersContext(ctx, slack.GetUsersOptionLimit(200))
	if err != nil {
		return nil, fmt.Errorf("list slack users: %w", err)
	}
	var out []store.SlackMember
	for _, u := range users {
		if u.Deleted || u.IsBot || u.ID == "USLACKBOT" || u.ID == "" {
			continue
		}
		// Keyed by the installed workspace: that is the team_id of its events.
		out = append(out, store.SlackMember{TeamID: teamID, UserID: u.ID, Name: u.Name,
			RealName: firstNonEmpty(u.Profile.RealName, u.RealName), DisplayName: u.Profile.DisplayName,
			Email: u.Profile.Email, ImageURL: firstNonEmpty(u.Profile.Image192, u.Profile.Image72)})
	}
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
