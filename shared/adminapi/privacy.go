package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
)

// Audit actions of privacy requests read through the API (the privacy package
// audits receipt, reads and every processing step itself).
const ActPrivacyList = "privacy.request.list"

// privacyRoutes are the privacy request routes (docs/CONTRACT.md, "Privacy
// rights"): owners only, as they hand out or destroy a person's data.
func (a *API) privacyRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: "/v1/privacy-requests", Role: RoleOwner, Handle: a.createPrivacyRequest},
		{Method: http.MethodGet, Pattern: "/v1/privacy-requests", Role: RoleOwner, Handle: a.listPrivacyRequests},
		{Method: http.MethodGet, Pattern: "/v1/privacy-requests/{id}", Role: RoleOwner, Handle: a.getPrivacyRequest},
		{Method: http.MethodGet, Pattern: "/v1/privacy-settings", Role: RoleOwner, Handle: a.getPrivacySettings},
		{Method: http.MethodPatch, Pattern: "/v1/privacy-settings", Role: RoleOwner, Handle: a.patchPrivacySettings},
		{Method: http.MethodPost, Pattern: "/v1/suppressions/lift", Role: RoleOwner, Handle: a.liftSuppression},
	}
}

// getPrivacySettings shows what happens to erased identities that come back.
func (a *API) getPrivacySettings(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	t, err := a.store.Tenant(ctx, r.Principal.TenantID)
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, privacy.SettingsOf(t)), nil
}

// patchPrivacySettings sets reingestAfterErasure ("refuse" or "new_contact")
// and analyticsConsent ("required" or "not_required").
func (a *API) patchPrivacySettings(ctx context.Context, r *Request) (*Response, error) {
	svc, err := a.privacyService()
	if err != nil {
		return nil, err
	}
	var in privacy.SettingsPatch
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	out, err := svc.UpdateSettings(ctx, r.Principal.Tenant, actor(r), in)
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, out), nil
}

// liftSuppression lets one erased identity be stored again (204), or answers 404
// when it is not suppressed.
func (a *API) liftSuppression(ctx context.Context, r *Request) (*Response, error) {
	svc, err := a.privacyService()
	if err != nil {
		return nil, err
	}
	var in privacy.LiftInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if err := svc.Lift(ctx, r.Principal.Tenant, actor(r), in); err != nil {
		return nil, err
	}
	return NoContent(), nil
}

func actor(r *Request) privacy.Actor {
	return privacy.Actor{KeyID: r.Principal.KeyID, Role: string(r.Principal.Role), APIRequestID: r.RequestID}
}

func (a *API) privacyService() (PrivacyRequests, error) {
	if a.privacy == nil {
		return nil, chat.Errorf(chat.EInternal, "privacy requests are not configured")
	}
	return a.privacy, nil
}

// createPrivacyRequest answers 202 with {id, status, dueAt}; the export or
// erasure runs asynchronously.
func (a *API) createPrivacyRequest(ctx context.Context, r *Request) (*Response, error) {
	svc, err := a.privacyService()
	if err != nil {
		return nil, err
	}
	var in privacy.CreateInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	pr, err := svc.Create(ctx, r.Principal.Tenant, actor(r), in)
	if err != nil {
		return nil, err
	}
	return &Response{Status: http.StatusAccepted, Body: struct {
		ID     string    `json:"id"`
		Status string    `json:"status"`
		DueAt  time.Time `json:"dueAt"`
	}{pr.ID, pr.Status, pr.DueAt}, Headers: map[string]string{"Location": "/v1/privacy-requests/" + pr.ID}}, nil
}

// getPrivacyRequest shows status, counts, errors and, for a finished export,
// downloadUrl.
func (a *API) getPrivacyRequest(ctx context.Context, r *Request) (*Response, error) {
	svc, err := a.privacyService()
	if err != nil {
		return nil, err
	}
	pr, err := svc.Get(ctx, r.Principal.Tenant, actor(r), r.Param("id"))
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, pr), nil
}

// listPrivacyRequests lists requests newest first, each with its overdue flag.
func (a *API) listPrivacyRequests(ctx context.Context, r *Request) (*Response, error) {
	svc, err := a.privacyService()
	if err != nil {
		return nil, err
	}
	if err := onlyQuery(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	const scope = "privacy-requests"
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	after, err := a.decodeCursor(r.Principal.TenantID, scope, r.Query.Get("cursor"))
	if err != nil {
		return nil, err
	}
	items, next, err := svc.List(ctx, r.Principal.Tenant, after, limit)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActPrivacyList, nil); err != nil {
		return nil, err
	}
	if items == nil {
		items = []*chat.PrivacyRequest{}
	}
	return JSON(http.StatusOK, List[*chat.PrivacyRequest]{Items: items, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}
