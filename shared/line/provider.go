package line

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
)

// Default base URLs of the Messaging API and of its content host.
const (
	DefaultAPIURL  = "https://api.line.me"
	DefaultDataURL = "https://api-data.line.me"
)

// TextLimit is the most characters (UTF-16 code units, never fewer than the
// runes) of one text message.
const TextLimit = 5000

// RetryAfterDefault is how long to wait after a refusal for rate that names no
// Retry-After.
const RetryAfterDefault = 60 * time.Second

// maxAnswer bounds how much of an API answer the client reads.
const maxAnswer = 1 << 20

// Provider is LINE as a chanbridge.Provider: the Messaging API with a
// tenant's channel access token (Credentials.Token) and channel secret
// (Credentials.ChannelSecret). The zero value calls LINE's hosts with a 10 s
// timeout; it holds no tenant state and is safe for concurrent use. Tokens go
// in the Authorization header only.
type Provider struct {
	// APIURL is the Messaging API's base, no trailing slash (default
	// DefaultAPIURL; linefake's URL in tests).
	APIURL string
	// DataURL is the content API's base (default DefaultDataURL; linefake's
	// URL in tests).
	DataURL string
	// HTTP is the client to use (default: one with a 10 s timeout).
	HTTP *http.Client
}

var _ chanbridge.Provider = (*Provider)(nil)

// APIError is an error answer of the Messaging API. Its Error names the call,
// the HTTP status and LINE's request id; never LINE's message or details
// (they can quote what was sent).
type APIError struct {
	Op        string // "reply", "push", "bot info", "webhook endpoint", "content"
	Status    int    // HTTP status
	RequestID string // the x-line-request-id header, for LINE's support
}

func (e *APIError) Error() string {
	s := "line " + e.Op + ": HTTP " + strconv.Itoa(e.Status)
	if e.RequestID != "" {
		s += ", request id " + e.RequestID
	}
	return s
}

// Inbound is the webhook's adapter, Inbound{}.
func (*Provider) Inbound() channel.Inbound { return Inbound{} }

// VerifySecret is creds.ChannelSecret (an empty one verifies nothing).
func (*Provider) VerifySecret(creds chanbridge.Credentials) string { return creds.ChannelSecret }

// Limit is 100 sends a second per channel (ScopeAccount), well under LINE's
// per-channel API limits (2,000 pushes a second).
func (*Provider) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 100, Burst: 100, Scope: channel.ScopeAccount}
}

// Connect checks the channel access token with GET /v2/bot/info (the bot's
// user id is the Account.ID, LINE's webhook destination) and sets webhookURL
// as the channel's webhook endpoint (PUT /v2/bot/channel/webhook/endpoint),
// so the owner need not paste it in the LINE console (an empty webhookURL
// sets nothing). A missing token or channel secret, a token LINE does not
// take (401, 403) or an endpoint it refuses wrap chanbridge.ErrRefused.
func (p *Provider) Connect(ctx context.Context, creds chanbridge.Credentials, webhookURL string) (chanbridge.Account, error) {
	switch {
	case creds.Token == "":
		return chanbridge.Account{}, fmt.Errorf("%w: line: no channel access token", chanbridge.ErrRefused)
	case creds.ChannelSecret == "":
		return chanbridge.Account{}, fmt.Errorf("%w: line: no channel secret", chanbridge.ErrRefused)
	}
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return chanbridge.Account{}, err
	}
	if webhookURL != "" {
		body := map[string]string{"endpoint": webhookURL}
		if _, err := p.call(ctx, "webhook endpoint", http.MethodPut, p.api()+"/v2/bot/channel/webhook/endpoint",
			creds.Token, body, "", nil); err != nil {
			return chanbridge.Account{}, err
		}
	}
	return acct, nil
}

// Account checks the channel access token (bot info) and returns the bot.
func (p *Provider) Account(ctx context.Context, creds chanbridge.Credentials) (chanbridge.Account, error) {
	var info struct {
		UserID      string `json:"userId"`
		BasicID     string `json:"basicId"`
		DisplayName string `json:"displayName"`
	}
	if _, err := p.call(ctx, "bot info", http.MethodGet, p.api()+"/v2/bot/info", creds.Token, nil, "", &info); err != nil {
		return chanbridge.Account{}, err
	}
	if info.UserID == "" {
		return chanbridge.Account{}, errors.New("line bot info: answer without a user id")
	}
	return chanbridge.Account{ID: info.UserID, Name: info.DisplayName}, nil
}

// Disconnect does nothing: LINE keeps the endpoint until the owner changes it
// in the console, and our webhook refuses a disconnected channel's events.
func (*Provider) Disconnect(context.Context, chanbridge.Credentials) error { return nil }

// Parts splits text into messages of at most TextLimit characters, cut on a
// rune boundary, after a whitespace when one is in the second half of the
// part. Joined, the parts are text; none is empty (no parts for an empty
// text).
func (*Provider) Parts(text string) []string { return channel.SplitText(text, TextLimit) }

// sent is the answer of a reply or a push.
type sent struct {
	SentMessages []struct {
		ID string `json:"id"`
	} `json:"sentMessages"`
}

// Send sends one text message and returns LINE's id of it
// (sentMessages[0].id).
//
// With out.ReplyToken it replies (free of LINE's message quota); if LINE
// answers 400 (the token is invalid, used or expired) it pushes to out.To in
// the same call, so the message is not lost. Without one it pushes, with an
// X-Line-Retry-Key of RetryKey(out.Key): a retry of an accepted push answers
// 409, which is success (the id is then the first push's when LINE repeats
// it, else the accepted request's id, else "retry:<key>"). A reply carries no
// retry key: if its answer is lost and the token was used, the retry's
// fallback push shows the message twice (rare, and better than never).
//
// Errors: 429 is a *channel.RateLimitedError (RetryAfter from Retry-After,
// else RetryAfterDefault); other 4xx (bad token, bad recipient, invalid
// request) and a send without a token, a recipient or text wrap
// chanbridge.ErrRefused; 5xx and network errors are transient. All that are
// LINE answers wrap an *APIError.
func (p *Provider) Send(ctx context.Context, creds chanbridge.Credentials, out chanbridge.Outbound) (string, error) {
	switch {
	case creds.Token == "":
		return "", fmt.Errorf("%w: line send: no channel access token", chanbridge.ErrRefused)
	case out.To == "" && out.ReplyToken == "":
		return "", fmt.Errorf("%w: line send: no recipient", chanbridge.ErrRefused)
	case out.Text == "":
		return "", fmt.Errorf("%w: line send: no text", chanbridge.ErrRefused)
	case len(utf16.Encode([]rune(out.Text))) > TextLimit:
		return "", fmt.Errorf("%w: line send: text over %d characters (see Parts)", chanbridge.ErrRefused, TextLimit)
	}
	messages := []map[string]string{{"type": "text", "text": out.Text}}
	if out.ReplyToken != "" {
		var ans sent
		res, err := p.call(ctx, "reply", http.MethodPost, p.api()+"/v2/bot/message/reply", creds.Token,
			map[string]any{"replyToken": out.ReplyToken, "messages": messages}, "", &ans)
		var ae *APIError
		if err == nil {
			return sentID(ans, res, "")
		}
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || out.To == "" {
			return "", err
		}
	}
	key := ""
	if out.Key != "" {
		key = RetryKey(out.Key)
	}
	var ans sent
	res, err := p.call(ctx, "push", http.MethodPost, p.api()+"/v2/bot/message/push", creds.Token,
		map[string]any{"to": out.To, "messages": messages}, key, &ans)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict && key != "" {
		return sentID(ans, res, "retry:"+key)
	}
	if err != nil {
		return "", err
	}
	return sentID(ans, res, "")
}

// sentID is the id of a sent message: sentMessages[0].id, else the accepted
// request's id (x-line-accepted-request-id), else fallback, else the
// request's id.
func sentID(ans sent, res *http.Response, fallback string) (string, error) {
	ids := []string{res.Header.Get("X-Line-Accepted-Request-Id"), fallback, res.Header.Get("X-Line-Request-Id")}
	if len(ans.SentMessages) > 0 {
		ids = append([]string{ans.SentMessages[0].ID}, ids...)
	}
	for _, id := range ids {
		if id != "" {
			return channel.Truncate(id, 100), nil
		}
	}
	return "", fmt.Errorf("line send: HTTP %d answer without a message id", res.StatusCode)
}

// RetryKey is the X-Line-Retry-Key of a part whose Outbound.Key is key: the
// SHA-256 of key shaped as a version-4 UUID, the same on every retry.
func RetryKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Fetch downloads an inbound message's content: by a.MediaID from the content
// API (GET /v2/bot/message/{id}/content with the token), or, for content of
// an external provider, from a.URL without the token (https only; http to a
// loopback host for tests). It returns the bytes and their Content-Type (else
// a.ContentType). More than max bytes wraps chanbridge.ErrTooLarge; content
// LINE is still preparing (a video: 202) is a transient error. Errors never
// contain the URL.
func (p *Provider) Fetch(ctx context.Context, creds chanbridge.Credentials, a channel.Attachment, max int64) ([]byte, string, error) {
	var endpoint, token string
	switch {
	case max <= 0:
		return nil, "", errors.New("line content: no size limit")
	case a.MediaID != "":
		if creds.Token == "" {
			return nil, "", fmt.Errorf("%w: line content: no channel access token", chanbridge.ErrRefused)
		}
		endpoint, token = p.data()+"/v2/bot/message/"+url.PathEscape(a.MediaID)+"/content", creds.Token
	case a.URL != "":
		if u, err := url.Parse(a.URL); err != nil || !fetchable(u) {
			return nil, "", fmt.Errorf("%w: line content: external URL is not https", chanbridge.ErrRefused)
		}
		endpoint = a.URL
	default:
		return nil, "", fmt.Errorf("%w: line content: attachment without a message id or URL", chanbridge.ErrRefused)
	}
	res, err := p.do(ctx, "content", http.MethodGet, endpoint, token, nil, "")
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if res.StatusCode/100 == 2 {
			return nil, "", fmt.Errorf("line content %s: HTTP %d, not ready yet", channel.Truncate(a.MediaID, 40), res.StatusCode)
		}
		return nil, "", answerError("content", res)
	}
	if res.ContentLength > max {
		return nil, "", fmt.Errorf("%w: line content of %d bytes, limit %d", chanbridge.ErrTooLarge, res.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, "", transportError("content", err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%w: line content over the limit of %d bytes", chanbridge.ErrTooLarge, max)
	}
	ct := res.Header.Get("Content-Type")
	if ct == "" {
		ct = a.ContentType
	}
	return data, ct, nil
}

// fetchable reports whether an external content URL may be fetched: https,
// or http to a loopback host (the fake).
func fetchable(u *url.URL) bool {
	if u.Scheme == "https" && u.Host != "" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func (p *Provider) api() string {
	if p.APIURL == "" {
		return DefaultAPIURL
	}
	return strings.TrimSuffix(p.APIURL, "/")
}

func (p *Provider) data() string {
	if p.DataURL == "" {
		return DefaultDataURL
	}
	return strings.TrimSuffix(p.DataURL, "/")
}

func (p *Provider) client() *http.Client { return channel.APIClient(p.HTTP) }

// do sends one request: JSON body if body is not nil, the Bearer token if
// any, the retry key if any. A network error names op, never the URL.
func (p *Provider) do(ctx context.Context, op, method, endpoint, token string, body any, retryKey string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("line %s: cannot encode the request", op)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return nil, fmt.Errorf("line %s: cannot build the request", op)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if retryKey != "" {
		req.Header.Set("X-Line-Retry-Key", retryKey)
	}
	res, err := p.client().Do(req)
	if err != nil {
		return nil, transportError(op, err)
	}
	return res, nil
}

// call does one JSON call and decodes a 2xx answer into ans (if not nil). A
// non-2xx answer is classified by answerError; its JSON body is still decoded
// into ans (LINE repeats sentMessages in a 409), and the response is returned
// with its headers (the body is closed).
func (p *Provider) call(ctx context.Context, op, method, endpoint, token string, body any, retryKey string, ans any) (*http.Response, error) {
	res, err := p.do(ctx, op, method, endpoint, token, body, retryKey)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		if res.StatusCode == http.StatusConflict && ans != nil {
			_ = json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(ans)
		}
		return res, answerError(op, res)
	}
	if ans == nil {
		return res, nil
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(ans); err != nil {
		return res, fmt.Errorf("line %s: HTTP %d answer is not the expected JSON", op, res.StatusCode)
	}
	return res, nil
}

// transportError is a network failure without the request's URL (url.Error
// quotes it, and an external content URL can be a credential).
func transportError(op string, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("line %s: %w", op, err)
}

// answerError classifies a non-2xx answer as an *APIError: a 429 as a
// *channel.RateLimitedError, any other 4xx but 408 wrapping
// chanbridge.ErrRefused, the rest (5xx, 408) as is: transient.
func answerError(op string, res *http.Response) error {
	ae := &APIError{Op: op, Status: res.StatusCode, RequestID: channel.Truncate(res.Header.Get("X-Line-Request-Id"), 64)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header.Get("Retry-After")), Err: ae}
	case res.StatusCode/100 == 4 && res.StatusCode != http.StatusRequestTimeout:
		return fmt.Errorf("%w: %w", chanbridge.ErrRefused, ae)
	}
	return ae
}

// retryAfter reads a Retry-After header, else RetryAfterDefault.
func retryAfter(h string) time.Duration {
	return channel.RetryAfterHeader(h, time.Now(), RetryAfterDefault)
}
