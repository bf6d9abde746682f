// Package wsconn admits WebSocket connections: as the REQUEST authorizer of the
// $connect route it checks the visitor's or agent's token (a bad or expired
// one, or one whose visitor was erased, is refused with 401) and hands tenant
// and visitor, or tenant and agent, to every later frame of the connection; on
// $connect and $disconnect it records and removes the connection.
package wsconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/agentfeed"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// ErrUnauthorized is the authorizer's refusal; API Gateway answers it with 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Store is what the handler needs of the store (*store.Store).
type Store interface {
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
	PutConnection(ctx context.Context, c *chat.Connection) error
	DeleteConnection(ctx context.Context, tenantID, contactID, connectionID string) error
	PutAgentConnection(ctx context.Context, c *chat.AgentConnection) error
	DeleteAgentConnection(ctx context.Context, tenantID, connectionID string) error
	AgentConnections(ctx context.Context, tenantID string) ([]chat.AgentConnection, error)
	Now() time.Time
}

// Tokens gives the signer of visitor tokens: a *visitortoken.Signer, or a
// *visitortoken.Lazy that builds it from the secret on first use.
type Tokens interface {
	Signer() (*visitortoken.Signer, error)
}

// Deps is what the handler is built from.
type Deps struct {
	Store  Store
	Tokens Tokens
	Log    *slog.Logger
	// Pusher gives the pusher of the API a request came through
	// (pusher.Endpoints.For): the other consoles are told when an agent's
	// console is gone. Nil tells no one.
	Pusher func(domainName, stage string) *pusher.Pusher
}

// Handler serves the authorizer, $connect and $disconnect.
type Handler struct{ Deps }

// New returns the handler of the authorizer, $connect and $disconnect.
func New(d Deps) *Handler { return &Handler{Deps: d} }

// Identity is what the authorizer passes on: requestContext.authorizer. It
// names a visitor or an agent, never both.
type Identity struct {
	TenantID  string `json:"tenantId"`
	VisitorID string `json:"visitorId,omitempty"`
	AgentID   string `json:"agentId,omitempty"`
	AgentName string `json:"agentName,omitempty"`
	// TenantVersion is the tenant version the visitor's session saw: a
	// cached tenant older than it is read again.
	TenantVersion int64 `json:"tenantVersion,string,omitempty"`
}

// IdentityOf reads the authorizer context of a WebSocket event.
func IdentityOf(rc events.APIGatewayWebsocketProxyRequestContext) (Identity, error) {
	var id Identity
	b, err := json.Marshal(rc.Authorizer)
	if err == nil {
		err = json.Unmarshal(b, &id)
	}
	if err != nil || id.TenantID == "" || (id.VisitorID == "") == (id.AgentID == "") {
		return Identity{}, chat.Errorf(chat.EUnauthorized, "connection is not authorized")
	}
	return id, nil
}

// IsAgent reports whether the connection is an agent's console.
func (id Identity) IsAgent() bool { return id.AgentID != "" }

// Handle handles a raw event: an authorizer request (it has a methodArn) or a
// WebSocket route event.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		MethodArn string `json:"methodArn"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if probe.MethodArn != "" {
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, ErrUnauthorized
		}
		return h.Authorize(ctx, req)
	}
	var req events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("decode websocket event: %w", err)
	}
	return h.Route(ctx, req)
}

// Authorize checks the token in the query string, then that its visitor was not
// erased: a token outlives an erasure, but a visitor id that names erased data
// is never connected again (one GetItem of the suppression entry). The refusal
// is the same 401 whatever the tenant's re-ingest setting: the widget then asks
// for a new session, which refuses the erased visitor or, with "new_contact",
// issues a new visitor id.
func (h *Handler) Authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	tokens, err := h.Tokens.Signer()
	if err != nil {
		// Not Unauthorized: API Gateway answers 500 and the widget retries.
		h.Log.ErrorContext(ctx, "visitor token signer", "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("visitor token signer: %w", err)
	}
	token := req.QueryStringParameters["token"]
	if visitortoken.IsAgentToken(token) {
		return h.authorizeAgent(ctx, tokens, token, req.MethodArn)
	}
	c, err := tokens.Verify(token)
	if err != nil {
		h.Log.InfoContext(ctx, "visitor token refused")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	erased, err := h.Store.IsSuppressed(ctx, c.TenantID, chat.SuppressContact, c.VisitorID)
	if err != nil {
		// Not Unauthorized: API Gateway answers 500 and the widget retries.
		h.Log.ErrorContext(ctx, "suppression check", "tenantId", c.TenantID, "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("check erased visitor: %w", err)
	}
	if erased {
		h.Log.InfoContext(ctx, "erased visitor refused", "tenantId", c.TenantID)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	return allow(c.VisitorID, req.MethodArn, map[string]any{"tenantId": c.TenantID, "visitorId": c.VisitorID,
		"tenantVersion": strconv.FormatInt(c.TenantVersion, 10)}), nil
}

// authorizeAgent admits an agent's console with a valid agent token.
func (h *Handler) authorizeAgent(ctx context.Context, tokens *visitortoken.Signer, token, methodArn string) (events.APIGatewayCustomAuthorizerResponse, error) {
	c, err := tokens.VerifyAgent(token)
	if err != nil {
		h.Log.InfoContext(ctx, "agent token refused")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	return allow(c.AgentID, methodArn, map[string]any{"tenantId": c.TenantID, "agentId": c.AgentID, "agentName": c.AgentName}), nil
}

func allow(principal, methodArn string, vars map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{methodArn},
			}},
		},
		Context: vars,
	}
}

// Route records a connection on $connect and removes it on $disconnect: a
// visitor's under its contact, an agent's console under the tenant's agents.
func (h *Handler) Route(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	id, err := IdentityOf(rc)
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusUnauthorized}, nil
	}
	if rc.EventType != "CONNECT" && rc.EventType != "DISCONNECT" {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest}, nil
	}
	log := h.Log.With("tenantId", id.TenantID, "connectionId", rc.ConnectionID)
	connect, now := rc.EventType == "CONNECT", h.Store.Now()
	switch {
	case id.IsAgent() && connect:
		err = h.Store.PutAgentConnection(ctx, &chat.AgentConnection{ID: rc.ConnectionID, TenantID: id.TenantID,
			AgentID: id.AgentID, AgentName: id.AgentName, ConnectedAt: now})
	case id.IsAgent():
		if err = h.Store.DeleteAgentConnection(ctx, id.TenantID, rc.ConnectionID); err == nil {
			h.agentLeft(ctx, log, rc, id)
		}
	case connect:
		// The authorizer checked the erasure list, but an erasure may have
		// completed since: a connection of an erased visitor is refused, and
		// leaves no record the erasure would not find.
		var erased bool
		if erased, err = h.Store.IsSuppressed(ctx, id.TenantID, chat.SuppressContact, id.VisitorID); err == nil && erased {
			log.InfoContext(ctx, "erased visitor's connection refused")
			return events.APIGatewayProxyResponse{StatusCode: http.StatusForbidden}, nil
		}
		if err == nil {
			err = h.Store.PutConnection(ctx, &chat.Connection{ID: rc.ConnectionID, TenantID: id.TenantID,
				ContactID: id.VisitorID, ConnectedAt: now})
		}
	default:
		err = h.Store.DeleteConnection(ctx, id.TenantID, id.VisitorID, rc.ConnectionID)
	}
	if err != nil {
		log.ErrorContext(ctx, "connection record", "eventType", rc.EventType, "agent", id.IsAgent(), "error", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// agentLeft tells the tenant's other consoles the presence of an agent whose
// console is gone: offline with no console left, else what the agent's other
// consoles say. A failure is logged only: the console is gone either way, and
// a console reads the agents again when it connects.
func (h *Handler) agentLeft(ctx context.Context, log *slog.Logger, rc events.APIGatewayWebsocketProxyRequestContext, id Identity) {
	if h.Pusher == nil {
		return
	}
	conns, err := h.Store.AgentConnections(ctx, id.TenantID)
	if err == nil {
		// A read that is not strongly consistent may still list the
		// connection just removed.
		conns = slices.DeleteFunc(conns, func(c chat.AgentConnection) bool { return c.ID == rc.ConnectionID })
		var mine []chat.AgentConnection
		for _, c := range conns {
			if c.AgentID == id.AgentID {
				mine = append(mine, c)
			}
		}
		_, err = agentfeed.Send(ctx, h.Store, h.Pusher(rc.DomainName, rc.Stage), id.TenantID, conns, "",
			frames.AgentPresence{Type: "agent", AgentID: id.AgentID, Name: id.AgentName, State: chat.Presence(mine)})
	}
	if err != nil {
		log.WarnContext(ctx, "the other consoles were not told the agent left", "error", err)
	}
}
