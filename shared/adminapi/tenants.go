package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/retention"
)

func (a *API) tenantRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: "/v1/tenants", Role: RoleOperator, Handle: a.createTenant},
		{Method: http.MethodGet, Pattern: "/v1/tenant", Role: RoleOwner, Handle: a.getTenant, WhileClosed: true},
		{Method: http.MethodPatch, Pattern: "/v1/tenant", Role: RoleOwner, Handle: a.patchTenant},
	}
}

// TenantView is a tenant as the API shows it: its overrides of the retention
// periods, the periods in effect and the platform maximums.
type TenantView struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	WidgetKey          string            `json:"widgetKey"`
	AllowedOrigins     []string          `json:"allowedOrigins"`
	Retention          retention.Periods `json:"retention"`
	EffectiveRetention retention.Periods `json:"effectiveRetention"`
	MaximumRetention   retention.Periods `json:"maximumRetention"`
	// RateLimits are the tenant's overrides (0: the platform default),
	// EffectiveRateLimits the limits in force.
	RateLimits          chat.RateLimits `json:"rateLimits"`
	EffectiveRateLimits chat.RateLimits `json:"effectiveRateLimits"`
	Status              string          `json:"status"`
	CreatedAt           time.Time       `json:"createdAt"`
	// ClosedAt and DeletionAt are set while the account is closed: when it
	// was, and when its grace period ends and everything it holds but the
	// compliance records is deleted.
	ClosedAt   *time.Time `json:"closedAt,omitempty"`
	DeletionAt *time.Time `json:"deletionAt,omitempty"`
}

func tenantView(t *chat.Tenant) TenantView {
	origins := t.AllowedOrigins
	if origins == nil {
		origins = []string{}
	}
	v := TenantView{ID: t.ID, Name: t.Name, WidgetKey: t.WidgetKey, AllowedOrigins: origins,
		Retention: t.Retention, EffectiveRetention: t.Periods(), MaximumRetention: retention.Maximums,
		RateLimits: t.RateLimits, EffectiveRateLimits: ratelimit.EffectiveAll(t),
		Status: t.Status, CreatedAt: t.CreatedAt}
	if t.Status == "closed" && t.ClosedAt != nil {
		closed, del := t.ClosedAt.UTC(), deletionAt(t)
		v.ClosedAt, v.DeletionAt = &closed, &del
	}
	return v
}

// NewKeyView is a key at its creation: the only time its secret is shown.
type NewKeyView struct {
	chat.APIKey
	Key string `json:"key"`
}

type createTenantBody struct {
	Name           string   `json:"name"`
	AllowedOrigins []string `json:"allowedOrigins"`
}

func (a *API) createTenant(ctx context.Context, r *Request) (*Response, error) {
	var b createTenantBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	name := checkName(b.Name, issues, "name", true)
	origins := checkOrigins(b.AllowedOrigins, issues)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the tenant is invalid", Fields: issues}
	}
	now := a.now().UTC()
	id := ids.New(ids.Tenant)
	t := &chat.Tenant{ID: id, Name: name, WidgetKey: "wk_" + id + "_" + ids.Secret(24),
		AllowedOrigins: origins, Status: "active", CreatedAt: now}
	secret, key := mintKey(id, "owner", RoleOwner, r.Principal.KeyID, now)
	// The key first: without its tenant it authenticates nobody, so a failure
	// between the writes leaves nothing usable behind.
	if err := a.store.PutAPIKey(ctx, key); err != nil {
		return nil, err
	}
	if err := a.store.PutTenant(ctx, t); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, id, ActTenantCreate, map[string]string{"tenantId": id, "apiKeyId": key.ID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, map[string]any{
		"tenant": tenantView(t),
		"apiKey": NewKeyView{APIKey: *key, Key: secret},
	}), nil
}

func (a *API) getTenant(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	t, err := a.store.Tenant(ctx, r.Principal.TenantID)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, t.ID, ActTenantRead, map[string]string{"tenantId": t.ID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, tenantView(t)), nil
}

type patchTenantBody struct {
	Name           *string            `json:"name"`
	AllowedOrigins *[]string          `json:"allowedOrigins"`
	Retention      *retention.Periods `json:"retention"`
	RateLimits     *chat.RateLimits   `json:"rateLimits"`
}

func (a *API) patchTenant(ctx context.Context, r *Request) (*Response, error) {
	var b patchTenantBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	var u chat.TenantSettings
	if b.Name != nil {
		n := checkName(*b.Name, issues, "name", true)
		u.Name = &n
	}
	if b.AllowedOrigins != nil {
		o := checkOrigins(*b.AllowedOrigins, issues)
		u.AllowedOrigins = &o
	}
	if b.Retention != nil {
		for _, fe := range b.Retention.Validate() {
			issues["retention."+fe.Field] = fmt.Sprintf("must be between 0 (platform default) and %d days", fe.Max)
		}
		u.Retention = b.Retention
	}
	if b.RateLimits != nil {
		for f, d := range ratelimit.Validate(*b.RateLimits) {
			issues["rateLimits."+f] = d
		}
		u.RateLimits = b.RateLimits
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the settings are invalid", Fields: issues}
	}
	if u.Name == nil && u.AllowedOrigins == nil && u.Retention == nil && u.RateLimits == nil {
		return nil, fieldError("body", "name, allowedOrigins, retention or rateLimits is required")
	}
	t, err := a.store.UpdateTenantSettings(ctx, r.Principal.TenantID, u)
	a.changedTenant(r.Principal.TenantID)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, t.ID, ActTenantUpdate, map[string]string{"tenantId": t.ID, "fields": changed(b.Name != nil, "name", b.AllowedOrigins != nil, "allowedOrigins", b.Retention != nil, "retention", b.RateLimits != nil, "rateLimits")}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, tenantView(t)), nil
}

// changed joins the names whose flag is set: pairs of (flag, name).
func changed(pairs ...any) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(bool) {
			out = append(out, pairs[i+1].(string))
		}
	}
	return strings.Join(out, ",")
}

// checkName trims a display name and records a problem with it.
func checkName(s string, issues map[string]string, field string, required bool) string {
	return checkNameUpTo(s, issues, field, required, 200)
}

// checkNameUpTo is checkName for a name of at most limit characters.
func checkNameUpTo(s string, issues map[string]string, field string, required bool, limit int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		issues[field] = "is required"
	case utf8.RuneCountInString(s) > limit:
		issues[field] = "must be at most " + itoa(limit) + " characters"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		issues[field] = "must not contain control characters"
	}
	return s
}

// checkOrigins normalizes browser origins ("https://shop.example:8443") and
// records the ones that are not.
func checkOrigins(in []string, issues map[string]string) []string {
	if len(in) > 50 {
		issues["allowedOrigins"] = "at most 50 origins"
		return nil
	}
	out := make([]string, 0, len(in))
	for i, o := range in {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			issues[fmt.Sprintf("allowedOrigins[%d]", i)] = "must be an origin like https://shop.example"
			continue
		}
		host := strings.ToLower(u.Host)
		// Browsers leave the default port out of Origin.
		if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
			host = host[:strings.LastIndex(host, ":")]
		}
		out = append(out, u.Scheme+"://"+host)
	}
	return out
}
