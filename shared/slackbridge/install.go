package slackbridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
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
	"github.com/livesupportbot/backend/shared/webhook"
)

// StateTTL is how long an install link stays valid.
const StateTTL = 10 * time.Minute

// stateKey derives the key that signs OAuth states from the client secret, so
// no further secret is needed and the key is never the secret itself.
func stateKey(clientSecret string) []byte {
	h := hmac.New(sha256.New, []byte(clientSecret))
	h.Write([]byte("livesupportbot slack oauth state v1"))
	return h.Sum(nil)
}

// signState returns a state naming the tenant, expiring after StateTTL:
// base64url("<tenantId>.<expiry unix>.<nonce>") "." base64url(HMAC-SHA256).
// The nonce is the hash of the install cookie's value (installNonce).
func (b *Bridge) signState(tenantID, nonce, clientSecret string) string {
	payload := tenantID + "." + strconv.FormatInt(b.now().Add(StateTTL).Unix(), 10) + "." + nonce
	m := hmac.New(sha256.New, stateKey(clientSecret))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errBadState = chat.Errorf(chat.EInvalid, "the install link is invalid or has expired; start the installation again")

// verifyState checks a state's signature and expiry and returns its tenant,
// nonce and expiry.
func (b *Bridge) verifyState(state, clientSecret string) (tenantID, nonce string, exp time.Time, err error) {
	p, s, ok := strings.Cut(state, ".")
	if !ok {
		return "", "", time.Time{}, errBadState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return "", "", time.Time{}, errBadState
	}
	m := hmac.New(sha256.New, stateKey(clientSecret))
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

// InstallCookie is the cookie that binds an install to the browser that
// started it. It holds a random secret; the state carries its hash, so neither
// the install link nor Slack ever sees the secret.
const InstallCookie = "__Secure-lsb-slack-install"

// InstallLink returns Slack's authorize URL for installing the app for a
// tenant, with the OAuth callback of the API the admin's request came through
// (rc), which is the API that serves the callback, and the Set-Cookie value the
// answer to that browser must carry: Secure, HttpOnly, SameSite=Lax (Slack's
// redirect back is a top-level GET, which sends it), scoped to the callback's
// path and living as long as the state. The callback refuses the state from a
// browser without that cookie.
//
// The error is that of reading the client secret (Config.Secrets);
// ErrNotConfigured when the deployment has none.
func (b *Bridge) InstallLink(tenantID string, rc events.APIGatewayV2HTTPRequestContext) (authorizeURL, setCookie string, err error) {
	clientSecret, err := b.secret("SLACK_CLIENT_SECRET", b.cfg.ClientSecret)
	if err != nil {
		return "", "", err
	}
	secret := ids.Secret(20)
	q := url.Values{
		"client_id":    {b.cfg.ClientID},
		"scope":        {strings.Join(Scopes, ",")},
		"redirect_uri": {b.RedirectURL(rc)},
		"state":        {b.signState(tenantID, installNonce(secret), clientSecret)},
	}
	c := b.installCookie(rc)
	c.Value, c.MaxAge = secret, int(StateTTL/time.Second)
	return b.cfg.AuthorizeURL + "?" + q.Encode(), c.String(), nil
}

// installNonce is the state's nonce for an install cookie's value: its
// SHA-256, base64url, 22 characters.
func installNonce(secret string) string {
	sum := sha256.Sum256([]byte("livesupportbot slack install cookie v1\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// installCookie is the install cookie of the callback of the API of rc, without
// a value.
func (b *Bridge) installCookie(rc events.APIGatewayV2HTTPRequestContext) *http.Cookie {
	path := OAuthPath
	if u, err := url.Parse(b.RedirectURL(rc)); err == nil && u.Path != "" {
		path = u.Path
	}
	return &http.Cookie{Name: InstallCookie, Path: path, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// clearInstallCookie is the Set-Cookie value that removes the install cookie.
func (b *Bridge) clearInstallCookie(rc events.APIGatewayV2HTTPRequestContext) string {
	c := b.installCookie(rc)
	c.MaxAge = -1 // Max-Age=0
	return c.String()
}

// sameBrowser reports whether the callback request carries the install cookie
// whose hash the state's nonce is.
func sameBrowser(req events.APIGatewayV2HTTPRequest, nonce string) bool {
	for _, v := range webhook.CookieValues(req, InstallCookie) {
		if subtle.ConstantTimeCompare([]byte(installNonce(v)), []byte(nonce)) == 1 {
			return true
		}
	}
	return false
}

// HandleOAuth is the OAuth callback, GET /webhooks/slack/oauth?code&state: it
// checks the state and that this browser started the install (its cookie),
// exchanges the code (oauth.v2.access), encrypts the bot token and stores the
// integration. It reads and stores nothing about the workspace's members (an
// agent's name is learnt from the agent's replies). A bad request changes
// nothing. Every answer clears the install cookie.
func (b *Bridge) HandleOAuth(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	res, err := b.oauth(ctx, req)
	res.Cookies = append(res.Cookies, b.clearInstallCookie(req.RequestContext))
	return res, err
}

var errOtherBrowser = chat.Errorf(chat.EInvalid, "this browser did not start this installation (or it was started too long ago); start the installation again in this browser")

func (b *Bridge) oauth(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q := req.QueryStringParameters
	if q["error"] != "" {
		return problem(chat.Errorf(chat.EInvalid, "the installation was cancelled in Slack"), "Slack was not connected"), nil
	}
	clientSecret, err := b.secret("SLACK_CLIENT_SECRET", b.cfg.ClientSecret)
	if errors.Is(err, ErrNotConfigured) {
		b.log.WarnContext(ctx, "slack is not configured; answering 503", "error", err.Error())
		return NotConfigured(ctx, req)
	}
	if err != nil {
		return b.internal(ctx, "read client secret", err), nil
	}
	tenantID, nonce, exp, err := b.verifyState(q["state"], clientSecret)
	if err != nil {
		return problem(err, "Bad request"), nil
	}
	if !sameBrowser(req, nonce) {
		b.log.WarnContext(ctx, "slack install state from another browser", "tenantId", tenantID)
		return problem(errOtherBrowser, "Slack was not connected"), nil
	}
	if q["code"] == "" {
		return problem(chat.Errorf(chat.EInvalid, "code is missing"), "Bad request"), nil
	}
	tenant, err := b.st.Tenant(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && tenant.Status == "closed") {
		return problem(errBadState, "Bad request"), nil
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
		return problem(chat.Errorf(chat.EInvalid, "this install link was already used; start the installation again"), "Bad request"), nil
	}
	log := b.log.With("tenantId", tenantID)
	res, err := slack.GetOAuthV2ResponseContext(ctx, b.cfg.HTTPClient, b.cfg.ClientID, clientSecret, q["code"],
		b.RedirectURL(req.RequestContext), slack.OAuthOptionAPIURL(b.cfg.APIURL))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		log.WarnContext(ctx, "slack refused the oauth code", "slackError", se.Err)
		return problem(chat.Errorf(chat.EInvalid, "Slack refused the authorization code; start the installation again"), "Slack was not connected"), nil
	}
	if err != nil {
		return b.internal(ctx, "oauth.v2.access", err), nil
	}
	if res.AccessToken == "" || res.Team.ID == "" || res.BotUserID == "" || res.IncomingWebhook.ChannelID == "" {
		return problem(chat.Errorf(chat.EInvalid, "the installation granted no bot or no channel; pick a channel when installing"), "Slack was not connected"), nil
	}
	blob, err := b.cipher.Encrypt(ctx, tenantID, res.AccessToken)
	if err != nil {
		return b.internal(ctx, "encrypt token", err), nil
	}
	in := &chat.SlackIntegration{
		TenantID: tenantID, TeamID: res.Team.ID, TeamName: res.Team.Name,
		ChannelID: res.IncomingWebhook.ChannelID, ChannelName: res.IncomingWebhook.Channel,
		BotUserID: res.BotUserID, AppID: res.AppID, InstalledBy: res.AuthedUser.ID,
		InstalledAt: b.now().UTC(), TokenEncrypted: blob,
	}
	err = b.st.PutSlackIntegration(ctx, in, tenant.Periods())
	if errors.Is(err, store.ErrSlackTeamTaken) {
		return problem(err, "Slack was not connected"), nil
	}
	if err != nil {
		return b.internal(ctx, "store integration", err), nil
	}
	b.forget(tenantID)
	log.InfoContext(ctx, "slack installed", "teamId", in.TeamID, "channelId", in.ChannelID)
	if b.cfg.ConsoleURL != "" {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusFound,
			Headers: map[string]string{"Location": b.cfg.ConsoleURL + "?slack=connected", "Cache-Control": "no-store"}}, nil
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK,
		Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
		Body:    "Slack is connected. You can close this window.\n"}, nil
}
