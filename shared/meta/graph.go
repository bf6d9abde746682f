package meta

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
	"unicode/utf16"

	"github.com/livesupportbot/backend/shared/channel"
)

// DefaultBaseURL is the Graph API version the client speaks.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// Message tags and types of the Messenger Send API.
const (
	// TagHumanAgent lets a person answer on Messenger and Instagram up to 7
	// days after the contact's last message (the free window is 24 hours).
	TagHumanAgent = "HUMAN_AGENT"

	messagingResponse = "RESPONSE"
	messagingTag      = "MESSAGE_TAG"
)

// Text limits of one message, in characters (counted as UTF-16 code units,
// which is never fewer than the runes).
var textLimits = map[string]int{ChannelMessenger: 2000, ChannelInstagram: 1000, ChannelWhatsApp: 4096}

// RetryAfterDefault is how long to wait after a refusal for rate that names no
// Retry-After.
const RetryAfterDefault = 60 * time.Second

// maxAnswer bounds how much of a Graph answer the client reads.
const maxAnswer = 1 << 20

// ErrInvalid means a request was refused before it was sent (an unknown
// channel, a missing account or recipient, no text...). Permanent.
var ErrInvalid = errors.New("meta: invalid request")

// ErrTooLarge means a download is larger than its caller's limit. Permanent.
var ErrTooLarge = errors.New("meta: media is larger than allowed")

// Graph is a client of Meta's Graph API for the messaging products. The zero
// value uses DefaultBaseURL and a client with a 10 s timeout; it is safe for concurrent
// use. Tokens go in the Authorization header only.
type Graph struct {
	// BaseURL is the Graph API's base with its version, no trailing slash
	// (default DefaultBaseURL; metafake's URL in tests).
	BaseURL string
	// HTTP is the client to use (default: one with a 10 s timeout).
	HTTP *http.Client
}

// Outbound is one message to send.
type Outbound struct {
	// Channel is ChannelMessenger, ChannelInstagram or ChannelWhatsApp.
	Channel string
	// Account is the sending page or Instagram account id, or the WhatsApp
	// phone_number_id.
	Account string
	// To is the contact: PSID, IGSID or wa_id.
	To string
	// Text is the message's text (within the channel's limit: see Parts).
	Text string
	// Tag is TagHumanAgent to send outside the 24h window on Messenger or
	// Instagram, else "". WhatsApp has no tags: use a Template.
	Tag string
	// Template, on WhatsApp, sends an approved template instead of Text.
	Template *Template
}

// Template is an approved WhatsApp message template and its body parameters.
type Template struct {
	Name     string
	Language string // e.g. "en_US"
	Params   []string
}

// MediaInfo is what Graph tells of a WhatsApp media id.
type MediaInfo struct {
	// URL is where to Download the bytes, with the same token (short-lived).
	URL      string
	MimeType string
	Size     int64
}

// GraphError is an error answer of the Graph API. Its Error names the HTTP
// status and Graph's codes, never Meta's message text (it can quote content).
type GraphError struct {
	Status  int    // HTTP status
	Code    int    // error.code (190: invalid token, 131047: outside the window...)
	Subcode int    // error.error_subcode
	Type    string // error.type ("OAuthException")
	TraceID string // error.fbtrace_id, for Meta's support
}

func (e *GraphError) Error() string {
	s := "meta graph: HTTP " + strconv.Itoa(e.Status)
	if e.Code != 0 {
		s += ", code " + strconv.Itoa(e.Code)
	}
	if e.Subcode != 0 {
		s += ", subcode " + strconv.Itoa(e.Subcode)
	}
	if e.Type != "" {
		s += ", type " + channel.Truncate(e.Type, 40)
	}
	return s
}

// rateLimited reports whether Graph refused for rate: HTTP 429, the
// app/user/page limits (4, 17, 32, 613) or WhatsApp's throughput and pair
// limits (80007, 130429, 131056).
func (e *GraphError) rateLimited() bool {
	switch e.Code {
	case 4, 17, 32, 613, 80007, 130429, 131056:
		return true
	}
	return e.Status == http.StatusTooManyRequests
}

// outsideWindow reports whether the contact's window is closed: Messenger's
// code 10 subcode 2018278, WhatsApp's re-engagement 131047.
func (e *GraphError) outsideWindow() bool {
	return e.Code == 10 && e.Subcode == 2018278 || e.Code == 131047
}

// transient reports whether retrying may help: a 5xx, or Graph's unknown (1)
// and temporary (2) errors whatever their status.
func (e *GraphError) transient() bool {
	return e.Status >= 500 || e.Code == 1 || e.Code == 2
}

// Permanent reports whether retrying err cannot help: a Graph refusal that is
// not for rate and not a server error (an invalid token 190, a closed window,
// a user unavailable 551, a bad parameter), an invalid request, a download
// over its limit. Network errors, 5xx and rate refusals are not permanent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := channel.RetryAfter(err); ok {
		return false
	}
	if errors.Is(err, channel.ErrOutsideWindow) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) {
		return true
	}
	var ge *GraphError
	return errors.As(err, &ge) && ge.Status >= 400 && !ge.transient()
}

// ErrorCode is the code to record on a message that failed with err: Graph's
// code ("131047", "190"), with its subcode ("10/2018278"); "http_<status>"
// for an answer without a code; "invalid" or "too_large" for the client's own
// refusals; "" for anything else (a network error).
func ErrorCode(err error) string {
	var ge *GraphError
	switch {
	case errors.As(err, &ge) && ge.Code != 0 && ge.Subcode != 0:
		return strconv.Itoa(ge.Code) + "/" + strconv.Itoa(ge.Subcode)
	case ge != nil && ge.Code != 0:
		return strconv.Itoa(ge.Code)
	case ge != nil:
		return "http_" + strconv.Itoa(ge.Status)
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	}
	return ""
}

// Parts splits text into the messages channel takes: each within the
// channel's limit, cut on a rune boundary, after a whitespace when one is in
// the second half of the part. Joined, the parts are text; none is empty (no
// parts for an empty text). An unknown channel gets the text whole.
func Parts(channelName, text string) []string {
	limit, ok := textLimits[channelName]
	if !ok && text != "" {
		return []string{text}
	}
	return channel.SplitText(text, limit)
}

// Parts is the package's Parts, for callers holding a Graph.
func (g *Graph) Parts(channelName, text string) []string { return Parts(channelName, text) }

// Send sends one message and answers Meta's id of it (mid or wamid).
//
// Errors: a refusal for rate is a *channel.RateLimitedError (RetryAfter from
// Retry-After, else RetryAfterDefault); a closed window wraps
// channel.ErrOutsideWindow; both, and every Graph refusal, wrap a
// *GraphError. Use Permanent and ErrorCode to decide and record. The errors
// name the channel, account and codes; never the token, the recipient's text
// or a URL.
func (g *Graph) Send(ctx context.Context, token string, out Outbound) (providerMessageID string, err error) {
	body, err := sendBody(out)
	if err != nil {
		return "", err
	}
	var ans struct {
		MessageID string `json:"message_id"`
		Messages  []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	what := "send " + out.Channel + " from " + out.Account
	endpoint := g.base() + "/" + url.PathEscape(out.Account) + "/messages"
	if err := g.call(ctx, http.MethodPost, endpoint, token, body, &ans, what); err != nil {
		return "", err
	}
	id := ans.MessageID
	if len(ans.Messages) > 0 {
		id = ans.Messages[0].ID
	}
	if id == "" {
		return "", fmt.Errorf("meta graph: %s: answer without a message id", what)
	}
	return id, nil
}

// sendBody is the Send API body of out.
func sendBody(out Outbound) ([]byte, error) {
	limit, ok := textLimits[out.Channel]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: unknown channel %q", ErrInvalid, channel.Truncate(out.Channel, 40))
	case out.Account == "" || out.To == "":
		return nil, fmt.Errorf("%w: %s send without an account or a recipient", ErrInvalid, out.Channel)
	case out.Template != nil && out.Channel != ChannelWhatsApp:
		return nil, fmt.Errorf("%w: templates are WhatsApp's, not %s's", ErrInvalid, out.Channel)
	case out.Tag != "" && out.Channel == ChannelWhatsApp:
		return nil, fmt.Errorf("%w: WhatsApp has no message tags", ErrInvalid)
	case out.Template != nil && (out.Template.Name == "" || out.Template.Language == ""):
		return nil, fmt.Errorf("%w: template without a name or a language", ErrInvalid)
	case out.Template == nil && out.Text == "":
		return nil, fmt.Errorf("%w: %s send without text", ErrInvalid, out.Channel)
	case out.Template == nil && len(utf16.Encode([]rune(out.Text))) > limit:
		return nil, fmt.Errorf("%w: text over %s's limit of %d characters (see Parts)", ErrInvalid, out.Channel, limit)
	}
	var msg map[string]any
	switch {
	case out.Channel != ChannelWhatsApp:
		msg = map[string]any{"recipient": map[string]string{"id": out.To}, "messaging_type": messagingResponse,
			"message": map[string]string{"text": out.Text}}
		if out.Tag != "" {
			msg["messaging_type"], msg["tag"] = messagingTag, out.Tag
		}
	case out.Template != nil:
		tpl := map[string]any{"name": out.Template.Name, "language": map[string]string{"code": out.Template.Language}}
		if len(out.Template.Params) > 0 {
			params := make([]map[string]string, len(out.Template.Params))
			for i, p := range out.Template.Params {
				params[i] = map[string]string{"type": "text", "text": p}
			}
			tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
		}
		msg = map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.To,
			"type": "template", "template": tpl}
	default:
		msg = map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.To,
			"type": "text", "text": map[string]string{"body": out.Text}}
	}
	return json.Marshal(msg)
}

// Media looks up a WhatsApp media id: where its bytes are, their type and
// size.
func (g *Graph) Media(ctx context.Context, token, mediaID string) (MediaInfo, error) {
	if mediaID == "" || token == "" {
		return MediaInfo{}, fmt.Errorf("%w: media lookup without an id or a token", ErrInvalid)
	}
	var ans struct {
		URL      string      `json:"url"`
		MimeType string      `json:"mime_type"`
		FileSize json.Number `json:"file_size"`
	}
	what := "media " + channel.Truncate(mediaID, 80)
	if err := g.call(ctx, http.MethodGet, g.base()+"/"+url.PathEscape(mediaID), token, nil, &ans, what); err != nil {
		return MediaInfo{}, err
	}
	if ans.URL == "" {
		return MediaInfo{}, fmt.Errorf("meta graph: %s: answer without a url", what)
	}
	size, _ := ans.FileSize.Int64()
	return MediaInfo{URL: ans.URL, MimeType: ans.MimeType, Size: size}, nil
}

// Download fetches a media's bytes and their Content-Type: a WhatsApp media
// URL with the token that looked it up, a Messenger or Instagram CDN URL
// with token "". A body over max bytes is an error wrapping ErrTooLarge. The
// errors never contain the URL.
func (g *Graph) Download(ctx context.Context, token, rawURL string, max int64) (data []byte, contentType string, err error) {
	if max <= 0 {
		return nil, "", fmt.Errorf("%w: download without a size limit", ErrInvalid)
	}
	req, err := g.request(ctx, http.MethodGet, rawURL, token, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: download of an invalid URL", ErrInvalid)
	}
	res, err := g.client().Do(req)
	if err != nil {
		return nil, "", transportError("download", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, "", answerError(res)
	}
	if res.ContentLength > max {
		return nil, "", fmt.Errorf("%w: download of %d bytes, limit %d", ErrTooLarge, res.ContentLength, max)
	}
	data, err = io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, "", transportError("download", err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%w: download over the limit of %d bytes", ErrTooLarge, max)
	}
	return data, res.Header.Get("Content-Type"), nil
}

func (g *Graph) base() string { return channel.APIBase(g.BaseURL, DefaultBaseURL) }

func (g *Graph) client() *http.Client { return channel.APIClient(g.HTTP) }

func (g *Graph) request(ctx context.Context, method, rawURL, token string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// call does one Graph request and decodes a 2xx JSON answer into ans; what
// names the call in errors.
func (g *Graph) call(ctx context.Context, method, endpoint, token string, body []byte, ans any, what string) error {
	req, err := g.request(ctx, method, endpoint, token, body)
	if err != nil {
		return fmt.Errorf("%w: %s: cannot build the request", ErrInvalid, what)
	}
	res, err := g.client().Do(req)
	if err != nil {
		return transportError(what, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return answerError(res)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(ans); err != nil {
		return fmt.Errorf("meta graph: %s: HTTP %d answer is not the expected JSON", what, res.StatusCode)
	}
	return nil
}

// transportError is a network failure without the request's URL (url.Error
// quotes it, and a media URL is a credential).
func transportError(what string, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("meta graph: %s: %w", what, err)
}

// answerError classifies a non-2xx answer: a *GraphError, as a
// *channel.RateLimitedError for rate and wrapping channel.ErrOutsideWindow for
// a closed window.
func answerError(res *http.Response) error {
	var ans struct {
		Error struct {
			Type      string          `json:"type"`
			Code      json.RawMessage `json:"code"`
			Subcode   json.RawMessage `json:"error_subcode"`
			FBTraceID string          `json:"fbtrace_id"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(&ans)
	ge := &GraphError{Status: res.StatusCode, Code: number(ans.Error.Code), Subcode: number(ans.Error.Subcode),
		Type: ans.Error.Type, TraceID: channel.Truncate(ans.Error.FBTraceID, 64)}
	switch {
	case ge.rateLimited():
		return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header.Get("Retry-After")), Err: ge}
	case ge.outsideWindow():
		return fmt.Errorf("%w: %w", channel.ErrOutsideWindow, ge)
	}
	return ge
}

// number reads a Graph code sent as a number or a string of digits.
func number(raw json.RawMessage) int {
	n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	if err != nil {
		return 0
	}
	return n
}

// retryAfter reads a Retry-After header, else RetryAfterDefault.
func retryAfter(h string) time.Duration {
	return channel.RetryAfterHeader(h, time.Now(), RetryAfterDefault)
}
