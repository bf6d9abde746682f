// Package widgetsession serves POST /widget/v1/session: it checks the widget key
// and the browser's Origin against the tenant's allowlist, and issues (or renews,
// for a valid token of the same tenant) a signed visitor token.
package widgetsession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/suppression"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// maxBody is the largest request body accepted.
const maxBody = 4 << 10

// Refusals of a session request.
var (
	errUnknownKey = chat.Errorf(chat.EUnauthorized, "unknown widget key")
	errOrigin     = chat.Errorf(chat.EForbidden, "origin not allowed for this widget")
)

// Store is what the handler needs of the store (*store.Store).
type Store interface {
	TenantByWidgetKey(ctx context.Context, widgetKey string) (*chat.Tenant, error)
	// IsSuppressed is the erasure gate's check.
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
}

// Limiter counts a request against a budget (ratelimit.Limiter).
type Limiter interface {
	Take(ctx context.Context, tenantID, subject, bucket string, lim chat.RateLimit) error
}

// Tokens gives the signer of visitor tokens: a *visitortoken.Signer, or a
// *visitortoken.Lazy that builds it from the secret on first use.
type Tokens interface {
	Signer() (*visitortoken.Signer, error)
}

// Deps is what the handler is built from.
type Deps struct {
	Store        Store
	Limiter      Limiter
	Tokens       Tokens
	WebSocketURL string
	Log          *slog.Logger
}

// Handler issues visitor tokens.
type Handler struct{ Deps }

// New returns the handler of session requests.
func New(d Deps) *Handler { return &Handler{Deps: d} }

type request struct {
	WidgetKey    string `json:"widgetKey"`
	VisitorToken string `json:"visitorToken,omitempty"`
}

type response struct {
	VisitorToken string `json:"visitorToken"`
	VisitorID    string `json:"visitorId"`
	WebsocketURL string `json:"websocketUrl"`
	// ServerTime lets the widget set its clock for sentAt (ms since 1970).
	ServerTime int64 `json:"serverTime"`
	// AnalyticsConsent is the tenant's choice (analyticsConsent): "required"
	// makes the widget send no usage data (page views) until the visitor
	// consents; "not_required" sends it at once.
	AnalyticsConsent string `json:"analyticsConsent"`
}

// Handle answers one session request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	origin := header(req.Headers, "origin")
	body, err := decode(req)
	if err != nil {
		return problem(origin, err, err.Error()), nil
	}
	if res, limited := h.limit(ctx, origin, body.WidgetKey, req.RequestContext.HTTP.SourceIP); limited {
		return res, nil
	}
	t, err := h.Store.TenantByWidgetKey(ctx, body.WidgetKey)
	if errors.Is(err, chat.ErrNotFound) {
		return problem(origin, errUnknownKey, apierror.Message(errUnknownKey)), nil
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "read tenant", "error", err)
		return problem(origin, err, apierror.Message(err)), nil
	}
	if !t.OriginAllowed(origin) {
		h.Log.InfoContext(ctx, "origin refused", "tenantId", t.ID)
		return problem(origin, errOrigin, apierror.Message(errOrigin)), nil
	}
	tokens, err := h.Tokens.Signer()
	if err != nil {
		h.Log.ErrorContext(ctx, "visitor token signer", "error", err)
		return problem(origin, err, apierror.Message(err)), nil
	}
	visitorID := ""
	if body.VisitorToken != "" {
		if c, err := tokens.Verify(body.VisitorToken); err == nil && c.TenantID == t.ID {
			visitorID = c.VisitorID
		}
	}
	if visitorID == "" {
		visitorID = ids.New(ids.Contact)
	} else {
		// A known visitor whose data was erased is refused, or comes back as a new
		// contact, as the tenant chose; never as the old one.
		adm, err := suppression.Admit(ctx, h.Store, t, suppression.Identity{ContactID: visitorID})
		if err != nil {
			if code, _ := apierror.Status(err); code == chat.EInternal {
				h.Log.ErrorContext(ctx, "suppression check", "tenantId", t.ID, "error", err)
			}
			return problem(origin, err, apierror.Message(err)), nil
		}
		visitorID = adm.ContactID
	}
	out := response{
		VisitorToken:     tokens.IssueVersioned(t.ID, t.Version, visitorID, visitortoken.DefaultTTL),
		VisitorID:        visitorID,
		WebsocketURL:     h.WebSocketURL,
		ServerTime:       time.Now().UnixMilli(),
		AnalyticsConsent: analyticsConsent(t),
	}
	b, _ := json.Marshal(out)
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: headers(origin, "application/json"), Body: string(b)}, nil
}

// analyticsConsent is the session's analyticsConsent for tenant t: "required"
// when the tenant chose it, else "not_required" (also for an unset choice).
func analyticsConsent(t *chat.Tenant) string {
	if t.ConsentRequired() {
		return chat.AnalyticsConsentRequired
	}
	return chat.AnalyticsConsentNotRequired
}

func decode(req events.APIGatewayV2HTTPRequest) (request, error) {
	var r request
	if req.IsBase64Encoded || len(req.Body) > maxBody {
		return r, chat.Errorf(chat.EInvalid, "body must be a JSON object under 4 KiB")
	}
	d := json.NewDecoder(bytes.NewReader([]byte(req.Body)))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, chat.Errorf(chat.EInvalid, "malformed JSON body")
	}
	if !strings.HasPrefix(r.WidgetKey, "wk_") {
		return r, chat.Errorf(chat.EInvalid, "widgetKey is required")
	}
	return r, nil
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func headers(origin, contentType string) map[string]string {
	h := map[string]string{"content-type": contentType, "cache-control": "no-store", "vary": "Origin"}
	if origin != "" {
		h["access-control-allow-origin"] = origin
	}
	return h
}

// problem answers err as a problem document with the given detail, its status
// from the one map of error codes (apierror.Status).
func problem(origin string, err error, detail string) events.APIGatewayV2HTTPResponse {
	_, status := apierror.Status(err)
	b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers(origin, "application/problem+json"), Body: string(b)}
}
