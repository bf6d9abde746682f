package xdm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
)

// DefaultBaseURL is X's API.
const DefaultBaseURL = "https://api.x.com"

// TextLimit is the most characters of one DM: X takes 10,000.
const TextLimit = 10000

// RetryAfterDefault is how long to wait after a refusal for rate when X
// names no time (neither x-rate-limit-reset nor Retry-After).
const RetryAfterDefault = 60 * time.Second

// maxRetryAfter bounds the wait X names: its DM limits run over 15 minutes
// and 24 hours.
const maxRetryAfter = 24 * time.Hour

// TokenLifeDefault is an access token's life when X's answer names none
// (X's are two hours).
const TokenLifeDefault = 2 * time.Hour

// maxAnswer bounds how much of an API answer the client reads.
const maxAnswer = 1 << 20

// maxReason bounds X's error title and detail kept in an error.
const maxReason = 120

// ErrInvalid means a call was refused before it was made (missing
// credentials, no recipient or text, a text over TextLimit, a recipient
// that is not an X user id). It wraps chanbridge.ErrRefused: retrying cannot
// help.
var ErrInvalid = fmt.Errorf("x: invalid request (%w)", chanbridge.ErrRefused)

// ErrMediaNotCopied is Fetch's answer: DM media are not copied (see the
// package doc). It wraps chanbridge.ErrRefused.
var ErrMediaNotCopied = fmt.Errorf("%w: x: DM media are not copied", chanbridge.ErrRefused)

// StatusError is a failed answer of X's API: the call, the HTTP status and
// X's reason (an error title and detail, an OAuth error code or a v1.1 error
// code; never anything of the request). The status decides what it wraps
// (see Provider).
type StatusError = channel.StatusError

// Provider is X's API as a chanbridge.Provider, chanbridge.Handshaker and
// chanbridge.Refresher. The zero value uses DefaultBaseURL and a client with
// a 10 s timeout; it holds no tenant state and is safe for concurrent use.
//
// Tokens and secrets go in the Authorization header only: HTTP Basic with
// the OAuth 2.0 client (Refresh) or the consumer key and secret (the app's
// bearer token, for the webhook calls), else Bearer with the account's
// access token (creds.Access) or the app's.
//
// Errors of every call: HTTP 429 is a *channel.RateLimitedError (the wait
// from x-rate-limit-reset, else Retry-After, else RetryAfterDefault); a 401
// answered to the account's access token wraps chanbridge.ErrTokenExpired
// (the bridge refreshes it and calls again); any other 4xx wraps
// chanbridge.ErrRefused and a *StatusError naming X's reason; 5xx and
// network errors are transient.
type Provider struct {
	// BaseURL is the API's base, no trailing slash (default DefaultBaseURL;
	// xfake's URL in tests).
	BaseURL string
	// HTTPClient is the client to use (default: one with a 10 s timeout).
	HTTPClient *http.Client
}

var (
	_ chanbridge.Provider   = (*Provider)(nil)
	_ chanbridge.Handshaker = (*Provider)(nil)
	_ chanbridge.Refresher  = (*Provider)(nil)
)

// Inbound is the webhook's adapter, Inbound{}.
func (p *Provider) Inbound() channel.Inbound { return Inbound{} }

// VerifySecret is creds.ConsumerSecret: X signs webhooks (and its CRC) with
// the app's consumer secret.
func (p *Provider) VerifySecret(creds chanbridge.Credentials) string { return creds.ConsumerSecret }

// Limit is the pace of sends of one account: 1 a second, in bursts of 5.
// X's DM limits are per account and depend on the tier (15 in 15 minutes
// and 1,440 a day on some; more on Enterprise): pacing to the strictest
// would hold a long answer's parts for minutes within one delivery, so the
// parts go out promptly and a refusal for rate (429) is a
// *channel.RateLimitedError with the reset X names, which parks the
// delivery until then.
func (p *Provider) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 1, Burst: 5, Scope: channel.ScopeAccount}
}

// Parts splits text into DMs of at most TextLimit characters (UTF-16 units,
// never fewer than runes), cut after a whitespace when one is in the second
// half of the part. Joined, the parts are text; none is empty (no parts for
// an empty text).
func (p *Provider) Parts(text string) []string { return Parts(text) }

// Parts is Provider.Parts.
func Parts(text string) []string { return channel.SplitText(text, TextLimit) }

// Refresh obtains a new access token with the account's OAuth 2.0 grant:
// POST /2/oauth2/token, grant_type=refresh_token with creds.RefreshToken,
// the client authenticated with HTTP Basic (creds.ClientID and
// creds.ClientSecret). X rotates the refresh token on every refresh: the one
// used is void once X answers, and the new one is Token.Refresh, to keep.
// force has no meaning for X (every refresh is a new token). A 400 or 401
// (the grant revoked, or its refresh token already used), like any other
// 4xx, wraps chanbridge.ErrRefused: the owner must grant access again. 5xx
// and network errors are transient; an answer lost after X rotated leaves
// the grant unusable, as X offers no way to retry a rotation.
func (p *Provider) Refresh(ctx context.Context, creds chanbridge.Credentials, _ bool) (chanbridge.Token, error) {
	switch {
	case creds.ClientID == "" || creds.ClientSecret == "":
		return chanbridge.Token{}, fmt.Errorf("%w: refresh without the OAuth 2.0 client id and secret", ErrInvalid)
	case creds.RefreshToken == "":
		return chanbridge.Token{}, fmt.Errorf("%w: refresh without a refresh token", ErrInvalid)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {creds.RefreshToken}}
	var ans struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	c := call{name: "refresh", method: http.MethodPost, path: "/2/oauth2/token", form: form,
		basic: [2]string{creds.ClientID, creds.ClientSecret}, secrets: secretsOf(creds)}
	if err := p.do(ctx, c, &ans); err != nil {
		return chanbridge.Token{}, err
	}
	if ans.AccessToken == "" || !strings.EqualFold(ans.TokenType, "bearer") {
		return chanbridge.Token{}, errors.New("x: refresh: answer without a bearer access token")
	}
	life := TokenLifeDefault
	if ans.ExpiresIn > 0 && ans.ExpiresIn < 1<<31 {
		life = time.Duration(ans.ExpiresIn) * time.Second
	}
	return chanbridge.Token{Access: ans.AccessToken, Refresh: ans.RefreshToken, Expires: time.Now().Add(life)}, nil
}

// Account reads the account of creds.Access (GET /2/users/me): its id, and
// "@" and its username as its name. Without an access token it wraps
// chanbridge.ErrTokenExpired, as a 401 does; a 403 wraps
// chanbridge.ErrRefused.
func (p *Provider) Account(ctx context.Context, creds chanbridge.Credentials) (chanbridge.Account, error) {
	if creds.Access == "" {
		return chanbridge.Account{}, fmt.Errorf("%w: x: users/me without an access token", chanbridge.ErrTokenExpired)
	}
	var ans struct {
		Data struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Username string `json:"username"`
		} `json:"data"`
	}
	c := call{name: "users/me", method: http.MethodGet, path: "/2/users/me", bearer: creds.Access, user: true, secrets: secretsOf(creds)}
	if err := p.do(ctx, c, &ans); err != nil {
		return chanbridge.Account{}, err
	}
	if ans.Data.ID == "" {
		return chanbridge.Account{}, errors.New("x: users/me: answer without a user id")
	}
	name := ans.Data.Name
	if ans.Data.Username != "" {
		name = "@" + ans.Data.Username
	}
	return chanbridge.Account{ID: ans.Data.ID, Name: name}, nil
}

// webhook is one of the app's webhooks as X lists them.
type webhook struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Valid bool   `json:"valid"`
}

// Connect checks creds and subscribes the account to the app's webhook at
// webhookURL: the account first (users/me: a refused token changes nothing),
// then the app's bearer token (POST /oauth2/token, client_credentials with
// the consumer key and secret), the app's webhooks (GET /2/webhooks): the
// one at webhookURL is reused, else it is registered (POST /2/webhooks;
// X checks it with a CRC before it answers, so the webhook must already
// answer Handshake with creds.ConsumerSecret), and last the account's
// subscription to it (POST /2/account_activity/webhooks/<id>/subscriptions/all
// with the account's token; a 409, already subscribed, is success).
// Connecting again with the same URL registers nothing new. Refused app
// credentials or a refused URL wrap chanbridge.ErrRefused.
func (p *Provider) Connect(ctx context.Context, creds chanbridge.Credentials, webhookURL string) (chanbridge.Account, error) {
	if err := checkApp(creds); err != nil {
		return chanbridge.Account{}, err
	}
	if webhookURL == "" {
		return chanbridge.Account{}, fmt.Errorf("%w: connect without a webhook URL", ErrInvalid)
	}
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return chanbridge.Account{}, err
	}
	app, err := p.appToken(ctx, creds)
	if err != nil {
		return chanbridge.Account{}, err
	}
	hooks, err := p.webhooks(ctx, creds, app)
	if err != nil {
		return chanbridge.Account{}, err
	}
	id, stale := "", []string{}
	for _, h := range hooks {
		switch {
		case h.URL == webhookURL:
			id = h.ID
		case h.URL == creds.Replaces:
			stale = append(stale, h.ID)
		}
	}
	if id == "" {
		var ans struct {
			Data webhook `json:"data"`
		}
		c := call{name: "webhook registration", method: http.MethodPost, path: "/2/webhooks", json: map[string]string{"url": webhookURL},
			bearer: app, secrets: append(secretsOf(creds), app, webhookURL)}
		err := p.do(ctx, c, &ans)
		if errors.Is(err, chanbridge.ErrRefused) && len(stale) > 0 {
			// X limits an app's webhooks: the one of the integration this
			// connect replaces (its URL dead from now on) makes room, and
			// registering is tried again.
			if err = p.deleteWebhooks(ctx, creds, app, stale); err == nil {
				stale = nil
				err = p.do(ctx, c, &ans)
			}
		}
		if err != nil {
			return chanbridge.Account{}, err
		}
		if id = ans.Data.ID; id == "" {
			return chanbridge.Account{}, errors.New("x: webhook registration: answer without a webhook id")
		}
	}
	var sub struct {
		Data struct {
			Subscribed bool `json:"subscribed"`
		} `json:"data"`
	}
	c := call{name: "subscription", method: http.MethodPost, path: "/2/account_activity/webhooks/" + url.PathEscape(id) + "/subscriptions/all",
		bearer: creds.Access, user: true, secrets: append(secretsOf(creds), app, webhookURL), ok: []int{http.StatusConflict}}
	status, err := p.doStatus(ctx, c, &sub)
	if err != nil {
		return chanbridge.Account{}, err
	}
	if status != http.StatusConflict && !sub.Data.Subscribed {
		return chanbridge.Account{}, errors.New("x: subscription: answer is not subscribed")
	}
	// The replaced integration's webhook (its URL stopped working) goes.
	if err := p.deleteWebhooks(ctx, creds, app, stale); err != nil {
		return chanbridge.Account{}, err
	}
	return acct, nil
}

// deleteWebhooks removes the app's webhooks of ids (DELETE /2/webhooks/<id>,
// the app's bearer token); one already gone is no error.
func (p *Provider) deleteWebhooks(ctx context.Context, creds chanbridge.Credentials, app string, ids []string) error {
	for _, id := range ids {
		c := call{name: "webhook removal", method: http.MethodDelete, path: "/2/webhooks/" + url.PathEscape(id),
			bearer: app, secrets: append(secretsOf(creds), app), ok: []int{http.StatusNotFound}}
		if _, err := p.doStatus(ctx, c, nil); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect unsubscribes the account from the app's webhooks (DELETE
// /2/account_activity/webhooks/<id>/subscriptions/<user id>/all with the
// app's bearer token, for every webhook of the app: the URL the account was
// connected with is not kept); the webhooks stay registered, they may serve
// other accounts. The account's id comes from users/me (so a refused access
// token wraps chanbridge.ErrTokenExpired). Without the app's credentials, or
// with no webhooks, there is nothing to do; a 404 (not subscribed) is no
// error.
func (p *Provider) Disconnect(ctx context.Context, creds chanbridge.Credentials) error {
	if creds.ConsumerKey == "" || creds.ConsumerSecret == "" {
		return nil
	}
	app, err := p.appToken(ctx, creds)
	if err != nil {
		return err
	}
	hooks, err := p.webhooks(ctx, creds, app)
	if err != nil || len(hooks) == 0 {
		return err
	}
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		c := call{name: "unsubscription", method: http.MethodDelete,
			path:   "/2/account_activity/webhooks/" + url.PathEscape(h.ID) + "/subscriptions/" + url.PathEscape(acct.ID) + "/all",
			bearer: app, secrets: append(secretsOf(creds), app), ok: []int{http.StatusNotFound}}
		if _, err := p.doStatus(ctx, c, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkApp checks the app's credentials Connect needs.
func checkApp(creds chanbridge.Credentials) error {
	if creds.ConsumerKey == "" || creds.ConsumerSecret == "" {
		return fmt.Errorf("%w: no consumer key and secret", ErrInvalid)
	}
	return nil
}

// appToken is the app's bearer token (POST /oauth2/token, client_credentials
// with the consumer key and secret). A refusal (X answers 403 to unknown
// credentials) wraps chanbridge.ErrRefused.
func (p *Provider) appToken(ctx context.Context, creds chanbridge.Credentials) (string, error) {
	var ans struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
	}
	c := call{name: "app token", method: http.MethodPost, path: "/oauth2/token", form: url.Values{"grant_type": {"client_credentials"}},
		basic: [2]string{creds.ConsumerKey, creds.ConsumerSecret}, secrets: secretsOf(creds)}
	if err := p.do(ctx, c, &ans); err != nil {
		return "", err
	}
	if ans.AccessToken == "" || !strings.EqualFold(ans.TokenType, "bearer") {
		return "", errors.New("x: app token: answer without a bearer token")
	}
	return ans.AccessToken, nil
}

// webhooks lists the app's webhooks (GET /2/webhooks with its bearer token).
func (p *Provider) webhooks(ctx context.Context, creds chanbridge.Credentials, app string) ([]webhook, error) {
	var ans struct {
		Data []webhook `json:"data"`
	}
	c := call{name: "webhooks", method: http.MethodGet, path: "/2/webhooks", bearer: app, secrets: append(secretsOf(creds), app)}
	if err := p.do(ctx, c, &ans); err != nil {
		return nil, err
	}
	return ans.Data, nil
}

// Send sends out.Text to the X user out.To as a DM (POST
// /2/dm_conversations/with/<out.To>/messages with the account's access
// token) and returns X's dm_event_id. X has no idempotency key: out.Key is
// not used, and a send whose answer was lost is sent again by a retry.
//
// Errors: 401 wraps chanbridge.ErrTokenExpired; 403 (the contact does not
// take DMs from the account, or blocked it) and other 4xx wrap
// chanbridge.ErrRefused and a *StatusError with X's title and detail; 429 is
// a *channel.RateLimitedError; so do the client's own refusals (ErrInvalid:
// no token, no recipient or text, a recipient that is not an X user id, a
// text over TextLimit). 5xx and network errors are transient.
func (p *Provider) Send(ctx context.Context, creds chanbridge.Credentials, out chanbridge.Outbound) (string, error) {
	switch n := utf8.RuneCountInString(out.Text); {
	case creds.Access == "":
		return "", fmt.Errorf("%w: x: send without an access token", chanbridge.ErrTokenExpired)
	case out.To == "":
		return "", fmt.Errorf("%w: send without a recipient", ErrInvalid)
	case !isUserID(out.To):
		return "", fmt.Errorf("%w: recipient is not an X user id", ErrInvalid)
	case n == 0:
		return "", fmt.Errorf("%w: send without text", ErrInvalid)
	case n > TextLimit:
		return "", fmt.Errorf("%w: text of %d characters, over %d (see Parts)", ErrInvalid, n, TextLimit)
	}
	var ans struct {
		Data struct {
			ConversationID string `json:"dm_conversation_id"`
			EventID        string `json:"dm_event_id"`
		} `json:"data"`
	}
	c := call{name: "send", method: http.MethodPost, path: "/2/dm_conversations/with/" + out.To + "/messages",
		json: map[string]string{"text": out.Text}, bearer: creds.Access, user: true, secrets: append(secretsOf(creds), out.Text)}
	if err := p.do(ctx, c, &ans); err != nil {
		return "", err
	}
	if ans.Data.EventID == "" {
		return "", errors.New("x: send: answer without a dm_event_id")
	}
	return ans.Data.EventID, nil
}

// isUserID tells an X user id: 1 to 20 decimal digits.
func isUserID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Fetch refuses (ErrMediaNotCopied, which wraps chanbridge.ErrRefused): DM
// media need an OAuth 1.0a user signature we cannot make (see the package
// doc). Parse gives no attachments, so the bridge never calls it.
func (p *Provider) Fetch(context.Context, chanbridge.Credentials, channel.Attachment, int64) ([]byte, string, error) {
	return nil, "", ErrMediaNotCopied
}

func (p *Provider) base() string { return channel.APIBase(p.BaseURL, DefaultBaseURL) }

func (p *Provider) client() *http.Client { return channel.APIClient(p.HTTPClient) }

// call is one request to X's API.
type call struct {
	name   string // in errors
	method string
	path   string     // under the base URL
	form   url.Values // a form body, or
	json   any        // a JSON body
	basic  [2]string  // HTTP Basic user and password, or
	bearer string     // a bearer token
	// user says bearer is the account's access token: a 401 is then
	// chanbridge.ErrTokenExpired.
	user bool
	// ok are the 4xx statuses that are answers, not errors.
	ok []int
	// secrets are what X's reason must not contain (else it is dropped):
	// the tokens, secrets and text of the call.
	secrets []string
}

// secretsOf are creds' secrets (no error may contain them).
func secretsOf(creds chanbridge.Credentials) []string {
	return []string{creds.ConsumerKey, creds.ConsumerSecret, creds.ClientID, creds.ClientSecret, creds.RefreshToken, creds.Access}
}

// do makes c and decodes a 2xx answer into ans (nil: the answer is not read).
func (p *Provider) do(ctx context.Context, c call, ans any) error {
	_, err := p.doStatus(ctx, c, ans)
	return err
}

// doStatus makes c, decodes a 2xx answer into ans and returns the status (a
// status of c.ok is returned without decoding). A failed answer is
// classified (see Provider).
func (p *Provider) doStatus(ctx context.Context, c call, ans any) (int, error) {
	var body io.Reader
	ctype := ""
	switch {
	case c.form != nil:
		body, ctype = strings.NewReader(c.form.Encode()), "application/x-www-form-urlencoded"
	case c.json != nil:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.json); err != nil {
			return 0, fmt.Errorf("%w: %s body", ErrInvalid, c.name)
		}
		body, ctype = &buf, "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, c.method, p.base()+c.path, body)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: cannot build the request", ErrInvalid, c.name)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.basic[0] != "" {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	} else if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	req.Header.Set("Accept", "application/json")
	res, err := p.client().Do(req)
	if err != nil {
		return 0, transportError(c.name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return 0, transportError(c.name, err)
	}
	for _, s := range c.ok {
		if res.StatusCode == s {
			return s, nil
		}
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, classify(c, res, raw)
	}
	if ans != nil {
		if err := json.Unmarshal(raw, ans); err != nil {
			return res.StatusCode, fmt.Errorf("x: %s: HTTP %d answer is not the expected JSON", c.name, res.StatusCode)
		}
	}
	return res.StatusCode, nil
}

// classify is the error of a failed answer (see Provider).
func classify(c call, res *http.Response, raw []byte) error {
	se := &StatusError{Service: "x", Call: c.name, HTTPStatus: res.StatusCode, Reason: reason(raw, c.secrets)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header, time.Now()), Err: se}
	case res.StatusCode == http.StatusUnauthorized && c.user:
		return fmt.Errorf("%w: %w", chanbridge.ErrTokenExpired, se)
	case res.StatusCode/100 == 4:
		return fmt.Errorf("%w: %w", chanbridge.ErrRefused, se)
	}
	return se
}

// reason is X's reason of a failed answer: a v2 problem's title and detail,
// an OAuth error code, or a v1.1 error's code; "" if it has none, or if it
// contains one of secrets (X's v2 errors can quote a request's parameters;
// their messages are never read, but a title or detail is dropped too if it
// does).
func reason(raw []byte, secrets []string) string {
	var ans struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Error  any    `json:"error"`
		Errors []struct {
			Code any `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &ans) != nil {
		return ""
	}
	var r string
	switch code, _ := ans.Error.(string); {
	case ans.Title != "" && ans.Detail != "" && ans.Detail != ans.Title:
		r = ans.Title + ": " + ans.Detail
	case ans.Title != "":
		r = ans.Title
	case ans.Detail != "":
		r = ans.Detail
	case code != "":
		r = code
	case len(ans.Errors) > 0:
		switch c := ans.Errors[0].Code.(type) {
		case float64:
			r = "code " + strconv.FormatFloat(c, 'f', -1, 64)
		case string:
			r = "code " + c
		}
	}
	r = strings.Join(strings.Fields(r), " ")
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(r, s) {
			return ""
		}
	}
	return channel.Truncate(r, maxReason)
}

// transportError is a network failure without the request's URL (url.Error
// quotes it).
func transportError(what string, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("x: %s: %w", what, err)
}

// retryAfter is how long X asks to wait after a 429: until x-rate-limit-reset
// (epoch seconds), else Retry-After seconds, else RetryAfterDefault; at
// least a second, at most a day.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if s, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64); err == nil && s > 0 && s < 1<<40 {
		return min(max(time.Unix(s, 0).Sub(now).Round(time.Second), time.Second), maxRetryAfter)
	}
	return min(channel.RetryAfterHeader(h.Get("Retry-After"), now, RetryAfterDefault), maxRetryAfter)
}
