package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
)

// maxAgentName is the longest name an agent may give (characters).
const maxAgentName = 100

func (a *API) agentRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: "/v1/agent-tokens", Role: RoleAgent, Handle: a.issueAgentToken},
		{Method: http.MethodGet, Pattern: "/v1/agents", Role: RoleAgent, Handle: a.listAgents},
	}
}

type agentTokenBody struct {
	Name string `json:"name"`
}

// AgentToken is the answer to POST /v1/agent-tokens: a token to connect the
// console to the WebSocket API with, for a short while.
type AgentToken struct {
	Token        string    `json:"token"`
	AgentID      string    `json:"agentId"`
	Name         string    `json:"name"`
	ExpiresAt    time.Time `json:"expiresAt"`
	WebsocketURL string    `json:"websocketUrl"`
}

// issueAgentToken makes the calling API key an agent under the name given and
// signs it a token for the console's WebSocket connection. The agent is the
// key, so two people sharing a key are one agent.
func (a *API) issueAgentToken(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	var b agentTokenBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	name := checkNameUpTo(b.Name, issues, "name", true, maxAgentName)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the agent is invalid", Fields: issues}
	}
	// The signer first: without it nothing is recorded.
	if a.tokens == nil {
		return nil, errors.New("agent tokens: no signer configured")
	}
	signer, err := a.tokens.Signer()
	if err != nil {
		return nil, fmt.Errorf("agent tokens: %w", err)
	}
	tid, agentID := r.Principal.TenantID, r.Principal.KeyID
	if err := a.store.PutAgent(ctx, tid, agentID, name, r.Principal.Tenant.Periods()); err != nil {
		return nil, err
	}
	token, exp := signer.IssueAgent(tid, agentID, name)
	if err := a.audit(ctx, r, tid, ActAgentTokenIssue, map[string]string{"agentId": agentID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, AgentToken{Token: token, AgentID: agentID, Name: name, ExpiresAt: exp.UTC(),
		WebsocketURL: a.websocketURL}), nil
}

// listAgents lists the tenant's agents with their presence: one page, since
// a tenant has few.
func (a *API) listAgents(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	agents, err := a.store.Agents(ctx, r.Principal.TenantID)
	if err != nil {
		return nil, err
	}
	if agents == nil {
		agents = []chat.Agent{}
	}
	return JSON(http.StatusOK, List[chat.Agent]{Items: agents}), nil
}
