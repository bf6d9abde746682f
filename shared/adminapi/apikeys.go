package adminapi

import (
	"context"
	"net/http"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

func (a *API) apiKeyRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: "/v1/api-keys", Role: RoleOwner, Handle: a.createAPIKey},
		{Method: http.MethodGet, Pattern: "/v1/api-keys", Role: RoleOwner, Handle: a.listAPIKeys},
		{Method: http.MethodDelete, Pattern: "/v1/api-keys/{id}", Role: RoleOwner, Handle: a.revokeAPIKey},
		{Method: http.MethodPost, Pattern: "/v1/tenants/{id}/api-keys", Role: RoleOperator, Handle: a.issueOwnerKey},
	}
}

type createKeyBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (a *API) createAPIKey(ctx context.Context, r *Request) (*Response, error) {
	var b createKeyBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	name := checkName(b.Name, issues, "name", true)
	if !Role(b.Role).Valid() {
		issues["role"] = `must be "owner" or "agent"`
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the key is invalid", Fields: issues}
	}
	secret, k := mintKey(r.Principal.TenantID, name, Role(b.Role), r.Principal.KeyID, a.now())
	if err := a.store.PutAPIKey(ctx, k); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActAPIKeyCreate, map[string]string{"apiKeyId": k.ID, "role": k.Role}); err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, NewKeyView{APIKey: *k, Key: secret}), nil
}

func (a *API) listAPIKeys(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	const scope = "api-keys"
	limit, start, err := a.page(r, scope)
	if err != nil {
		return nil, err
	}
	keys, next, err := a.store.APIKeys(ctx, r.Principal.TenantID, limit, start)
	if err != nil {
		return nil, listError(err)
	}
	if keys == nil {
		keys = []chat.APIKey{}
	}
	return JSON(http.StatusOK, List[chat.APIKey]{Items: keys, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}

func (a *API) revokeAPIKey(ctx context.Context, r *Request) (*Response, error) {
	id := r.Param("id")
	if !ids.Valid(ids.APIKey, id) {
		return nil, chat.ErrNotFound
	}
	if err := a.store.RevokeAPIKey(ctx, r.Principal.TenantID, id, a.now(), r.Principal.Tenant.Periods()); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActAPIKeyRevoke, map[string]string{"apiKeyId": id}); err != nil {
		return nil, err
	}
	return NoContent(), nil
}

type issueOwnerKeyBody struct {
	Name string `json:"name"`
}

// issueOwnerKey is the platform operator's way back in for a tenant that has
// no owner key left that works (all expired, or lost, or revoked before the
// last one was protected): a new owner key for the live tenant, shown once,
// exactly as POST /v1/api-keys shows it. It is audited in the tenant's trail
// with ids only.
func (a *API) issueOwnerKey(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b issueOwnerKeyBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	name := checkName(b.Name, issues, "name", true)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the key is invalid", Fields: issues}
	}
	tid := r.Param("id")
	if !ids.Valid(ids.Tenant, tid) {
		return nil, chat.ErrNotFound
	}
	t, err := a.store.Tenant(ctx, tid)
	if err != nil {
		return nil, err
	}
	if t.Status == "closed" { // its keys authenticate nobody
		return nil, chat.ErrNotFound
	}
	secret, k := mintKey(tid, name, RoleOwner, r.Principal.KeyID, a.now())
	if err := a.store.PutAPIKey(ctx, k); err != nil {
		return nil, err
	}
	if err := a.auditWith(ctx, r, t.Periods(), tid, ActAPIKeyIssue, map[string]string{"tenantId": tid, "apiKeyId": k.ID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, NewKeyView{APIKey: *k, Key: secret}), nil
}
