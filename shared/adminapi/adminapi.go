// Package adminapi is the admin HTTP API of LiveSupportBot (openapi.yaml;
// docs/CONTRACT.md, "Admin API"), served by the admin-api function behind the
// HTTP API (payload 2.0).
//
// The core is small: a Route names a method, a path pattern, the least role that
// may call it and a handler; routes.go lists the whole API; Handle matches the
// route, authenticates the bearer key, checks the role, limits the body and maps
// every error to one application/problem+json document. Features add their routes
// in their own file and one line in routes.go.
package adminapi

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// Role is what a caller may do.
type Role string

// The roles. A route names the least role that may call it: RoleAgent routes are
// open to owners too; RoleOwner routes to owners only; RoleOperator routes to the
// platform operator token only (and the operator token to nothing else).
const (
	RoleOperator Role = "operator"
	RoleOwner    Role = "owner"
	RoleAgent    Role = "agent"
)

// Valid reports whether r is a role a tenant API key can have.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAgent }

// allows reports whether a caller with role p may call a route of role route.
func (route Role) allows(p Role) bool {
	switch route {
	case RoleOperator:
		return p == RoleOperator
	case RoleOwner:
		return p == RoleOwner
	case RoleAgent:
		return p == RoleOwner || p == RoleAgent
	}
	return false
}

// Principal is the authenticated caller.
type Principal struct {
	TenantID string // "" for the operator
	KeyID    string // "operator" for the operator token
	Role     Role
	// Tenant is the caller's tenant, read once at authentication ("" for the operator).
	Tenant *chat.Tenant
}

// Route is one operation of the API.
type Route struct {
	Method  string
	Pattern string // e.g. /v1/conversations/{id}
	Role    Role
	Handle  func(ctx context.Context, r *Request) (*Response, error)
	// WhileClosed lets the owner keys of a closed account call the route
	// within the account's grace period (the keys of a closed account
	// authenticate nobody for any other route); AfterGrace also after it,
	// until the account is deleted, so a late reopen is told why it is
	// refused rather than given a bare 401.
	WhileClosed, AfterGrace bool
}

// Request is what a route handler gets: the caller, the path parameters, the query
// and the raw body (already size-checked).
type Request struct {
	Principal Principal
	Params    map[string]string
	Query     url.Values
	Header    http.Header
	Body      []byte
	RequestID string
	// APIContext is API Gateway's context of the request: the domain and stage
	// it came through, from which links back to the API are built (apiurl).
	APIContext events.APIGatewayV2HTTPRequestContext
	route      *Route
}

// Param returns a path parameter.
func (r *Request) Param(name string) string { return r.Params[name] }

// Decode reads the JSON body into v strictly: unknown fields, wrong types,
// trailing data and non-object bodies are an invalid error listing the fields.
func (r *Request) Decode(v any) error { return decodeStrict(r.Body, v) }

// Response is what a route handler returns; Body is marshalled as JSON (nil means
// no body).
type Response struct {
	Status  int
	Body    any
	Headers map[string]string
}

// JSON returns a response with status and body.
func JSON(status int, body any) *Response { return &Response{Status: status, Body: body} }

// NoContent returns an empty 204 response.
func NoContent() *Response { return &Response{Status: http.StatusNoContent} }

// DefaultMaxBodyBytes is the largest request body accepted when Deps sets none.
const DefaultMaxBodyBytes = 32 << 10

// PlatformTokenSecret is the name of the platform operator token among the
// secrets (Deps.Secrets).
const PlatformTokenSecret = "PLATFORM_TOKEN"

// Deps are the dependencies of the API.
type Deps struct {
	// Store is the data store (*store.Store), on the same clock as Now.
	Store Store
	// Limiter counts each key's requests (ratelimit.New(store)).
	Limiter RateLimiter
	// Holds puts contacts and tenants on legal hold (legalhold.Over(store)).
	Holds LegalHolds
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// PlatformToken is the operator token; it may only create tenants. When
	// Secrets is set, the token is read from it instead (PlatformTokenSecret),
	// on the first request that needs it, and checked (CheckPlatformToken).
	PlatformToken string
	Secrets       Secrets
	// CursorSecret signs pagination cursors; derived from the platform token when empty.
	CursorSecret []byte
	Logger       *slog.Logger
	// MaxBodyBytes limits request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int
	// MaxMessageChars limits the text of an agent reply (4000 when 0).
	MaxMessageChars int
	// Privacy receives privacy requests (privacy routes answer 500 when nil).
	Privacy PrivacyRequests
	// Slack is the Slack bridge (nil: Slack is not configured). It reads the
	// app's client secret per install; a deployment without one answers as
	// one without Slack.
	Slack SlackIntegrations
	// Channels connect messaging channel accounts (the Meta bridge, the
	// bridge of tenant-credential channels; none: none are offered) and say
	// when a channel conversation may be answered.
	Channels []ChannelIntegrations
	// Bot installs a tenant's Dialogflow agent (nil: not offered).
	Bot BotInstalls
	// Desks hand conversations to a help desk (the Zendesk bridge; nil:
	// none is offered, and handoff answers 404).
	Desks Desks
	// PublicURL is the HTTP API's public base URL (PUBLIC_API_URL), when the
	// request's own domain is not it: channel webhooks are registered under it.
	PublicURL string
	// Attachments signs short-lived links to messages' files (nil: messages
	// are listed without links).
	Attachments AttachmentLinks
	// Tokens signs agent tokens (nil: POST /v1/agent-tokens answers 500), and
	// WebSocketURL is where agents connect with them.
	Tokens       AgentTokens
	WebSocketURL string
	// TenantTTL is how long the API keeps the tenant of a key it
	// authenticated (0: it reads the tenant on every request). Keys are never
	// kept. A change of a tenant through this API takes effect on it at once.
	TenantTTL time.Duration
}

// API serves the admin API.
type API struct {
	store           Store
	limiter         RateLimiter
	holds           LegalHolds
	now             func() time.Time
	secrets         Secrets
	cursorSecret    []byte
	log             *slog.Logger
	maxBody         int
	maxMessageChars int
	slack           SlackIntegrations
	channels        []ChannelIntegrations
	desks           Desks
	bot             BotInstalls
	publicURL       string
	attachments     AttachmentLinks
	tokens          AgentTokens
	websocketURL    string
	routes          []Route
	privacy         PrivacyRequests
	tenants         *store.TenantCache // nil: no cache

	mu   sync.Mutex
	keys *keys // the platform token and the keys derived from it, once known
}

// keys are the platform token and the cursor sealing derived from it.
type keys struct {
	platformToken string
	cursor        cipher.AEAD
}

// New returns the API over its dependencies.
func New(d Deps) *API {
	a := &API{
		store: d.Store, limiter: d.Limiter, holds: d.Holds, now: d.Now, secrets: d.Secrets,
		cursorSecret: d.CursorSecret, log: d.Logger, maxBody: d.MaxBodyBytes,
		maxMessageChars: d.MaxMessageChars, privacy: d.Privacy, slack: d.Slack,
		channels: d.Channels, desks: d.Desks, bot: d.Bot, attachments: d.Attachments, publicURL: d.PublicURL,
		tokens: d.Tokens, websocketURL: d.WebSocketURL,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.maxMessageChars <= 0 {
		a.maxMessageChars = chat.DefaultMaxTextChars
	}
	if a.secrets == nil {
		a.keys = a.deriveKeys(d.PlatformToken)
	}
	if d.TenantTTL > 0 {
		a.tenants = store.NewTenantCache(clocked{d.Store, a.now}, d.TenantTTL)
	}
	a.routes = a.allRoutes()
	return a
}

// clocked is the store on the API's clock, for the tenant cache.
type clocked struct {
	Store
	now func() time.Time
}

func (c clocked) Now() time.Time { return c.now() }

// tenant reads a tenant, from the cache when the API keeps one.
func (a *API) tenant(ctx context.Context, id string) (*chat.Tenant, error) {
	if a.tenants != nil {
		return a.tenants.Tenant(ctx, id)
	}
	return a.store.Tenant(ctx, id)
}

// changedTenant drops a tenant this API changed from its cache.
func (a *API) changedTenant(id string) {
	if a.tenants != nil {
		a.tenants.Forget(id)
	}
}

// CheckPlatformToken refuses a platform token shorter than 32 characters.
func CheckPlatformToken(token string) error {
	if len(token) < 32 {
		return fmt.Errorf("%s must be at least 32 characters", PlatformTokenSecret)
	}
	return nil
}

// resolveKeys returns the platform token and the keys derived from it,
// reading the token from the secrets the first time (an error, and a token
// CheckPlatformToken refuses, fail the request as internal, logged).
func (a *API) resolveKeys() (*keys, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys != nil {
		return a.keys, nil
	}
	token, err := a.secrets.Get(PlatformTokenSecret)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", PlatformTokenSecret, err)
	}
	if err := CheckPlatformToken(token); err != nil {
		return nil, err
	}
	a.keys = a.deriveKeys(token)
	return a.keys, nil
}

// deriveKeys seals cursors under CursorSecret, or else a key derived from the
// platform token.
func (a *API) deriveKeys(platformToken string) *keys {
	secret := a.cursorSecret
	if len(secret) == 0 {
		m := hmac.New(sha256.New, []byte(platformToken))
		m.Write([]byte("livesupportbot admin cursor key v1"))
		secret = m.Sum(nil)
	}
	return &keys{platformToken: platformToken, cursor: cursorAEAD(secret)}
}

// Routes returns the routes the API serves.
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

// Handle serves one HTTP API (payload 2.0) request.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	req := &Request{Header: headers(ev.Headers), RequestID: requestID(ctx, ev), APIContext: ev.RequestContext}
	res, err := a.serveSafely(ctx, ev, req)
	if err != nil {
		res = a.problemResponse(ctx, req, err)
	}
	out := encode(res)
	pattern := ""
	if req.route != nil {
		pattern = req.route.Pattern
	}
	a.log.InfoContext(ctx, "admin request", "method", ev.RequestContext.HTTP.Method, "route", pattern,
		"status", out.StatusCode, "tenantId", req.Principal.TenantID, "keyId", req.Principal.KeyID,
		"apiRequestId", req.RequestID, "ms", time.Since(start).Milliseconds())
	return out, nil
}

// serveSafely turns a panic of a handler into an internal error, so the client
// still gets a problem document and the log gets the cause.
func (a *API) serveSafely(ctx context.Context, ev events.APIGatewayV2HTTPRequest, req *Request) (res *Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return a.serve(ctx, ev, req)
}

func (a *API) serve(ctx context.Context, ev events.APIGatewayV2HTTPRequest, req *Request) (*Response, error) {
	method := strings.ToUpper(ev.RequestContext.HTTP.Method)
	route, params, allowed := a.match(method, requestPath(ev))
	if route == nil {
		if len(allowed) > 0 {
			return nil, &methodError{allowed: allowed}
		}
		return nil, chat.Errorf(chat.ENotFound, "no such route")
	}
	req.route, req.Params = route, params
	k, err := a.resolveKeys()
	if err != nil {
		return nil, err
	}
	p, err := a.authenticate(ctx, k.platformToken, req.Header.Get("Authorization"), route)
	if err != nil {
		return nil, err
	}
	req.Principal = p
	if err := a.limitKey(ctx, p); err != nil {
		return nil, err
	}
	if !route.Role.allows(p.Role) {
		return nil, chat.Errorf(chat.EForbidden, "this key's role (%s) may not call %s %s", p.Role, route.Method, route.Pattern)
	}
	q, err := query(ev)
	if err != nil {
		return nil, fieldError("query", "malformed query string")
	}
	req.Query = q
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fieldError("body", "malformed base64 body")
		}
	}
	if len(body) > a.maxBody {
		return nil, &chat.Error{Code: chat.ETooLarge, Message: "request body is too large",
			Fields: map[string]string{"body": "at most " + itoa(a.maxBody) + " bytes"}}
	}
	req.Body = body
	return route.Handle(ctx, req)
}

// match finds the route of method and path; when the path exists with other
// methods only, it returns them.
func (a *API) match(method, path string) (*Route, map[string]string, []string) {
	segs := splitPath(path)
	var allowed []string
	for i := range a.routes {
		rt := &a.routes[i]
		params, ok := matchPattern(splitPath(rt.Pattern), segs)
		if !ok {
			continue
		}
		if rt.Method == method {
			return rt, params, nil
		}
		allowed = append(allowed, rt.Method)
	}
	return nil, nil, allowed
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// requestPath is the path of the request without the stage prefix that HTTP APIs
// with a named stage put in front of it.
func requestPath(ev events.APIGatewayV2HTTPRequest) string {
	p := ev.RawPath
	if p == "" {
		p = ev.RequestContext.HTTP.Path
	}
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(p, "/"+st+"/"); ok {
			p = "/" + rest
		}
	}
	return p
}

func query(ev events.APIGatewayV2HTTPRequest) (url.Values, error) {
	if ev.RawQueryString != "" {
		return url.ParseQuery(ev.RawQueryString)
	}
	q := url.Values{}
	for k, v := range ev.QueryStringParameters {
		q.Set(k, v)
	}
	return q, nil
}

func headers(h map[string]string) http.Header {
	out := http.Header{}
	for k, v := range h {
		out.Set(k, v)
	}
	return out
}

func requestID(ctx context.Context, ev events.APIGatewayV2HTTPRequest) string {
	if ev.RequestContext.RequestID != "" {
		return ev.RequestContext.RequestID
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

func encode(res *Response) events.APIGatewayV2HTTPResponse {
	out := events.APIGatewayV2HTTPResponse{StatusCode: res.Status, Headers: map[string]string{"Cache-Control": "no-store"}}
	for k, v := range res.Headers {
		out.Headers[k] = v
	}
	if res.Body != nil {
		b, err := json.Marshal(res.Body)
		if err != nil {
			out.StatusCode = http.StatusInternalServerError
			b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error"}`)
			out.Headers["Content-Type"] = apierror.ContentType
		}
		if _, ok := out.Headers["Content-Type"]; !ok {
			out.Headers["Content-Type"] = "application/json"
		}
		out.Body = string(b)
	}
	return out
}
