package dialogflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/livesupportbot/backend/shared/channel"
)

// DefaultTimeout bounds a detectIntent call when Client.Timeout is zero.
const DefaultTimeout = 8 * time.Second

// MaxText is the most characters of a query's text Dialogflow takes (ES and
// CX: 256); DetectIntent cuts a longer text to it.
const MaxText = 256

// RetryAfterDefault is the wait after a refusal for rate when Google names
// none (neither Retry-After nor a RetryInfo detail).
const RetryAfterDefault = 60 * time.Second

// maxRetryAfter bounds the wait Google names.
const maxRetryAfter = 24 * time.Hour

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// ErrAuth means Google refused our credentials: detectIntent answered 401
// (the access token is not valid: drop the TokenSource, a new one
// refreshes) or 403 (the account may not use the agent, or the Dialogflow
// API is off in the project), or the token endpoint refused our OAuth
// client.
var ErrAuth = errors.New("dialogflow: not authorized")

// ErrRefused means Google refused the request itself (400 INVALID_ARGUMENT,
// 404 NOT_FOUND: a wrong project, location, agent or environment; an
// authorization code that is used or expired): retrying cannot help.
var ErrRefused = errors.New("dialogflow: request refused")

// ErrInvalid means a call was not made: invalid settings, session id or
// text (see the message).
var ErrInvalid = errors.New("dialogflow: invalid request")

// errMalformed is a 2xx answer that is not the expected JSON.
var errMalformed = errors.New("dialogflow: detectIntent: the answer is not the expected JSON")

// StatusError is a failed answer of Google: the call, the HTTP status and
// Google's error status ("NOT_FOUND", "PERMISSION_DENIED") or OAuth error
// code ("invalid_grant") as its Reason; never anything of the request. What it is
// wrapped in says what it means (ErrAuth, ErrRefused, ErrRevoked, a
// *channel.RateLimitedError); a bare StatusError is transient.
type StatusError = channel.StatusError

// Client calls detectIntent. The zero value calls Google with DefaultTimeout;
// it holds no tenant state and is safe for concurrent use.
type Client struct {
	// BaseURL, when set, replaces "https://"+Host(location) (a fake in tests
	// and the local stack); the path still carries the location.
	BaseURL string
	// Timeout bounds a call, a token refresh included (default
	// DefaultTimeout).
	Timeout time.Duration
	// HTTPClient is the base client (default: http.DefaultTransport); the
	// oauth2 transport is layered on its Transport. Its Timeout, if shorter,
	// replaces Timeout. Redirects are never followed (the bearer token would
	// follow them).
	HTTPClient *http.Client
}

// Result is what the agent answered, for the conversation's channel.
type Result struct {
	Texts   []string // the messages meant for the conversation's channel, in order, non-empty
	Handoff bool     // hand to people: CX liveAgentHandoff; ES: a payload {"handoff": true}
	End     bool     // the agent ended the conversation: CX endInteraction; ES end_conversation
}

// DetectIntent sends the visitor's text to the agent of s in session
// (SessionID of the conversation), with the grant's access tokens from ts,
// and returns the answer for channel (our channel's name: "widget",
// "telegram"...; see the package doc). s is normalized first; invalid
// settings, a session id that is not SessionID's form, an empty text or a
// nil ts wrap ErrInvalid and nothing is sent. A text over MaxText
// characters is cut.
//
// Errors: a refresh refused with invalid_grant matches ErrRevoked; 401 and
// 403 (and our OAuth client refused at refresh) wrap ErrAuth; 429 or
// RESOURCE_EXHAUSTED is a *channel.RateLimitedError (Retry-After, else
// Google's RetryInfo, else RetryAfterDefault); other 4xx wrap ErrRefused;
// 5xx, an answer that is not the expected JSON, network failures and
// timeouts are transient. The whole call, token refresh included, returns
// within Timeout (a timeout wraps context.DeadlineExceeded).
func (c *Client) DetectIntent(ctx context.Context, ts oauth2.TokenSource, s Settings, session, text, channel string) (*Result, error) {
	if c == nil {
		c = &Client{}
	}
	s = s.Normalize()
	if p := s.Problems(); len(p) > 0 {
		fields := make([]string, 0, len(p))
		for f := range p {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		return nil, fmt.Errorf("%w: settings: %s", ErrInvalid, strings.Join(fields, ", "))
	}
	text = strings.TrimSpace(text)
	switch {
	case !sessionRE.MatchString(session):
		return nil, fmt.Errorf("%w: session id not of SessionID's form", ErrInvalid)
	case text == "":
		return nil, fmt.Errorf("%w: no text", ErrInvalid)
	case ts == nil:
		return nil, fmt.Errorf("%w: no token source", ErrInvalid)
	}
	body, err := json.Marshal(requestBody(s, cut(text, MaxText), channel))
	if err != nil {
		return nil, fmt.Errorf("%w: request body", ErrInvalid)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if c.HTTPClient != nil && c.HTTPClient.Timeout > 0 {
		timeout = min(timeout, c.HTTPClient.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := strings.TrimSuffix(c.BaseURL, "/")
	if base == "" {
		base = "https://" + Host(s.Location)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+detectPath(s, session), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot build the request", ErrInvalid)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	res, err := c.client(ctx, ts).Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if len(raw) > maxAnswer {
		return nil, fmt.Errorf("dialogflow: detectIntent: HTTP %d answer over %d bytes", res.StatusCode, maxAnswer)
	}
	if res.StatusCode/100 != 2 {
		return nil, classify(res, raw, time.Now())
	}
	return parseResponse(s.Edition, channel, raw)
}

// detectPath is the detectIntent path of session of the agent of s (valid and
// normalized):
//
//	ES  /v2/projects/{p}[/locations/{l}]/agent[/environments/{e}/users/-]/sessions/{s}:detectIntent
//	CX  /v3/projects/{p}/locations/{l}/agents/{a}[/environments/{e}]/sessions/{s}:detectIntent
//
// ES's path names the location only outside "global".
func detectPath(s Settings, session string) string {
	var b strings.Builder
	if s.Edition == EditionCX {
		b.WriteString("/v3/projects/" + s.Project + "/locations/" + s.Location + "/agents/" + s.Agent)
		if s.Environment != "" {
			b.WriteString("/environments/" + s.Environment)
		}
	} else {
		b.WriteString("/v2/projects/" + s.Project)
		if s.Location != "" && s.Location != DefaultLocation {
			b.WriteString("/locations/" + s.Location)
		}
		b.WriteString("/agent")
		if s.Environment != "" {
			b.WriteString("/environments/" + s.Environment + "/users/-")
		}
	}
	b.WriteString("/sessions/" + session + ":detectIntent")
	return b.String()
}

// requestBody is detectIntent's body: ES's language is the text's, CX's the
// query input's, and CX's query parameters name our channel.
func requestBody(s Settings, text, channel string) any {
	type textInput struct {
		Text         string `json:"text"`
		LanguageCode string `json:"languageCode,omitempty"`
	}
	if s.Edition == EditionCX {
		type queryParams struct {
			Channel string `json:"channel,omitempty"`
		}
		type body struct {
			QueryInput struct {
				Text         textInput `json:"text"`
				LanguageCode string    `json:"languageCode"`
			} `json:"queryInput"`
			QueryParams *queryParams `json:"queryParams,omitempty"`
		}
		var b body
		b.QueryInput.Text.Text = text
		b.QueryInput.LanguageCode = s.Language
		if channel != "" {
			b.QueryParams = &queryParams{Channel: channel}
		}
		return b
	}
	var b struct {
		QueryInput struct {
			Text textInput `json:"text"`
		} `json:"queryInput"`
	}
	b.QueryInput.Text = textInput{Text: text, LanguageCode: s.Language}
	return b
}

// cut is text's first n characters.
func cut(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return text[:i]
}

// client is c's HTTP client for one call: the oauth2 transport (its token
// source bounded by ctx) over c's base transport, following no redirects.
func (c *Client) client(ctx context.Context, ts oauth2.TokenSource) *http.Client {
	var hc http.Client
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &oauth2.Transport{Source: ctxSource{ctx: ctx, src: ts}, Base: base}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The call's context bounds it: a client's Timeout would call
	// oauth2.Transport's CancelRequest, which only logs.
	hc.Timeout = 0
	return &hc
}

// transportError is a failed call without its URL (url.Error quotes it): a
// token endpoint's error as classified, a timeout as
// context.DeadlineExceeded.
func transportError(ctx context.Context, err error) error {
	var ue *url.Error
	errors.As(err, &ue)
	err = channel.WithoutURL(err)
	var te *tokenErr
	switch {
	case errors.As(err, &te):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("dialogflow: detectIntent: %w", ctx.Err())
	case ue != nil && ue.Timeout():
		return fmt.Errorf("dialogflow: detectIntent: %w", context.DeadlineExceeded)
	}
	return fmt.Errorf("dialogflow: detectIntent: %w", err)
}

// googleError is Google's error answer.
type googleError struct {
	Error struct {
		Status  string `json:"status"`
		Details []struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		} `json:"details"`
	} `json:"error"`
}

// classify is the error of a failed detectIntent answer (see DetectIntent).
func classify(res *http.Response, raw []byte, now time.Time) error {
	var ge googleError
	_ = json.Unmarshal(raw, &ge)
	se := &StatusError{Service: "dialogflow", Call: "detectIntent", HTTPStatus: res.StatusCode, Reason: code(ge.Error.Status)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests || se.Reason == "RESOURCE_EXHAUSTED":
		return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header, ge, now), Err: se}
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrAuth, se)
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusConflict:
		return se // DEADLINE_EXCEEDED, ABORTED: retry
	case res.StatusCode/100 == 4:
		return fmt.Errorf("%w: %w", ErrRefused, se)
	}
	return se
}

// retryAfter is the wait Google asks after a refusal for rate: Retry-After
// (seconds or an HTTP date), else a RetryInfo detail's retryDelay ("30s"),
// else RetryAfterDefault; at least a second, at most a day.
func retryAfter(h http.Header, ge googleError, now time.Time) time.Duration {
	bound := func(d time.Duration) time.Duration { return min(max(d, time.Second), maxRetryAfter) }
	if d := channel.RetryAfterHeader(h.Get("Retry-After"), now, 0); d > 0 {
		return bound(d)
	}
	for _, d := range ge.Error.Details {
		if !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			continue
		}
		if s, err := strconv.ParseFloat(strings.TrimSuffix(d.RetryDelay, "s"), 64); err == nil && s > 0 && strings.HasSuffix(d.RetryDelay, "s") {
			return bound(time.Duration(min(s, 1<<20) * float64(time.Second)).Round(time.Second))
		}
	}
	return RetryAfterDefault
}
