package adminapi

import (
	"context"
	"net/http"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Audit actions. Every read of personal data and every change writes one event.
const (
	ActTenantCreate       = "tenant.create"
	ActTenantRead         = "tenant.read"
	ActTenantUpdate       = "tenant.update"
	ActAPIKeyCreate       = "apiKey.create"
	ActAPIKeyRevoke       = "apiKey.revoke"
	ActAPIKeyIssue        = "apiKey.issue" // the operator issued an owner key
	ActConversationRead   = "conversation.read"
	ActMessagesRead       = "conversation.messages.read"
	ActConversationClose  = "conversation.close"
	ActConversationReopen = "conversation.reopen"
	ActConversationAssign = "conversation.assign"
	ActMessageCreate      = "message.create"
	ActContactRead        = "contact.read"
	ActContactSearch      = "contact.search"
	ActContactUpdate      = "contact.update"
	ActAgentTokenIssue    = "agent.token.issue" // names the agent, never the token
)

func (a *API) auditRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/v1/audit-events", Role: RoleOwner, Handle: a.listAuditEvents},
	}
}

// audit records that the caller did action on targets (ids only: never message
// text or personal data). It is written before the answer goes out, so a read
// that could not be audited is not answered.
func (a *API) audit(ctx context.Context, r *Request, tenantID, action string, targets map[string]string) error {
	p := retention.Defaults
	if r.Principal.Tenant != nil {
		p = r.Principal.Tenant.Periods()
	}
	return a.auditWith(ctx, r, p, tenantID, action, targets)
}

// auditWith is audit under the periods p of the tenant acted on, for callers
// (the operator) that are no tenant.
func (a *API) auditWith(ctx context.Context, r *Request, p retention.Periods, tenantID, action string, targets map[string]string) error {
	return a.store.PutAuditEvent(ctx, &chat.AuditEvent{
		ID: ids.New(ids.Event), TenantID: tenantID, At: a.now().UTC(),
		ActorKey: r.Principal.KeyID, ActorRole: string(r.Principal.Role),
		Action: action, Targets: targets, RequestID: r.RequestID,
	}, p)
}

func (a *API) listAuditEvents(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	const scope = "audit-events"
	limit, start, err := a.page(r, scope)
	if err != nil {
		return nil, err
	}
	evs, next, err := a.store.AuditEvents(ctx, r.Principal.TenantID, limit, start)
	if err != nil {
		return nil, listError(err)
	}
	if evs == nil {
		evs = []chat.AuditEvent{}
	}
	return JSON(http.StatusOK, List[chat.AuditEvent]{Items: evs, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}

// onlyQuery rejects query parameters a route does not know.
func onlyQuery(r *Request, known ...string) error {
	issues := map[string]string{}
	for k := range r.Query {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			issues[k] = "unknown query parameter"
		}
	}
	if len(issues) > 0 {
		return &chat.Error{Code: chat.EInvalid, Message: "unknown query parameters", Fields: issues}
	}
	return nil
}
