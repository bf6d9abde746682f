package botbridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/shared/apiurl"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dialogflow"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/webhook"
)

// StateTTL is how long an install link stays valid.
const StateTTL = 10 * time.Minute

// OAuthPath is the callback's path under the HTTP API's base URL.
const OAuthPath = "/webhooks/dialogflow/oauth"

// InstallCookie binds an install to the browser that started it: it holds a
// random secret whose hash the state carries.
const InstallCookie = "__Secure-lsb-dialogflow-install"

// Install is what the owner asks for: the agent's settings, the channels
// the bot answers and extra handoff phrases.
type Install struct {
	Settings dialogflow.Settings
	Channels []string
	Phrases  []string
}

// ParseInstall reads an install link's query (edition, project, location,
// agent, environment, language, channels, phrases) and what is wrong with
// it.
func ParseInstall(q url.Values) (Install, map[string]string) {
	in := Install{Settings: dialogflow.Settings{Edition: q.Get("edition"), Project: q.Get("project"), Location: q.Get("location"),
		Agent: q.Get("agent"), Environment: q.Get("environment"), Language: q.Get("language")}.Normalize(),
		Channels: splitList(q.Get("channels")), Phrases: splitList(strings.ToLower(q.Get("phrases")))}
	issues := in.Settings.Problems()
	if issues == nil {
		issues = map[string]string{}
	}
	if len(in.Channels) == 0 {
		issues["channels"] = "is required: the channels the bot answers, comma-separated (" + strings.Join(BotChannels, ", ") + ")"
	}
	for _, c := range in.Channels {
		if !slices.Contains(BotChannels, c) {
			issues["channels"] = "must be among " + strings.Join(BotChannels, ", ")
		}
	}
	if len(in.Phrases) > 10 {
		issues["phrases"] = "must be at most 10 phrases"
	}
	for _, p := range in.Phrases {
		if n := utf8.RuneCountInString(p); n > 40 || !utf8.ValidString(p) {
			issues["phrases"] = "must each be 1 to 40 characters"
		}
	}
	return in, issues
}

// stateKey derives the key that signs states from the client secret.
func stateKey(clientSecret string) []byte {
	h := hmac.New(sha256.New, []byte(clientSecret))
	h.Write([]byte("livesupportbot dialogflow oauth state v1"))
	return h.Sum(nil)
}

// state is what an install link's state carries, signed.
type state struct {
	Tenant   string              `json:"t"`
	Expires  int64               `json:"e"`
	Nonce    string              `json:"n"`
	Settings dialogflow.Settings `json:"s"`
	Channels []string            `json:"c"`
	Phrases  []string            `json:"p,omitempty"`
}

func sign(st state, clientSecret string) string {
	payload, _ := json.Marshal(st)
	m := hmac.New(sha256.New, stateKey(clientSecret))
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errBadState = chat.Errorf(chat.EInvalid, "the install link is invalid or has expired; start the installation again")

func (b *Bridge) verify(s, clientSecret string) (state, error) {
	p, sig, ok := strings.Cut(s, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return state{}, errBadState
	}
	m := hmac.New(sha256.New, stateKey(clientSecret))
	m.Write(payload)
	var st state
	if !hmac.Equal(mac, m.Sum(nil)) || json.Unmarshal(payload, &st) != nil || st.Tenant == "" || st.Nonce == "" || b.now().Unix() > st.Expires {
		return state{}, errBadState
	}
	return st, nil
}

// nonceOf is the state's nonce for an install cookie's value.
func nonceOf(secret string) string {
	sum := sha256.Sum256([]byte("livesupportbot dialogflow install cookie v1\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// RedirectURL is the OAuth callback of the API of rc.
func (b *Bridge) RedirectURL(rc events.APIGatewayV2HTTPRequestContext) string {
	return apiurl.Base(b.Config.PublicURL, rc) + OAuthPath
}

func (b *Bridge) oauthConfig(clientSecret string, rc events.APIGatewayV2HTTPRequestContext) *oauth2.Config {
	return dialogflow.OAuthConfig(b.Config.ClientID, clientSecret, b.RedirectURL(rc), b.Config.Endpoint)
}

func (b *Bridge) cookie(rc events.APIGatewayV2HTTPRequestContext) *http.Cookie {
	path := OAuthPath
	if u, err := url.Parse(b.RedirectURL(rc)); err == nil && u.Path != "" {
		path = u.Path
	}
	return &http.Cookie{Name: InstallCookie, Path: path, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// InstallLink returns Google's consent URL for connecting the tenant's
// agent (offline access, the Dialogflow scope, a signed state carrying the
// settings) and the Set-Cookie value that binds it to the browser.
func (b *Bridge) InstallLink(tenantID string, in Install, rc events.APIGatewayV2HTTPRequestContext) (consentURL, setCookie string, err error) {
	clientSecret, err := b.secret()
	if err != nil {
		return "", "", err
	}
	secret := ids.Secret(20)
	st := state{Tenant: tenantID, Expires: b.now().Add(StateTTL).Unix(), Nonce: nonceOf(secret), Settings: in.Settings,
		Channels: in.Channels, Phrases: in.Phrases}
	c := b.cookie(rc)
	c.Value, c.MaxAge = secret, int(StateTTL/time.Second)
	return dialogflow.AuthCodeURL(b.oauthConfig(clientSecret, rc), sign(st, clientSecret)), c.String(), nil
}

// sameBrowser reports whether the request carries the install cookie whose
// hash is nonce.
func sameBrowser(req events.APIGatewayV2HTTPRequest, nonce string) bool {
	for _, v := range webhook.CookieValues(req, InstallCookie) {
		if subtle.ConstantTimeCompare([]byte(nonceOf(v)), []byte(nonce)) == 1 {
			return true
		}
	}
	return false
}

// HandleOAuth is the callback, GET /webhooks/dialogflow/oauth?code&state: it
// checks the state (signature, expiry, this browser's cookie, first use),
// exchanges the code, keeps the refresh token alone (encrypted) with the
// settings, and clears the cookie. A bad request changes nothing.
func (b *Bridge) HandleOAuth(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	res := b.oauth(ctx, req)
	c := b.cookie(req.RequestContext)
	c.MaxAge = -1
	res.Cookies = append(res.Cookies, c.String())
	return res, nil
}

func (b *Bridge) oauth(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	q := req.QueryStringParameters
	if q["error"] != "" {
		return webhook.Problem(chat.Errorf(chat.EInvalid, "the consent was refused in Google"), "Dialogflow was not connected")
	}
	clientSecret, err := b.secret()
	if errors.Is(err, ErrNotConfigured) {
		return webhook.ProblemStatus(http.StatusServiceUnavailable, "Service Unavailable", "Dialogflow is not configured for this deployment")
	}
	if err != nil {
		return b.internal(ctx, "read client secret", err)
	}
	st, err := b.verify(q["state"], clientSecret)
	if err != nil {
		return webhook.Problem(err, "Bad Request")
	}
	if !sameBrowser(req, st.Nonce) {
		b.Log.WarnContext(ctx, "dialogflow install state from another browser", "tenantId", st.Tenant)
		return webhook.Problem(chat.Errorf(chat.EInvalid, "this browser did not start this installation; start it again in this browser"), "Dialogflow was not connected")
	}
	if q["code"] == "" {
		return webhook.Problem(chat.Errorf(chat.EInvalid, "code is missing"), "Bad Request")
	}
	t, err := b.Store.Tenant(ctx, st.Tenant)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && t.Status == "closed") {
		return webhook.Problem(errBadState, "Bad Request")
	}
	if err != nil {
		return b.internal(ctx, "read tenant", err)
	}
	fresh, err := b.Store.ClaimOAuthState(ctx, t.ID, Channel, st.Nonce, time.Unix(st.Expires, 0), t.Periods())
	if err != nil {
		return b.internal(ctx, "claim state", err)
	}
	if !fresh {
		return webhook.Problem(chat.Errorf(chat.EInvalid, "this install link was already used; start the installation again"), "Bad Request")
	}
	refresh, err := dialogflow.Exchange(ctx, b.oauthConfig(clientSecret, req.RequestContext), q["code"])
	if err != nil {
		b.Log.WarnContext(ctx, "google refused the oauth code", "tenantId", t.ID, "error", err.Error())
		return webhook.Problem(chat.Errorf(chat.EInvalid, "Google refused the authorization code (or gave no refresh token); start the installation again"), "Dialogflow was not connected")
	}
	blob, err := b.Cipher.Encrypt(ctx, t.ID, refresh)
	if err != nil {
		return b.internal(ctx, "encrypt token", err)
	}
	in := &chat.ChannelIntegration{TenantID: t.ID, Channel: Channel, AccountID: st.Settings.Project, TokenEncrypted: blob,
		InstalledAt: b.now().UTC(), Settings: settingsMap(st.Settings, st.Channels, st.Phrases)}
	if err := b.Store.PutChannelIntegration(ctx, in, t.Periods()); err != nil {
		if chat.ErrorCode(err) == chat.EConflict {
			return webhook.Problem(err, "Dialogflow was not connected")
		}
		return b.internal(ctx, "store integration", err)
	}
	b.forget(t.ID)
	b.Log.InfoContext(ctx, "dialogflow connected", "tenantId", t.ID, "edition", st.Settings.Edition, "project", st.Settings.Project)
	if b.Config.ConsoleURL != "" {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusFound,
			Headers: map[string]string{"Location": b.Config.ConsoleURL + "?dialogflow=connected", "Cache-Control": "no-store"}}
	}
	return webhook.Text(http.StatusOK, "Dialogflow is connected. You can close this window.\n")
}

func (b *Bridge) internal(ctx context.Context, op string, err error) events.APIGatewayV2HTTPResponse {
	b.Log.ErrorContext(ctx, "dialogflow install failed", "op", op, "error", err.Error())
	return webhook.ProblemStatus(http.StatusInternalServerError, "Internal Server Error", "try again")
}
