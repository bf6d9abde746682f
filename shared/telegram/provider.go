package telegram

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
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/channel"
)

// DefaultBaseURL is the Bot API's base.
const DefaultBaseURL = "https://api.telegram.org"

// MaxText is the longest text of one message, in characters (counted as
// UTF-16 code units, which is never fewer than the runes).
const MaxText = 4096

// RetryAfterDefault is how long to wait after a refusal for rate that names no
// retry_after.
const RetryAfterDefault = 30 * time.Second

// AllowedUpdates are the update types the webhook asks for.
var AllowedUpdates = []string{"message", "edited_message", "my_chat_member"}

// maxAnswer bounds how much of a Bot API answer is read.
const maxAnswer = 1 << 20

// Provider is Telegram's Bot API as a chanbridge.Provider. The zero value
// uses DefaultBaseURL and a client with a 10 s timeout; it holds no tenant
// state and is safe for concurrent use. The bot token is part of every Bot
// API URL, so no URL ever leaves it.
type Provider struct {
	// BaseURL is the Bot API's base, no trailing slash (default
	// DefaultBaseURL; telegramfake's URL in tests).
	BaseURL string
	// HTTP is the client to use (default: one with a 10 s timeout).
	HTTP *http.Client
}

var _ chanbridge.Provider = (*Provider)(nil)

// APIError is an error answer of the Bot API. Its Error names the method and
// the error code, never Telegram's description. A 4xx other than 429 (bad
// request, unauthorized, forbidden: the bot was blocked or kicked...) wraps
// chanbridge.ErrRefused; a 429 comes as a *channel.RateLimitedError wrapping
// the APIError.
type APIError struct {
	Method     string        // the Bot API method ("sendMessage"), or "file" for a download
	Code       int           // error_code, else the HTTP status
	RetryAfter time.Duration // parameters.retry_after of a 429
}

func (e *APIError) Error() string {
	s := "telegram: " + e.Method + ": " + strconv.Itoa(e.Code)
	if text := http.StatusText(e.Code); text != "" {
		s += " " + strings.ToLower(text)
	}
	return s
}

// Unwrap is chanbridge.ErrRefused for a final refusal, else nil.
func (e *APIError) Unwrap() error {
	if e.Code >= 400 && e.Code < 500 && e.Code != http.StatusTooManyRequests {
		return chanbridge.ErrRefused
	}
	return nil
}

// Inbound is the webhook's adapter, Inbound{}.
func (*Provider) Inbound() channel.Inbound { return Inbound{} }

// VerifySecret is creds.WebhookSecret, the secret_token given to setWebhook.
func (*Provider) VerifySecret(creds chanbridge.Credentials) string { return creds.WebhookSecret }

// Limit is 1 send a second per chat.
func (*Provider) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 1, Burst: 1, Scope: channel.ScopeContact}
}

// Connect checks the token with getMe (a refused token wraps
// chanbridge.ErrRefused) and registers webhookURL with setWebhook, with
// creds.WebhookSecret as secret_token (1 to 256 of A-Z a-z 0-9 _ -: another
// is an error before any call) and AllowedUpdates. Updates pending from before
// are kept. The account is the bot: its id and username.
func (p *Provider) Connect(ctx context.Context, creds chanbridge.Credentials, webhookURL string) (chanbridge.Account, error) {
	if !ValidSecret(creds.WebhookSecret) {
		return chanbridge.Account{}, errors.New("telegram: the webhook secret must be 1 to 256 of A-Z a-z 0-9 _ -")
	}
	if webhookURL == "" {
		return chanbridge.Account{}, errors.New("telegram: no webhook URL")
	}
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return chanbridge.Account{}, err
	}
	hook := map[string]any{"url": webhookURL, "secret_token": creds.WebhookSecret, "allowed_updates": AllowedUpdates}
	if err := p.call(ctx, creds.Token, "setWebhook", hook, nil); err != nil {
		return chanbridge.Account{}, err
	}
	return acct, nil
}

// Account checks the bot token (getMe) and returns the bot.
func (p *Provider) Account(ctx context.Context, creds chanbridge.Credentials) (chanbridge.Account, error) {
	var me struct {
		ID       int64  `json:"id"`
		IsBot    bool   `json:"is_bot"`
		Username string `json:"username"`
	}
	if err := p.call(ctx, creds.Token, "getMe", struct{}{}, &me); err != nil {
		return chanbridge.Account{}, err
	}
	if me.ID == 0 || !me.IsBot {
		return chanbridge.Account{}, fmt.Errorf("%w: telegram: getMe: the token is not a bot's", chanbridge.ErrRefused)
	}
	return chanbridge.Account{ID: strconv.FormatInt(me.ID, 10), Name: me.Username}, nil
}

// Disconnect removes the bot's webhook (deleteWebhook; none is no error).
func (p *Provider) Disconnect(ctx context.Context, creds chanbridge.Credentials) error {
	return p.call(ctx, creds.Token, "deleteWebhook", struct{}{}, nil)
}

// Parts splits text into messages of at most MaxText characters, cut on a
// rune boundary, after a whitespace when one is in the second half of the
// part. A part of whitespace only (which Telegram would refuse as empty) is
// left out, so an empty or blank text has no parts; otherwise, joined, the
// parts are text.
func (*Provider) Parts(text string) []string {
	var parts []string
	for _, p := range channel.SplitText(text, MaxText) {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// Send sends one part with sendMessage (plain text, no parse mode) to the
// chat out.To and answers the message_id. A 429 is a *channel.RateLimitedError
// with retry_after; a 4xx (blocked by the user, chat not found, bad token) is
// an *APIError wrapping chanbridge.ErrRefused, as is a part Telegram cannot
// take (no chat, empty or over MaxText: see Parts); anything else is
// transient.
func (p *Provider) Send(ctx context.Context, creds chanbridge.Credentials, out chanbridge.Outbound) (string, error) {
	if out.To == "" || strings.TrimSpace(out.Text) == "" || len(utf16.Encode([]rune(out.Text))) > MaxText {
		return "", fmt.Errorf("%w: telegram: sendMessage without a chat, or with an empty or too long text", chanbridge.ErrRefused)
	}
	var chatID any = out.To
	if id, err := strconv.ParseInt(out.To, 10, 64); err == nil {
		chatID = id
	}
	var sent struct {
		MessageID int64 `json:"message_id"`
	}
	if err := p.call(ctx, creds.Token, "sendMessage", map[string]any{"chat_id": chatID, "text": out.Text}, &sent); err != nil {
		return "", err
	}
	if sent.MessageID == 0 {
		return "", errors.New("telegram: sendMessage: answer without a message_id")
	}
	return strconv.FormatInt(sent.MessageID, 10), nil
}

// Fetch downloads a.MediaID's file: getFile, then the file's URL (which
// carries the token and never leaves Fetch). Over max bytes (as the update,
// getFile or the download says) is an error wrapping chanbridge.ErrTooLarge.
// The content type is the download's, else a's, else the file extension's,
// else application/octet-stream.
func (p *Provider) Fetch(ctx context.Context, creds chanbridge.Credentials, a channel.Attachment, max int64) ([]byte, string, error) {
	switch {
	case a.MediaID == "":
		return nil, "", fmt.Errorf("%w: telegram: attachment without a file id", chanbridge.ErrRefused)
	case max <= 0:
		return nil, "", errors.New("telegram: download without a size limit")
	case a.Size > max:
		return nil, "", fmt.Errorf("%w: telegram: file of %d bytes, limit %d", chanbridge.ErrTooLarge, a.Size, max)
	}
	var f struct {
		FileSize int64  `json:"file_size"`
		FilePath string `json:"file_path"`
	}
	if err := p.call(ctx, creds.Token, "getFile", map[string]string{"file_id": a.MediaID}, &f); err != nil {
		return nil, "", err
	}
	if f.FileSize > max {
		return nil, "", fmt.Errorf("%w: telegram: file of %d bytes, limit %d", chanbridge.ErrTooLarge, f.FileSize, max)
	}
	if f.FilePath == "" {
		return nil, "", errors.New("telegram: getFile: answer without a file_path")
	}
	segs := strings.Split(f.FilePath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base()+"/file/bot"+creds.Token+"/"+strings.Join(segs, "/"), nil)
	if err != nil {
		return nil, "", errors.New("telegram: file: cannot build the request")
	}
	res, err := p.client().Do(req)
	if err != nil {
		return nil, "", transportError("file", creds.Token, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, "", &APIError{Method: "file", Code: res.StatusCode}
	}
	if res.ContentLength > max {
		return nil, "", fmt.Errorf("%w: telegram: file of %d bytes, limit %d", chanbridge.ErrTooLarge, res.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, "", transportError("file", creds.Token, err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%w: telegram: file over the limit of %d bytes", chanbridge.ErrTooLarge, max)
	}
	return data, contentType(res.Header.Get("Content-Type"), a.ContentType, f.FilePath), nil
}

// contentType picks a download's type: the server's unless it is generic,
// else the update's, else by the file's extension.
func contentType(served, inUpdate, filePath string) string {
	const generic = "application/octet-stream"
	switch {
	case served != "" && served != generic:
		return served
	case inUpdate != "":
		return inUpdate
	}
	if t := mime.TypeByExtension(path.Ext(filePath)); t != "" {
		return t
	}
	return generic
}

func (p *Provider) base() string { return channel.APIBase(p.BaseURL, DefaultBaseURL) }

func (p *Provider) client() *http.Client { return channel.APIClient(p.HTTP) }

// validToken reports whether a token can be put in a URL path as it is: not
// empty, only A-Z a-z 0-9 : _ - (Telegram's are "<bot id>:<secret>").
func validToken(t string) bool {
	if t == "" || len(t) > 256 {
		return false
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// call posts in as JSON to a Bot API method and decodes the result of an
// ok answer into out (unless out is nil). A refusal is an *APIError (as a
// *channel.RateLimitedError for a 429); a network error names the method
// only.
func (p *Provider) call(ctx context.Context, token, method string, in, out any) error {
	if !validToken(token) {
		return fmt.Errorf("%w: telegram: %s: no token, or not a bot token", chanbridge.ErrRefused, method)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("telegram: %s: cannot encode the request", method)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base()+"/bot"+token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram: %s: cannot build the request", method)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client().Do(req)
	if err != nil {
		return transportError(method, token, err)
	}
	defer res.Body.Close()
	var ans struct {
		OK         bool            `json:"ok"`
		Result     json.RawMessage `json:"result"`
		ErrorCode  int             `json:"error_code"`
		Parameters struct {
			RetryAfter int64 `json:"retry_after"`
		} `json:"parameters"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(&ans)
	if decodeErr == nil && ans.OK && res.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(ans.Result, out); err != nil {
			return fmt.Errorf("telegram: %s: the result is not the expected JSON", method)
		}
		return nil
	}
	e := &APIError{Method: method, Code: ans.ErrorCode}
	if decodeErr != nil || e.Code == 0 {
		e.Code = res.StatusCode
		if e.Code/100 == 2 {
			return fmt.Errorf("telegram: %s: HTTP %d answer is not ok", method, res.StatusCode)
		}
	}
	if e.Code == http.StatusTooManyRequests {
		e.RetryAfter = RetryAfterDefault
		if s := ans.Parameters.RetryAfter; s > 0 && s < 1<<20 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return &channel.RateLimitedError{RetryAfter: e.RetryAfter, Err: e}
	}
	return e
}

// transportError is a network failure without the request's URL (url.Error
// quotes it, and every Bot API URL holds the token); one that still names the
// token is replaced by a plain failure.
func transportError(method, token string, err error) error {
	err = channel.WithoutURL(err)
	if strings.Contains(err.Error(), token) {
		return fmt.Errorf("telegram: %s: request failed", method)
	}
	return fmt.Errorf("telegram: %s: %w", method, err)
}
