package zendesk

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

	"github.com/livesupportbot/backend/shared/channel"
)

// Paths of the Support API calls the client makes.
const (
	PathMe      = "/api/v2/users/me.json"
	PathTickets = "/api/v2/tickets.json"
)

// IdempotencyHeader is the request header of ticket creation's idempotency
// key; Zendesk answers a replay from its record of the first request, with
// LookupHeader "hit" (a first request: "miss").
const (
	IdempotencyHeader = "Idempotency-Key"
	LookupHeader      = "X-Idempotency-Lookup"
)

// MaxIdempotencyKey is the longest idempotency key Zendesk takes.
const MaxIdempotencyKey = 255

// RetryAfterDefault is how long to wait after a 429 without a usable
// Retry-After header.
const RetryAfterDefault = 60 * time.Second

// maxAnswer bounds how much of an API answer the client reads.
const maxAnswer = 1 << 20

// ErrRefused marks a final refusal: credentials Zendesk does not take (401,
// 403, an anonymous or end-user identity), a ticket it will not update (404
// deleted, 422 closed or invalid), or a request the client refuses to make
// (no credentials, an invalid subdomain or ticket id, no comment text).
// Retrying cannot help.
var ErrRefused = errors.New("zendesk: refused")

// StatusError is a failed HTTP answer of the API: the call, the HTTP status
// and Zendesk's error code ("RecordNotFound", "RecordInvalid"...) when the
// answer names one. Its Error names those only, never Zendesk's description
// (it may quote the request). A refusal (see ErrRefused) matches
// ErrRefused; any other status is transient.
type StatusError struct {
	Op         string // "users/me", "create ticket", "add comment"
	HTTPStatus int
	Code       string
	Refused    bool
}

func (e *StatusError) Error() string {
	s := "zendesk: " + e.Op + ": HTTP " + strconv.Itoa(e.HTTPStatus)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Refused {
		s += ", refused"
	}
	return s
}

// Is matches ErrRefused when the status is a refusal.
func (e *StatusError) Is(target error) bool { return e.Refused && target == ErrRefused }

// Client calls a tenant's Zendesk Support API as an agent, with the agent's
// email and an API token (Basic auth "email/token:apitoken"). The zero
// HTTPClient is one with a 10 s timeout that follows no redirects. A Client
// is safe for concurrent use.
type Client struct {
	// Subdomain is the account's subdomain ("acme" of acme.zendesk.com):
	// lower-case letters, digits and hyphens.
	Subdomain string
	Email     string
	APIToken  string
	// BaseURL replaces "https://<subdomain>.zendesk.com" (zendeskfake's URL
	// in tests and the local stack); no trailing slash needed.
	BaseURL string
	// HTTPClient is the client to use (default: 10 s timeout, no redirects).
	HTTPClient *http.Client
}

// User is the identity the credentials authenticate as.
type User struct {
	ID   string
	Name string // personal data: never logged
	Role string // "admin", "agent" or "end-user"
}

// NewTicket is a ticket to open: the transcript as its first, public
// comment.
type NewTicket struct {
	Subject string
	// Body is the first comment's text (required).
	Body string
	// RequesterName and RequesterEmail make the visitor the requester (a new
	// end user if the email is unknown to Zendesk). Without an email no
	// requester is sent, and Zendesk makes the API's agent the requester.
	RequesterName  string
	RequesterEmail string
	// ExternalID is our reference of the conversation, echoed in the ticket
	// events' detail.external_id.
	ExternalID string
	Tags       []string
}

// Ticket is a ticket CreateTicket opened.
type Ticket struct {
	ID          string
	RequesterID string
	Status      string // "new", "open"...
	// Replayed is true when Zendesk answered from its record of an earlier
	// request with the same idempotency key: no ticket was created now.
	Replayed bool
}

// Comment is a comment to add to a ticket.
type Comment struct {
	Body   string
	Public bool
	// AuthorID is the user to author the comment (the requester's id makes it
	// the visitor's, with AuthorStaff false in its event); "" is the API's
	// agent.
	AuthorID string
}

// defaultClient bounds every call; it follows no redirects (the API makes
// none, and a POST must not turn into a GET elsewhere).
var defaultClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Me returns the user the credentials authenticate as (GET
// /api/v2/users/me.json). Credentials Zendesk refuses (401), or that
// authenticate nobody (Zendesk answers an anonymous user, id null) or only
// an end user, wrap ErrRefused: the bridge needs an agent.
func (c *Client) Me(ctx context.Context) (User, error) {
	var ans struct {
		User struct {
			ID   integer `json:"id"`
			Name string  `json:"name"`
			Role string  `json:"role"`
		} `json:"user"`
	}
	if _, err := c.call(ctx, "users/me", http.MethodGet, PathMe, nil, nil, &ans); err != nil {
		return User{}, err
	}
	u := User{ID: string(ans.User.ID), Name: ans.User.Name, Role: ans.User.Role}
	switch {
	case u.ID == "":
		return User{}, fmt.Errorf("%w: users/me: the credentials authenticate no user", ErrRefused)
	case u.Role != "admin" && u.Role != "agent":
		return User{}, fmt.Errorf("%w: users/me: user %s has role %q, not agent or admin", ErrRefused, u.ID, channel.Truncate(u.Role, 20))
	}
	return u, nil
}

// CreateTicket opens t (POST /api/v2/tickets.json) with idempotencyKey in
// the Idempotency-Key header: a retry with the same key and the same t gets
// the first answer (Ticket.Replayed) and creates no second ticket. Zendesk
// keeps a key for about two hours; keys are at most 255 characters. An empty
// key sends none (a retry may then create a second ticket).
func (c *Client) CreateTicket(ctx context.Context, t NewTicket, idempotencyKey string) (Ticket, error) {
	if strings.TrimSpace(t.Body) == "" {
		return Ticket{}, fmt.Errorf("%w: create ticket without a comment", ErrRefused)
	}
	if len(idempotencyKey) > MaxIdempotencyKey || !printable(idempotencyKey) {
		return Ticket{}, fmt.Errorf("%w: create ticket: idempotency key of %d bytes, want at most %d printable ASCII",
			ErrRefused, len(idempotencyKey), MaxIdempotencyKey)
	}
	ticket := map[string]any{"subject": t.Subject, "comment": map[string]any{"body": t.Body, "public": true}}
	if t.RequesterEmail != "" {
		req := map[string]string{"email": t.RequesterEmail}
		if t.RequesterName != "" {
			req["name"] = t.RequesterName
		}
		ticket["requester"] = req
	}
	if t.ExternalID != "" {
		ticket["external_id"] = t.ExternalID
	}
	if len(t.Tags) > 0 {
		ticket["tags"] = t.Tags
	}
	var hdr http.Header
	if idempotencyKey != "" {
		hdr = http.Header{IdempotencyHeader: {idempotencyKey}}
	}
	var ans struct {
		Ticket struct {
			ID          integer `json:"id"`
			RequesterID integer `json:"requester_id"`
			Status      string  `json:"status"`
		} `json:"ticket"`
	}
	res, err := c.call(ctx, "create ticket", http.MethodPost, PathTickets, hdr, map[string]any{"ticket": ticket}, &ans)
	if err != nil {
		return Ticket{}, err
	}
	if ans.Ticket.ID == "" {
		return Ticket{}, errors.New("zendesk: create ticket: answer without a ticket id")
	}
	return Ticket{ID: string(ans.Ticket.ID), RequesterID: string(ans.Ticket.RequesterID), Status: ans.Ticket.Status,
		Replayed: strings.EqualFold(res.Get(LookupHeader), "hit")}, nil
}

// AddComment adds cm to the ticket (PUT /api/v2/tickets/{id}.json) and
// returns the new comment's id, from the answer's audit ("" if the answer
// has no Comment event). A ticket deleted (404) or closed (422) wraps
// ErrRefused. Zendesk has no idempotency for updates: a retry of a call
// whose answer was lost adds the comment again.
func (c *Client) AddComment(ctx context.Context, ticketID string, cm Comment) (string, error) {
	id, ok := canonical(ticketID)
	if !ok || id == "" {
		return "", fmt.Errorf("%w: add comment: ticket id is not a positive integer", ErrRefused)
	}
	if strings.TrimSpace(cm.Body) == "" {
		return "", fmt.Errorf("%w: add comment without text", ErrRefused)
	}
	comment := map[string]any{"body": cm.Body, "public": cm.Public}
	if cm.AuthorID != "" {
		author, ok := canonical(cm.AuthorID)
		if !ok {
			return "", fmt.Errorf("%w: add comment: author id is not an integer", ErrRefused)
		}
		n, _ := strconv.ParseUint(author, 10, 64)
		comment["author_id"] = n
	}
	var ans struct {
		Audit struct {
			Events []struct {
				ID   integer `json:"id"`
				Type string  `json:"type"`
			} `json:"events"`
		} `json:"audit"`
	}
	body := map[string]any{"ticket": map[string]any{"comment": comment}}
	if _, err := c.call(ctx, "add comment", http.MethodPut, "/api/v2/tickets/"+id+".json", nil, body, &ans); err != nil {
		return "", err
	}
	for _, e := range ans.Audit.Events {
		if e.Type == "Comment" && e.ID != "" {
			return string(e.ID), nil
		}
	}
	return "", nil
}

// base is the API's base URL, or an error wrapping ErrRefused.
func (c *Client) base() (string, error) {
	if c.BaseURL != "" {
		return strings.TrimSuffix(c.BaseURL, "/"), nil
	}
	if !validSubdomain(c.Subdomain) {
		return "", fmt.Errorf("%w: subdomain is not 1 to 63 lower-case letters, digits and hyphens", ErrRefused)
	}
	return "https://" + c.Subdomain + ".zendesk.com", nil
}

// validSubdomain keeps the credentials on a host of zendesk.com: a DNS label.
func validSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// printable reports whether s is printable ASCII (a header value).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (c *Client) client() *http.Client {
	if c.HTTPClient == nil {
		return defaultClient
	}
	return c.HTTPClient
}

// call makes one API call: body (nil: none) as JSON, the answer of a 2xx
// decoded into ans. It returns the answer's headers.
func (c *Client) call(ctx context.Context, op, method, path string, hdr http.Header, body, ans any) (http.Header, error) {
	if c.Email == "" || c.APIToken == "" {
		return nil, fmt.Errorf("%w: %s without an email and API token", ErrRefused, op)
	}
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, fmt.Errorf("%w: %s: body does not encode", ErrRefused, op)
		}
		rd = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: cannot build the request (base URL?)", ErrRefused, op)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.Email+"/token", c.APIToken)
	res, err := c.client().Do(req)
	if err != nil {
		return nil, transportError(op, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, transportError(op, req.URL, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, statusError(op, res, raw)
	}
	if ans != nil {
		if err := json.Unmarshal(raw, ans); err != nil {
			return nil, fmt.Errorf("zendesk: %s: HTTP %d answer is not the expected JSON (%s)", op, res.StatusCode, jsonReason(err))
		}
	}
	return res.Header, nil
}

// statusError classifies a failed answer: 429 is a *channel.RateLimitedError;
// 3xx and 4xx but 408 and 409 are refusals; 408, 409 and 5xx are transient.
func statusError(op string, res *http.Response, raw []byte) error {
	se := &StatusError{Op: op, HTTPStatus: res.StatusCode, Code: errorCode(raw)}
	switch code := res.StatusCode; {
	case code == http.StatusTooManyRequests:
		return &channel.RateLimitedError{RetryAfter: retryAfter(res.Header.Get("Retry-After")), Err: se}
	case code == http.StatusRequestTimeout || code == http.StatusConflict || code >= 500:
	default:
		se.Refused = true
	}
	return se
}

// errorCode is Zendesk's error code of a failed answer ({"error":
// "RecordNotFound"} or {"error": {"title": "Forbidden"}}) when it is an
// identifier, "" otherwise (401's "Couldn't authenticate you" is text).
func errorCode(raw []byte) string {
	var ans struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &ans) != nil || len(ans.Error) == 0 {
		return ""
	}
	var code string
	if json.Unmarshal(ans.Error, &code) != nil {
		var obj struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(ans.Error, &obj) != nil {
			return ""
		}
		code = obj.Title
	}
	if len(code) == 0 || len(code) > 40 {
		return ""
	}
	for i, r := range code {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || (r < '0' || r > '9') && r != '_') {
			return ""
		}
	}
	return code
}

// transportError is a network failure naming the call's host and path only
// (url.Error quotes the whole URL).
func transportError(op string, u *url.URL, err error) error {
	err = channel.WithoutURL(err)
	return fmt.Errorf("zendesk: %s: %s%s: %w", op, u.Host, u.Path, err)
}

// retryAfter reads a Retry-After header, else RetryAfterDefault.
func retryAfter(h string) time.Duration {
	return channel.RetryAfterHeader(h, time.Now(), RetryAfterDefault)
}
