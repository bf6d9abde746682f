package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Audit actions of an account's close and reopen.
const (
	ActTenantClose  = "tenant.close"
	ActTenantReopen = "tenant.reopen"
)

// The lifecycle of an account: the owner (with a typed confirmation) or the
// operator closes it; its keys and widget stop working at once; within the
// grace period (closedGraceDays, 90 days by default) the owner or the operator
// may reopen it; when the period ends retention-sweep deletes everything it
// holds but the compliance records (docs/CONTRACT.md).
func (a *API) tenantCloseRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: "/v1/tenant/close", Role: RoleOwner, Handle: a.closeOwnTenant},
		{Method: http.MethodPost, Pattern: "/v1/tenant/reopen", Role: RoleOwner, Handle: a.reopenOwnTenant,
			WhileClosed: true, AfterGrace: true},
		{Method: http.MethodPost, Pattern: "/v1/tenants/{id}/close", Role: RoleOperator, Handle: a.closeTenantByOperator},
		{Method: http.MethodPost, Pattern: "/v1/tenants/{id}/reopen", Role: RoleOperator, Handle: a.reopenTenantByOperator},
	}
}

// deletionAt is when a closed account's grace period ends.
func deletionAt(t *chat.Tenant) time.Time {
	return retention.GraceEnds(t.Periods(), *t.ClosedAt).UTC()
}

// closeOwnBody is the owner's close: the tenant's id typed again, so a stray
// or replayed call of another tenant's script cannot close this one.
type closeOwnBody struct {
	Confirm string `json:"confirm"`
}

// closeReasons are the operator's reasons for a close: codes, not text, so the
// audit trail keeps ids and codes only.
var closeReasons = map[string]bool{"requested": true, "non_payment": true, "terms_violation": true, "other": true}

type closeByOperatorBody struct {
	Reason string `json:"reason"`
}

// reopenBody is the body of a reopen: an empty object (every route that is
// not a GET or DELETE takes a JSON object).
type reopenBody struct{}

func (a *API) closeOwnTenant(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b closeOwnBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Confirm != r.Principal.TenantID {
		return nil, fieldError("confirm", "must be this tenant's id, to confirm the close")
	}
	return a.closeTenant(ctx, r, r.Principal.TenantID, nil)
}

func (a *API) closeTenantByOperator(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b closeByOperatorBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Reason != "" && !closeReasons[b.Reason] {
		return nil, fieldError("reason", "must be one of requested, non_payment, terms_violation, other")
	}
	tid := r.Param("id")
	if !ids.Valid(ids.Tenant, tid) {
		return nil, chat.ErrNotFound
	}
	var extra map[string]string
	if b.Reason != "" {
		extra = map[string]string{"reason": b.Reason}
	}
	return a.closeTenant(ctx, r, tid, extra)
}

// closeTenant closes tenant tid (closing a closed one changes nothing) and
// answers 202 with it: what the close set in motion (the deletion) happens
// later.
func (a *API) closeTenant(ctx context.Context, r *Request, tid string, extra map[string]string) (*Response, error) {
	err := a.store.CloseTenant(ctx, tid)
	a.changedTenant(tid)
	if err != nil {
		return nil, err
	}
	t, err := a.store.Tenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	targets := map[string]string{"tenantId": tid}
	for k, v := range extra {
		targets[k] = v
	}
	if err := a.auditWith(ctx, r, t.Periods(), tid, ActTenantClose, targets); err != nil {
		return nil, err
	}
	return JSON(http.StatusAccepted, tenantView(t)), nil
}

func (a *API) reopenOwnTenant(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b reopenBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	return a.reopenTenant(ctx, r, r.Principal.TenantID)
}

func (a *API) reopenTenantByOperator(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b reopenBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	tid := r.Param("id")
	if !ids.Valid(ids.Tenant, tid) {
		return nil, chat.ErrNotFound
	}
	return a.reopenTenant(ctx, r, tid)
}

// reopenTenant reopens a closed tenant within its grace period and answers
// 200 with it; an open one, or one past its grace, is a 409 saying which.
func (a *API) reopenTenant(ctx context.Context, r *Request, tid string) (*Response, error) {
	err := a.store.ReopenTenant(ctx, tid)
	a.changedTenant(tid)
	if err != nil { // store.ErrNotClosed, store.ErrGraceOver: 409; a missing tenant 404
		return nil, err
	}
	t, err := a.store.Tenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	if err := a.auditWith(ctx, r, t.Periods(), tid, ActTenantReopen, map[string]string{"tenantId": tid}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, tenantView(t)), nil
}
