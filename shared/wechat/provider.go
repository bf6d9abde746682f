package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
)

// DefaultBaseURL is WeChat's API.
const DefaultBaseURL = "https://api.weixin.qq.com"

// TextLimit is the most bytes (UTF-8) of one customer-service text message.
const TextLimit = 2048

// QuotaMax and QuotaLife are WeChat's customer-service rule: at most 5
// messages to a contact within 48 hours of each message of theirs.
const (
	QuotaMax  = 5
	QuotaLife = 48 * time.Hour
)

// RetryAfterMinute is how long to wait after errcode 45011 (the API's
// per-minute quota) or an unnamed refusal for rate.
const RetryAfterMinute = 60 * time.Second

// maxAnswer bounds how much of an API answer (JSON) the client reads.
const maxAnswer = 1 << 20

// WeChat's errcodes the client acts on.
const (
	CodeSystemBusy        = -1
	CodeInvalidCredential = 40001
	CodeInvalidOpenID     = 40003
	CodeInvalidMediaID    = 40007
	CodeInvalidAppID      = 40013
	CodeInvalidToken      = 40014
	CodeInvalidSecret     = 40125
	CodeIPNotWhitelisted  = 40164
	CodeTokenExpired      = 42001
	CodeUnsubscribed      = 43004
	CodeBlocked           = 43019
	CodeDailyQuota        = 45009
	CodeMinuteQuota       = 45011
	CodeReplyTimeLimit    = 45015
	CodeReplyCountLimit   = 45047
)

// codeNames are WeChat's meanings of the errcodes named in errors.
var codeNames = map[int]string{
	-1: "system busy", 40001: "invalid credential", 40002: "invalid grant_type", 40003: "invalid openid",
	40007: "invalid media_id", 40008: "invalid message type", 40013: "invalid appid", 40014: "invalid access_token",
	40125: "invalid appsecret", 40164: "IP not on the whitelist", 40243: "AppSecret frozen",
	41001: "access_token missing", 41002: "appid missing", 41004: "appsecret missing", 41006: "media_id missing",
	42001: "access_token expired", 43004: "user unsubscribed", 43019: "user blocked the account",
	44002: "empty post data", 45002: "content too long", 45009: "API daily quota reached",
	45011: "API minute quota reached", 45015: "reply time limit exceeded", 45047: "out of response count limit",
	48001: "API unauthorized", 48004: "API banned", 50001: "API unauthorized for the user", 50002: "user limited",
	89503: "call from a risky IP",
}

// tokenCodes are the errcodes of a refused access token.
var tokenCodes = map[int]bool{CodeInvalidCredential: true, CodeInvalidToken: true, CodeTokenExpired: true, 41001: true}

// finalCodes are the errcodes of a final refusal: retrying cannot help.
var finalCodes = map[int]bool{
	40002: true, CodeInvalidOpenID: true, CodeInvalidMediaID: true, 40008: true, CodeInvalidAppID: true,
	CodeInvalidSecret: true, CodeIPNotWhitelisted: true, 40243: true, 41002: true, 41004: true, 41006: true,
	CodeUnsubscribed: true, CodeBlocked: true, 44002: true, 45002: true, CodeReplyTimeLimit: true,
	CodeReplyCountLimit: true, 48001: true, 48004: true, 50001: true, 50002: true, 89503: true,
}

// APIError is a refusal of WeChat's API: its errcode (an answer with a
// non-zero errcode, in any HTTP status) or, for a failed HTTP answer, the
// HTTP status. Its Error names the API path and the codes, never WeChat's
// errmsg (it quotes the caller's IP and may quote input). A refused access
// token (40001, 40014, 41001, 42001) is chanbridge.ErrTokenExpired; a final
// refusal (finalCodes: invalid openid, unsubscribed, blocked, the reply
// window or count exceeded, a bad app id or secret, an IP not on the
// whitelist...) is chanbridge.ErrRefused (errors.Is). Refusals for rate come
// as a *channel.RateLimitedError wrapping it.
type APIError struct {
	Path       string // "cgi-bin/message/custom/send"...
	Code       int    // WeChat's errcode, 0 for an HTTP failure
	HTTPStatus int    // the HTTP status of a failed answer, else 0
}

func (e *APIError) Error() string {
	if e.HTTPStatus != 0 {
		return "wechat: " + e.Path + ": HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	verb := "failed"
	switch {
	case finalCodes[e.Code]:
		verb = "refused"
	case tokenCodes[e.Code]:
		verb = "refused the access token"
	}
	s := "wechat: " + e.Path + " " + verb + ": errcode " + strconv.Itoa(e.Code)
	if name, ok := codeNames[e.Code]; ok {
		s += " (" + name + ")"
	}
	if e.Code == CodeIPNotWhitelisted {
		s += ": the bridge's egress IP is not on the account's IP whitelist (WeChat console: Settings and Development > Basic Configuration > IP whitelist); add our fixed egress IPs"
	}
	return s
}

// Is makes a refused token chanbridge.ErrTokenExpired and a final refusal
// chanbridge.ErrRefused.
func (e *APIError) Is(target error) bool {
	switch target {
	case chanbridge.ErrTokenExpired:
		return e.HTTPStatus == 0 && tokenCodes[e.Code]
	case chanbridge.ErrRefused:
		return e.HTTPStatus == 0 && finalCodes[e.Code]
	}
	return false
}

// ErrInvalid means a call was refused before it was made (no app id or
// secret, no recipient or text, a text over TextLimit, an attachment without
// a media id, an EncodingAESKey that is not one). It wraps
// chanbridge.ErrRefused: retrying cannot help.
var ErrInvalid = fmt.Errorf("wechat: invalid request (%w)", chanbridge.ErrRefused)

// errNoAccess is a call without an access token: the bridge refreshes it.
var errNoAccess = fmt.Errorf("%w: wechat: no access token", chanbridge.ErrTokenExpired)

// Provider is WeChat's Official Account API as a chanbridge.Provider, with
// its optional parts. The zero value uses DefaultBaseURL and a client with a
// 10 s timeout; it holds no tenant state and is safe for concurrent use.
// Access tokens go in the access_token query parameter only (WeChat takes
// nothing else); no error quotes a URL.
type Provider struct {
	// BaseURL is the API's base, no trailing slash (default DefaultBaseURL;
	// wechatfake's URL in tests).
	BaseURL string
	// HTTPClient is the client to use (default: one with a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock of token expiries and of the inbound timestamps'
	// window (default time.Now).
	Now func() time.Time
}

var (
	_ chanbridge.Provider     = (*Provider)(nil)
	_ chanbridge.KeyedInbound = (*Provider)(nil)
	_ chanbridge.Handshaker   = (*Provider)(nil)
	_ chanbridge.Acker        = (*Provider)(nil)
	_ chanbridge.Refresher    = (*Provider)(nil)
	_ chanbridge.Quota        = (*Provider)(nil)
)

func (p *Provider) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// Inbound is the adapter without keys, Inbound{}: it verifies nothing (see
// Inbound). The bridge uses InboundFor.
func (p *Provider) Inbound() channel.Inbound { return Inbound{} }

// InboundFor is the adapter of the tenant's account: its URL token, AES key
// and app id, and the provider's clock.
func (p *Provider) InboundFor(creds chanbridge.Credentials) channel.Inbound { return p.inbound(creds) }

func (p *Provider) inbound(creds chanbridge.Credentials) Inbound {
	return Inbound{Token: creds.Token, AESKey: creds.AESKey, AppID: creds.AppID, Now: p.Now}
}

// VerifySecret is creds.Token, the URL token: WeChat signs with it.
func (p *Provider) VerifySecret(creds chanbridge.Credentials) string { return creds.Token }

// Handshake answers WeChat's GET check of the server URL with echostr as
// text/plain (Inbound.Handshake), or an error wrapping channel.ErrUnverified.
func (p *Provider) Handshake(req channel.Request, creds chanbridge.Credentials) (chanbridge.Reply, error) {
	echo, err := p.inbound(creds).Handshake(req)
	if err != nil {
		return chanbridge.Reply{}, err
	}
	return chanbridge.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: echo}, nil
}

// Ack is the answer WeChat expects to a message, at once (it retries after
// 5 seconds, three times): "success" as text/plain. Replies go later through
// the customer-service API.
func (p *Provider) Ack() chanbridge.Reply {
	return chanbridge.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: "success"}
}

// Quota is WeChat's customer-service rule: 5 messages within 48 hours of a
// contact's message (each part of a split text is one).
func (p *Provider) Quota() (int, time.Duration) { return QuotaMax, QuotaLife }

// Limit is the pace of sends to one contact: WeChat states no pace but the
// quota; one a second keeps the parts of a text in order and clear of the
// per-minute API quota (errcode 45011).
func (p *Provider) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 1, Burst: 1, Scope: channel.ScopeContact}
}

// Refresh obtains an access token with creds.AppID and creds.AppSecret
// (cgi-bin/stable_token; force_refresh when force, which invalidates the
// token in use at once: only the bridge's lease holder may force). A
// non-forced call returns the token in use while it is valid. A refused app
// id or secret, or a call from an IP not on the account's whitelist, wraps
// chanbridge.ErrRefused; -1 (busy) and other errcodes are transient, 45009
// and 45011 a *channel.RateLimitedError.
func (p *Provider) Refresh(ctx context.Context, creds chanbridge.Credentials, force bool) (chanbridge.Token, error) {
	if creds.AppID == "" || creds.AppSecret == "" {
		return chanbridge.Token{}, fmt.Errorf("%w: no app id or app secret", ErrInvalid)
	}
	body := map[string]any{"grant_type": "client_credential", "appid": creds.AppID, "secret": creds.AppSecret,
		"force_refresh": force}
	var ans struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	start := p.now()
	if err := p.call(ctx, http.MethodPost, "cgi-bin/stable_token", nil, body, &ans); err != nil {
		return chanbridge.Token{}, err
	}
	if ans.AccessToken == "" || ans.ExpiresIn <= 0 {
		return chanbridge.Token{}, errors.New("wechat: cgi-bin/stable_token: answer without a token or its life")
	}
	life := time.Duration(min(ans.ExpiresIn, 1<<20)) * time.Second
	return chanbridge.Token{Access: ans.AccessToken, Expires: start.Add(life)}, nil
}

// Account checks creds.Access (cgi-bin/get_api_domain_ip: WeChat has no
// cheaper call that needs a valid token) and returns the account: its app
// id, no name. A refused token wraps chanbridge.ErrTokenExpired.
func (p *Provider) Account(ctx context.Context, creds chanbridge.Credentials) (chanbridge.Account, error) {
	if creds.AppID == "" {
		return chanbridge.Account{}, fmt.Errorf("%w: no app id", ErrInvalid)
	}
	if creds.Access == "" {
		return chanbridge.Account{}, errNoAccess
	}
	var ans struct {
		IPList []string `json:"ip_list"`
	}
	if err := p.call(ctx, http.MethodGet, "cgi-bin/get_api_domain_ip", url.Values{"access_token": {creds.Access}}, nil, &ans); err != nil {
		return chanbridge.Account{}, err
	}
	return chanbridge.Account{ID: creds.AppID}, nil
}

// Connect checks creds: a URL token (the webhook verifies with it), an
// EncodingAESKey of 43 characters when one is set, and the access token
// (Account). The server URL is not registered through the API: the owner
// sets webhookURL, the token and the key in the WeChat console, which
// checks the URL with a GET (Handshake).
func (p *Provider) Connect(ctx context.Context, creds chanbridge.Credentials, _ string) (chanbridge.Account, error) {
	if creds.Token == "" {
		return chanbridge.Account{}, fmt.Errorf("%w: no URL token", ErrInvalid)
	}
	if creds.AESKey != "" {
		if _, err := aesKey(creds.AESKey); err != nil {
			return chanbridge.Account{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return p.Account(ctx, creds)
}

// Disconnect does nothing: the server URL is the owner's to remove in the
// console.
func (p *Provider) Disconnect(context.Context, chanbridge.Credentials) error { return nil }

// Parts splits text into messages of at most TextLimit bytes (Parts).
func (p *Provider) Parts(text string) []string { return Parts(text) }

// Parts splits text into messages of at most TextLimit bytes of UTF-8 (what
// WeChat counts), cut on a rune boundary, after a whitespace when one ends
// in the second half of the part. Joined, the parts are text; none is empty
// (no parts for an empty text).
func Parts(text string) []string { return splitBytes(text, TextLimit) }

// splitBytes is channel.SplitText counting bytes, not UTF-16 units.
func splitBytes(text string, limit int) []string {
	limit = max(limit, utf8.UTFMax)
	var parts []string
	for text != "" {
		cut, space := len(text), 0
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:]) // an invalid byte is one
			end := i + size
			if end > limit {
				cut = i
				break
			}
			if unicode.IsSpace(r) && end >= limit/2 {
				space = end
			}
			i = end
		}
		if cut < len(text) && space > 0 {
			cut = space
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return parts
}

// Send sends out.Text to the openid out.To through the customer-service API
// (cgi-bin/message/custom/send, msgtype text) with creds.Access. WeChat
// returns no message id: the id is "". It has no idempotency key either:
// out.Key is not used, and a send whose answer was lost is sent again by a
// retry.
//
// Errors: a refused access token (40001, 40014, 42001) wraps
// chanbridge.ErrTokenExpired (the bridge refreshes and tries once more);
// 45009 (daily API quota: until midnight, Beijing time) and 45011 (per
// minute) are a *channel.RateLimitedError; a final refusal (45015 the 48 h
// window closed, 45047 the 5 messages used, 43004 unsubscribed, 43019
// blocked, 40003 invalid openid, 40164 IP not whitelisted...) wraps
// chanbridge.ErrRefused and names the errcode; so do the client's own
// refusals (ErrInvalid). -1, other errcodes, HTTP failures and network
// errors are transient.
func (p *Provider) Send(ctx context.Context, creds chanbridge.Credentials, out chanbridge.Outbound) (string, error) {
	switch {
	case out.To == "":
		return "", fmt.Errorf("%w: send without a recipient", ErrInvalid)
	case out.Text == "":
		return "", fmt.Errorf("%w: send without text", ErrInvalid)
	case len(out.Text) > TextLimit:
		return "", fmt.Errorf("%w: text of %d bytes, over %d (see Parts)", ErrInvalid, len(out.Text), TextLimit)
	case creds.Access == "":
		return "", errNoAccess
	}
	msg := map[string]any{"touser": out.To, "msgtype": "text", "text": map[string]string{"content": out.Text}}
	if err := p.call(ctx, http.MethodPost, "cgi-bin/message/custom/send", url.Values{"access_token": {creds.Access}}, msg, nil); err != nil {
		return "", err
	}
	return "", nil
}

// Fetch downloads an inbound message's media by its id (cgi-bin/media/get
// with creds.Access), at most maxBytes: a larger one is an error wrapping
// chanbridge.ErrTooLarge. The content type is the answer's, else
// a.ContentType, else sniffed. WeChat answers a video with the JSON of its
// download URL (video_url), which Fetch then downloads (without the token;
// https only, as every file we copy).
// An errcode is classified as Send's (40007, invalid media id, is final);
// HTTP failures and network errors are transient. Errors never contain a
// URL.
func (p *Provider) Fetch(ctx context.Context, creds chanbridge.Credentials, a channel.Attachment, maxBytes int64) ([]byte, string, error) {
	switch {
	case maxBytes <= 0:
		return nil, "", fmt.Errorf("%w: fetch without a size limit", ErrInvalid)
	case a.MediaID == "":
		return nil, "", fmt.Errorf("%w: attachment without a media id", ErrInvalid)
	case creds.Access == "":
		return nil, "", errNoAccess
	}
	const path = "cgi-bin/media/get"
	q := url.Values{"access_token": {creds.Access}, "media_id": {a.MediaID}}
	res, err := p.do(ctx, http.MethodGet, p.base()+"/"+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, "", transportError(path, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, "", httpError(path, res.StatusCode)
	}
	ct := res.Header.Get("Content-Type")
	if isAnswer(ct) {
		// An errcode, or a video's URL (or, by WeChat's odd choice, a
		// file of this type: kept if under maxBytes).
		raw, err := io.ReadAll(io.LimitReader(res.Body, max(maxAnswer, maxBytes+1)))
		if err != nil {
			return nil, "", transportError(path, err)
		}
		var ans struct {
			ErrCode  *int64 `json:"errcode"`
			VideoURL string `json:"video_url"`
		}
		if json.Unmarshal(raw, &ans) == nil {
			if ans.ErrCode != nil && *ans.ErrCode != 0 {
				return nil, "", codeError(path, *ans.ErrCode, p.now())
			}
			if ans.VideoURL != "" {
				if err := attachment.Fetchable(ans.VideoURL); err != nil {
					return nil, "", fmt.Errorf("%w: the video's download URL is not https", ErrInvalid)
				}
				return p.download(ctx, ans.VideoURL, a, maxBytes)
			}
		}
		return checkSize(raw, ct, a, maxBytes)
	}
	return readMedia(res, a, maxBytes, path)
}

// download gets a video from WeChat's download URL, at most maxBytes.
func (p *Provider) download(ctx context.Context, raw string, a channel.Attachment, maxBytes int64) ([]byte, string, error) {
	const what = "video download"
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, "", errors.New("wechat: cgi-bin/media/get: video answer without an http(s) URL")
	}
	res, err := p.do(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", transportError(what, err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode/100 == 4:
		return nil, "", fmt.Errorf("%w: %w", chanbridge.ErrRefused, &APIError{Path: what, HTTPStatus: res.StatusCode})
	case res.StatusCode/100 != 2:
		return nil, "", &APIError{Path: what, HTTPStatus: res.StatusCode}
	}
	if a.ContentType == "" {
		a.ContentType = "video/mp4"
	}
	return readMedia(res, a, maxBytes, what)
}

// readMedia reads a media answer's body, at most maxBytes.
func readMedia(res *http.Response, a channel.Attachment, maxBytes int64, what string) ([]byte, string, error) {
	if res.ContentLength > maxBytes {
		return nil, "", fmt.Errorf("%w: wechat media of %d bytes, limit %d", chanbridge.ErrTooLarge, res.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBytes+1))
	if err != nil {
		return nil, "", transportError(what, err)
	}
	return checkSize(data, res.Header.Get("Content-Type"), a, maxBytes)
}

// checkSize refuses data over maxBytes and picks its content type.
func checkSize(data []byte, ct string, a channel.Attachment, maxBytes int64) ([]byte, string, error) {
	if int64(len(data)) > maxBytes {
		return nil, "", fmt.Errorf("%w: wechat media over the limit of %d bytes", chanbridge.ErrTooLarge, maxBytes)
	}
	if ct == "" || ct == "application/octet-stream" {
		ct = a.ContentType
	}
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	return data, ct, nil
}

// isAnswer tells a content type of WeChat's JSON answers: it sends errors as
// application/json or text/plain.
func isAnswer(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "text/plain" || mt == "text/json")
}

func (p *Provider) base() string { return channel.APIBase(p.BaseURL, DefaultBaseURL) }

func (p *Provider) client() *http.Client { return channel.APIClient(p.HTTPClient) }

// do makes a request (body JSON when not nil).
func (p *Provider) do(ctx context.Context, method, u string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return p.client().Do(req)
}

// call makes an API call to path with query (the access token) and body
// (JSON, nil for none) and decodes an answer of errcode 0 into ans (nil:
// only the errcode is read). A non-zero errcode or a failed HTTP answer is
// classified (see Send).
func (p *Provider) call(ctx context.Context, method, path string, query url.Values, body, ans any) error {
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return fmt.Errorf("%w: %s body", ErrInvalid, path)
		}
		rd = &buf
	}
	u := p.base() + "/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	res, err := p.do(ctx, method, u, rd)
	if err != nil {
		return transportError(path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return transportError(path, err)
	}
	var head struct {
		ErrCode int64 `json:"errcode"`
	}
	jsonErr := json.Unmarshal(raw, &head)
	if jsonErr == nil && head.ErrCode != 0 {
		return codeError(path, head.ErrCode, p.now())
	}
	if res.StatusCode/100 != 2 {
		return httpError(path, res.StatusCode)
	}
	if jsonErr != nil {
		return fmt.Errorf("wechat: %s: HTTP %d answer is not the expected JSON", path, res.StatusCode)
	}
	if ans != nil {
		if err := json.Unmarshal(raw, ans); err != nil {
			return fmt.Errorf("wechat: %s: answer is not the expected JSON", path)
		}
	}
	return nil
}

// codeError classifies a non-zero errcode: 45009 and 45011 are refusals for
// rate, the others an *APIError (final, token or transient by its code).
func codeError(path string, code int64, now time.Time) error {
	e := &APIError{Path: path, Code: int(max(min(code, 1<<30), -1<<30))}
	switch e.Code {
	case CodeDailyQuota:
		return &channel.RateLimitedError{RetryAfter: untilBeijingMidnight(now), Err: e}
	case CodeMinuteQuota:
		return &channel.RateLimitedError{RetryAfter: RetryAfterMinute, Err: e}
	}
	return e
}

// beijing is China Standard Time (UTC+8, no daylight saving): WeChat's daily
// quotas reset at its midnight.
var beijing = time.FixedZone("CST", 8*60*60)

// untilBeijingMidnight is how long from now to the next midnight in Beijing,
// at least RetryAfterMinute.
func untilBeijingMidnight(now time.Time) time.Duration {
	t := now.In(beijing)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, beijing)
	return max(next.Sub(now), RetryAfterMinute)
}

// httpError is a failed HTTP answer without an errcode: 429 is a refusal for
// rate, others transient.
func httpError(path string, status int) error {
	e := &APIError{Path: path, HTTPStatus: status}
	if status == http.StatusTooManyRequests {
		return &channel.RateLimitedError{RetryAfter: RetryAfterMinute, Err: e}
	}
	return e
}

// transportError is a network failure without the request's URL (url.Error
// quotes it, access token included).
func transportError(what string, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("wechat: %s: %w", what, err)
}
