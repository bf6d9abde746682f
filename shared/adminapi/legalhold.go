package adminapi

import (
	"context"
	"net/http"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/legalhold"
)

// Audit actions of legal holds.
const (
	ActContactHold = "contact.legalHold.set"
	ActContactLift = "contact.legalHold.lift"
	ActTenantHold  = "tenant.legalHold.set"
	ActTenantLift  = "tenant.legalHold.lift"
)

func (a *API) legalHoldRoutes() []Route {
	return []Route{
		{Method: http.MethodPut, Pattern: "/v1/contacts/{id}/legal-hold", Role: RoleOwner, Handle: a.holdContact},
		{Method: http.MethodDelete, Pattern: "/v1/contacts/{id}/legal-hold", Role: RoleOwner, Handle: a.liftContactHold},
		{Method: http.MethodPut, Pattern: "/v1/tenants/{id}/legal-hold", Role: RoleOperator, Handle: a.holdTenant},
		{Method: http.MethodDelete, Pattern: "/v1/tenants/{id}/legal-hold", Role: RoleOperator, Handle: a.liftTenantHold},
	}
}

// tenantHoldAnswer is the answer of the tenant-wide legal hold routes.
type tenantHoldAnswer struct {
	TenantID  string `json:"tenantId"`
	LegalHold bool   `json:"legalHold"`
	Items     int    `json:"items"`
	Changed   int    `json:"changed"`
}

func (a *API) holdTenant(ctx context.Context, r *Request) (*Response, error) {
	return a.setTenantHold(ctx, r, true)
}

func (a *API) liftTenantHold(ctx context.Context, r *Request) (*Response, error) {
	return a.setTenantHold(ctx, r, false)
}

// setTenantHold puts a whole tenant on legal hold for the platform operator, or
// lifts it: the profile and every contact's items lose their expiresAt (and new
// items are written without one), or get it back. Repeating either finishes an
// interrupted run.
func (a *API) setTenantHold(ctx context.Context, r *Request, hold bool) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	tid := r.Param("id")
	if !ids.Valid(ids.Tenant, tid) {
		return nil, chat.ErrNotFound
	}
	if _, err := a.store.Tenant(ctx, tid); err != nil {
		return nil, err
	}
	act, op := ActTenantHold, a.holds.HoldTenant
	if !hold {
		act, op = ActTenantLift, a.holds.LiftTenant
	}
	res, err := op(ctx, tid)
	a.changedTenant(tid)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, tid, act, map[string]string{"tenantId": tid, "changed": itoa(res.Changed)}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, tenantHoldAnswer{TenantID: tid, LegalHold: hold, Items: res.Items, Changed: res.Changed}), nil
}

// legalHoldAnswer is the answer of both legal hold routes.
type legalHoldAnswer struct {
	ContactID string `json:"contactId"`
	LegalHold bool   `json:"legalHold"`
	Items     int    `json:"items"`   // the subject's items in both tables
	Changed   int    `json:"changed"` // items whose expiresAt was removed or restored
}

func (a *API) holdContact(ctx context.Context, r *Request) (*Response, error) {
	return a.setContactHold(ctx, r, true)
}

func (a *API) liftContactHold(ctx context.Context, r *Request) (*Response, error) {
	return a.setContactHold(ctx, r, false)
}

// setContactHold puts a contact on legal hold, or lifts it: every item of the
// subject in both tables loses its expiresAt, or gets it back. Repeating either
// is harmless.
func (a *API) setContactHold(ctx context.Context, r *Request, hold bool) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	id := r.Param("id")
	if !ids.Valid(ids.Contact, id) {
		return nil, chat.ErrNotFound
	}
	tid := r.Principal.TenantID
	var res *legalhold.Result
	var err error
	act := ActContactHold
	if hold {
		res, err = a.holds.HoldContact(ctx, tid, id)
	} else {
		act = ActContactLift
		res, err = a.holds.LiftContact(ctx, tid, id)
	}
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, tid, act, map[string]string{"contactId": id, "changed": itoa(res.Changed)}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, legalHoldAnswer{ContactID: id, LegalHold: hold, Items: res.Items, Changed: res.Changed}), nil
}

// readableConversation reads the conversation named by the path for the read
// routes: from the Data table, or, once it expired from there, from the Archive
// table (marked archived) until the archive period ends.
func (a *API) readableConversation(ctx context.Context, r *Request) (*chat.Conversation, error) {
	id := r.Param("id")
	if !ids.Valid(ids.Conversation, id) {
		return nil, chat.ErrNotFound
	}
	return a.store.ConversationOrArchived(ctx, r.Principal.TenantID, id)
}
