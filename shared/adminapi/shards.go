package adminapi

import (
	"context"
	"net/http"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// ActTenantInboxShards is the audit action of a change of a tenant's inbox shards.
const ActTenantInboxShards = "tenant.inboxShards.set"

func (a *API) shardRoutes() []Route {
	return []Route{
		{Method: http.MethodPut, Pattern: "/v1/tenants/{id}/inbox-shards", Role: RoleOperator, Handle: a.setInboxShards},
	}
}

type inboxShardsBody struct {
	InboxShards *int `json:"inboxShards"`
}

type inboxShardsAnswer struct {
	TenantID    string `json:"tenantId"`
	InboxShards int    `json:"inboxShards"`
}

// setInboxShards sets the number of write shards of a tenant's inbox, for the
// platform operator, when the tenant outgrows one partition (docs/SCALE.md):
// a power of two up to store.MaxInboxShards, never fewer than it has.
func (a *API) setInboxShards(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	tid := r.Param("id")
	if !ids.Valid(ids.Tenant, tid) {
		return nil, chat.ErrNotFound
	}
	var b inboxShardsBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.InboxShards == nil {
		return nil, fieldError("inboxShards", "is required")
	}
	n := *b.InboxShards
	if n < 1 || n > store.MaxInboxShards || n&(n-1) != 0 {
		return nil, fieldError("inboxShards", "must be a power of two from 1 to "+itoa(store.MaxInboxShards))
	}
	t, err := a.store.SetInboxShards(ctx, tid, n)
	a.changedTenant(tid)
	if err != nil {
		return nil, err
	}
	p := t.Periods()
	if err := a.auditWith(ctx, r, p, tid, ActTenantInboxShards, map[string]string{"tenantId": tid, "inboxShards": itoa(n)}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, inboxShardsAnswer{TenantID: tid, InboxShards: store.InboxShards(t.InboxShards)}), nil
}
