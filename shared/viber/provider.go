package viber

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

// DefaultBaseURL is Viber's REST Bot API.
const DefaultBaseURL = "https://chatapi.viber.com/pa"

// AuthHeader is the request header that carries the account's auth token.
const AuthHeader = "X-Viber-Auth-Token"

// TextLimit is the most characters (runes) of one text message: Viber takes
// 7,000 (and a payload of at most 30 KB, which 7,000 runes keep to).
const TextLimit = 7000

// MaxSenderName is the most characters (runes) of a sender name.
const MaxSenderName = 28

// RetryAfterDefault is how long to wait after a refusal for rate: Viber names
// no time.
const RetryAfterDefault = 60 * time.Second

// WebhookEvents are the callbacks Connect subscribes to (messages are always
// sent).
var WebhookEvents = []string{EventDelivered, EventSeen, EventFailed, EventSubscribed, EventUnsubscribed, EventConversationStarted}

// maxAnswer bounds how much of an API answer the client reads.
const maxAnswer = 1 << 20

// Viber's status codes the client acts on.
const (
	StatusOK                    = 0
	StatusInvalidAuthToken      = 2
	StatusReceiverNotSubscribed = 6
	StatusTooManyRequests       = 12
)

// statusNames are Viber's names of its status codes; the codes named here,
// but 12, are final refusals (others, Viber's "general error" included, may
// pass).
var statusNames = map[int]string{
	1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData", 5: "receiverNotRegistered",
	6: "receiverNotSubscribed", 7: "publicAccountBlocked", 8: "publicAccountNotFound", 9: "publicAccountSuspended",
	10: "webhookNotSet", 11: "receiverNoSuitableDevice", 12: "tooManyRequests", 13: "apiVersionNotSupported",
	14: "incompatibleWithVersion", 15: "publicAccountNotAuthorized", 16: "inchatReplyMessageNotAllowed",
	17: "publicAccountIsNotInline", 18: "noPublicChat",
}

// ErrInvalid means a call was refused before it was made (no token, a sender
// name not of 1 to 28 characters, no recipient or text, a text over
// TextLimit, an attachment without a usable URL). It wraps
// chanbridge.ErrRefused: retrying cannot help.
var ErrInvalid error = invalidError{}

type invalidError struct{}

func (invalidError) Error() string        { return "viber: invalid request" }
func (invalidError) Is(target error) bool { return target == chanbridge.ErrRefused }

// StatusError is a refusal of Viber's API: its status code (an answer of
// HTTP 200 with a non-zero status) or, for a failed HTTP answer, the HTTP
// status. Its Error names the method and the codes, never Viber's message.
type StatusError struct {
	Method     string // "send_message", "set_webhook", "get_account_info"
	Status     int    // Viber's status (6: receiver not subscribed...), 0 for an HTTP failure
	HTTPStatus int    // the HTTP status of a failed answer, else 0
}

func (e *StatusError) Error() string {
	if e.HTTPStatus != 0 {
		return "viber: HTTP " + strconv.Itoa(e.HTTPStatus) + " from " + e.Method
	}
	s := "viber: status " + strconv.Itoa(e.Status)
	if name, ok := statusNames[e.Status]; ok {
		s += " (" + name + ")"
	}
	return s + " from " + e.Method
}

// Provider is Viber's REST Bot API as a chanbridge.Provider. The zero value
// uses DefaultBaseURL and a client with a 10 s timeout; it holds no tenant
// state and is safe for concurrent use. Auth tokens go in the
// X-Viber-Auth-Token header only.
type Provider struct {
	// BaseURL is the API's base, no trailing slash (default DefaultBaseURL;
	// viberfake's URL in tests).
	BaseURL string
	// HTTP is the client to use (default: one with a 10 s timeout).
	HTTP *http.Client
}

var _ chanbridge.Provider = (*Provider)(nil)

// Inbound is the webhook's adapter, Inbound{}.
func (p *Provider) Inbound() channel.Inbound { return Inbound{} }

// VerifySecret is creds.Token: Viber signs callbacks with the auth token.
func (p *Provider) VerifySecret(creds chanbridge.Credentials) string { return creds.Token }

// Limit is the pace of sends of one account: Viber states no limit publicly
// and answers status 12 when one is breached (a *channel.RateLimitedError);
// 100 a second per account, in bursts of 10, stays clear of it.
func (p *Provider) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 100, Burst: 10, Scope: channel.ScopeAccount}
}

// Connect checks creds and registers webhookURL as the account's webhook:
// get_account_info first (a refused token changes nothing), then set_webhook
// with WebhookEvents, the user's name sent and the photo not. Viber calls
// webhookURL (a signed "webhook" callback) before set_webhook answers, so the
// webhook must already verify with creds.Token. creds.SenderName must have 1
// to 28 characters (Send uses it). A refused token (status 2) or URL wraps
// chanbridge.ErrRefused.
func (p *Provider) Connect(ctx context.Context, creds chanbridge.Credentials, webhookURL string) (chanbridge.Account, error) {
	if err := checkCreds(creds); err != nil {
		return chanbridge.Account{}, err
	}
	if webhookURL == "" {
		return chanbridge.Account{}, fmt.Errorf("%w: connect without a webhook URL", ErrInvalid)
	}
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return chanbridge.Account{}, err
	}
	hook := map[string]any{"url": webhookURL, "event_types": WebhookEvents, "send_name": true, "send_photo": false}
	if err := p.call(ctx, "set_webhook", creds.Token, hook, nil); err != nil {
		return chanbridge.Account{}, err
	}
	return acct, nil
}

// Account checks the auth token (get_account_info) and returns the account.
func (p *Provider) Account(ctx context.Context, creds chanbridge.Credentials) (chanbridge.Account, error) {
	var info struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := p.call(ctx, "get_account_info", creds.Token, struct{}{}, &info); err != nil {
		return chanbridge.Account{}, err
	}
	if info.ID == "" {
		return chanbridge.Account{}, errors.New("viber: get_account_info: answer without an account id")
	}
	return chanbridge.Account{ID: info.ID, Name: info.Name}, nil
}

// Disconnect removes the webhook (set_webhook with an empty url). Without a
// token there is nothing to do. A refused token wraps chanbridge.ErrRefused
// (the webhook then no longer verifies anyway).
func (p *Provider) Disconnect(ctx context.Context, creds chanbridge.Credentials) error {
	if creds.Token == "" {
		return nil
	}
	return p.call(ctx, "set_webhook", creds.Token, map[string]string{"url": ""}, nil)
}

// checkCreds checks what every call needs: a token, a sender name of 1 to 28
// characters.
func checkCreds(creds chanbridge.Credentials) error {
	if creds.Token == "" {
		return fmt.Errorf("%w: no auth token", ErrInvalid)
	}
	if n := utf8.RuneCountInString(creds.SenderName); strings.TrimSpace(creds.SenderName) == "" || n > MaxSenderName {
		return fmt.Errorf("%w: sender name of %d characters, want 1 to %d (not blank)", ErrInvalid, n, MaxSenderName)
	}
	return nil
}

// Parts splits text into messages of at most TextLimit characters (runes),
// cut after a whitespace when one is in the second half of the part. Joined,
// the parts are text; none is empty (no parts for an empty text).
func (p *Provider) Parts(text string) []string { return Parts(text) }

// Parts is Provider.Parts.
func Parts(text string) []string { return channel.SplitText(text, TextLimit) }

// Send sends out.Text to out.To as creds.SenderName (send_message, type
// text) and returns Viber's message_token as a decimal string, exactly (it is
// above 2^53). Viber has no idempotency key: out.Key is not used, and a send
// whose answer was lost is sent again by a retry.
//
// Errors: status 12 or HTTP 429 is a *channel.RateLimitedError
// (RetryAfterDefault, or the Retry-After header); a final refusal (not
// subscribed 6, not registered 5, no suitable device 11, bad token 2,
// blocked account...) wraps chanbridge.ErrRefused and a *StatusError; so do
// the client's own refusals (ErrInvalid). Other statuses, HTTP failures and
// network errors are transient.
func (p *Provider) Send(ctx context.Context, creds chanbridge.Credentials, out chanbridge.Outbound) (string, error) {
	if err := checkCreds(creds); err != nil {
		return "", err
	}
	switch n := utf8.RuneCountInString(out.Text); {
	case out.To == "":
		return "", fmt.Errorf("%w: send without a receiver", ErrInvalid)
	case n == 0:
		return "", fmt.Errorf("%w: send without text", ErrInvalid)
	case n > TextLimit:
		return "", fmt.Errorf("%w: text of %d characters, over %d (see Parts)", ErrInvalid, n, TextLimit)
	}
	msg := map[string]any{"receiver": out.To, "min_api_version": 1, "sender": map[string]string{"name": creds.SenderName},
		"type": "text", "text": out.Text}
	var ans struct {
		MessageToken integer `json:"message_token"`
	}
	if err := p.call(ctx, "send_message", creds.Token, msg, &ans); err != nil {
		return "", err
	}
	if ans.MessageToken == "" {
		return "", errors.New("viber: send_message: answer without a message token")
	}
	return string(ans.MessageToken), nil
}

// Fetch downloads an inbound message's media from a.URL (Viber's media URLs
// are public: no token is sent), at most maxBytes: a larger one is an error
// wrapping chanbridge.ErrTooLarge. The content type is the answer's, else
// a.ContentType, else sniffed. An answer of 4xx (an expired URL) wraps
// chanbridge.ErrRefused; 5xx and network errors are transient. Errors never
// contain the URL.
func (p *Provider) Fetch(ctx context.Context, _ chanbridge.Credentials, a channel.Attachment, maxBytes int64) ([]byte, string, error) {
	if maxBytes <= 0 {
		return nil, "", fmt.Errorf("%w: fetch without a size limit", ErrInvalid)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, "", fmt.Errorf("%w: attachment without an http(s) URL", ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: attachment URL", ErrInvalid)
	}
	res, err := p.client().Do(req)
	if err != nil {
		return nil, "", transportError("media", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode/100 == 4:
		return nil, "", fmt.Errorf("%w: %w", chanbridge.ErrRefused, &StatusError{Method: "media", HTTPStatus: res.StatusCode})
	case res.StatusCode/100 != 2:
		return nil, "", &StatusError{Method: "media", HTTPStatus: res.StatusCode}
	case res.ContentLength > maxBytes:
		return nil, "", fmt.Errorf("%w: viber media of %d bytes, limit %d", chanbridge.ErrTooLarge, res.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBytes+1))
	if err != nil {
		return nil, "", transportError("media", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, "", fmt.Errorf("%w: viber media over the limit of %d bytes", chanbridge.ErrTooLarge, maxBytes)
	}
	ct := res.Header.Get("Content-Type")
	if ct == "" || ct == "application/octet-stream" {
		ct = a.ContentType
	}
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	return data, ct, nil
}

func (p *Provider) base() string { return channel.APIBase(p.BaseURL, DefaultBaseURL) }

func (p *Provider) client() *http.Client { return channel.APIClient(p.HTTP) }

// call posts body to the API's method with the token and decodes an answer
// of status 0 into ans (nil: only the status is read). A non-zero status or
// a failed HTTP answer is classified (see Send).
func (p *Provider) call(ctx context.Context, method, token string, body, ans any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("%w: %s body", ErrInvalid, method)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base()+"/"+method, &buf)
	if err != nil {
		return fmt.Errorf("%w: %s: cannot build the request", ErrInvalid, method)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(AuthHeader, token)
	res, err := p.client().Do(req)
	if err != nil {
		return transportError(method, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		se := &StatusError{Method: method, HTTPStatus: res.StatusCode}
		if res.StatusCode == http.StatusTooManyRequests {
			return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header.Get("Retry-After")), Err: se}
		}
		return se
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return transportError(method, err)
	}
	var head struct {
		Status integer `json:"status"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("viber: %s: HTTP %d answer is not the expected JSON", method, res.StatusCode)
	}
	if status := head.Status.int64(); status != StatusOK {
		return statusError(method, status)
	}
	if ans != nil {
		if err := json.Unmarshal(raw, ans); err != nil {
			return fmt.Errorf("viber: %s: answer is not the expected JSON", method)
		}
	}
	return nil
}

// statusError classifies a non-zero status: 12 is a refusal for rate, the
// named codes are final, any other may pass.
func statusError(method string, status int64) error {
	se := &StatusError{Method: method, Status: int(max(min(status, 1<<30), -1<<30))}
	if se.Status == StatusTooManyRequests {
		return &channel.RateLimitedError{RetryAfter: RetryAfterDefault, Err: se}
	}
	if _, final := statusNames[se.Status]; final {
		return fmt.Errorf("%w: %w", chanbridge.ErrRefused, se)
	}
	return se
}

// transportError is a network failure without the request's URL (url.Error
// quotes it).
func transportError(what string, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("viber: %s: %w", what, err)
}

// retryAfter reads a Retry-After header, else RetryAfterDefault.
func retryAfter(h string) time.Duration {
	return channel.RetryAfterHeader(h, time.Now(), RetryAfterDefault)
}
