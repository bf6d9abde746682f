// Package wsmessage handles the frames a visitor sends over the WebSocket
// (sendMessage, typing, history, identify, ping, presence, and anything else on
// $default): it validates each frame, stores messages once by clientMessageId,
// and answers the sender; and the frames of agents' consoles (agent.go). A bad
// frame gets an error frame; the connection stays open.
package wsmessage

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/frames"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/suppression"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// maxFrame is the largest frame read at all (API Gateway allows 128 KiB).
const maxFrame = 64 << 10

// Store is what the frames need of the store (*store.Store).
type Store interface {
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	OpenConversation(ctx context.Context, tenantID, contactID, channel string, p retention.Periods) (*chat.Contact, string, error)
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
	History(ctx context.Context, tenantID, convID, before string, limit int) ([]*chat.Message, string, error)
	Identify(ctx context.Context, tenantID, contactID, name, email string, p retention.Periods) (*chat.Contact, error)
	Connections(ctx context.Context, tenantID, contactID string) ([]chat.Connection, error)
	Conversation(ctx context.Context, tenantID, convID string) (*chat.Conversation, error)
	AgentConnections(ctx context.Context, tenantID string) ([]chat.AgentConnection, error)
	DeleteAgentConnection(ctx context.Context, tenantID, connectionID string) error
	SetAgentAway(ctx context.Context, tenantID, connectionID string, away bool) error
	// IsSuppressed is the erasure gate's check.
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
}

// Tenants gives a frame's tenant (store.TenantCache).
type Tenants interface {
	TenantAtLeast(ctx context.Context, id string, version int64) (*chat.Tenant, error)
}

// Limiter counts a request against a budget (ratelimit.Limiter).
type Limiter interface {
	Take(ctx context.Context, tenantID, subject, bucket string, lim chat.RateLimit) error
}

// PageViewHook records a page view frame (usage.Hook).
type PageViewHook func(ctx context.Context, tenantID, visitorID string, frame json.RawMessage, rc events.APIGatewayWebsocketProxyRequestContext) error

// Deps is what the handler is built from.
type Deps struct {
	Store   Store
	Tenants Tenants
	Limiter Limiter
	// Pusher gives the pusher of the API a frame came through
	// (pusher.Endpoints.For).
	Pusher func(domainName, stage string) *pusher.Pusher
	// MaxChars limits the text of a message (chat.TextLimit: the default when 0).
	MaxChars int
	// PageView records a page view frame (usage data); nil ignores them.
	PageView PageViewHook
	Log      *slog.Logger
}

// Handler handles visitor frames.
type Handler struct{ Deps }

// New returns the handler of visitor frames.
func New(d Deps) *Handler { return &Handler{Deps: d} }

type frame struct {
	Action          string  `json:"action"`
	ClientMessageID string  `json:"clientMessageId"`
	Text            *string `json:"text"`
	SentAt          *int64  `json:"sentAt"` // ms since the epoch, by the server's clock as the client knows it
	State           string  `json:"state"`
	Before          string  `json:"before"`
	Name            string  `json:"name"`
	Email           string  `json:"email"`
	ConversationID  string  `json:"conversationId"`
}

// Identified answers an identify frame (an extension of the contract).
type Identified struct {
	Type    string `json:"type"` // "identified"
	Name    string `json:"name"`
	Email   string `json:"email"`
	Contact string `json:"contactId"`
}

// Handle handles one frame and always answers 200: problems go to the sender as
// error frames.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	id, err := wsconn.IdentityOf(rc)
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusUnauthorized}, nil
	}
	p := h.Pusher(rc.DomainName, rc.Stage)
	reply, cmid := h.frame(ctx, p, id, req)
	if e, ok := reply.(error); ok {
		if chat.ErrorCode(e) == chat.EInternal {
			h.Log.ErrorContext(ctx, "frame failed", "tenantId", id.TenantID, "route", rc.RouteKey, "error", e)
		}
		reply = frames.NewError(e, cmid)
	}
	if reply != nil {
		if err := p.Send(ctx, rc.ConnectionID, reply); err != nil && !errors.Is(err, pusher.ErrGone) {
			h.Log.ErrorContext(ctx, "answer sender", "tenantId", id.TenantID, "error", err)
			return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
		}
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// frame returns the answer to send (a frame, an error or nil) and the frame's
// clientMessageId.
func (h *Handler) frame(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, req events.APIGatewayWebsocketProxyRequest) (any, string) {
	if len(req.Body) > maxFrame {
		return chat.Errorf(chat.ETooLarge, "frame is larger than %d bytes", maxFrame), ""
	}
	var f frame
	d := json.NewDecoder(strings.NewReader(req.Body))
	if err := d.Decode(&f); err != nil || d.More() {
		return chat.Errorf(chat.EInvalid, "frame is not a JSON object"), ""
	}
	t, err := h.Tenants.TenantAtLeast(ctx, id.TenantID, id.TenantVersion)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && t.Status == "closed") {
		return chat.Errorf(chat.EUnauthorized, "widget is no longer available"), f.ClientMessageID
	}
	if err != nil {
		return err, f.ClientMessageID
	}
	if err := h.limit(ctx, t, id, f.Action); err != nil {
		return err, f.ClientMessageID
	}
	if id.IsAgent() {
		return h.agentFrame(ctx, p, id, req.RequestContext.ConnectionID, f), ""
	}
	switch f.Action {
	case "sendMessage":
		return h.sendMessage(ctx, t, id, req.RequestContext.ConnectionID, f)
	case "typing":
		return h.typing(ctx, p, id, req.RequestContext.ConnectionID, f), ""
	case "history":
		return h.history(ctx, id, f), ""
	case "identify":
		return h.identify(ctx, t, id, f), ""
	case "ping":
		return frames.Pong{Type: "pong"}, ""
	case "presence":
		return h.agentsOnline(ctx, id.TenantID), ""
	case "pageView":
		if h.PageView == nil {
			return nil, ""
		}
		if err := h.PageView(ctx, id.TenantID, id.VisitorID, json.RawMessage(req.Body), req.RequestContext); err != nil {
			return err, ""
		}
		return nil, ""
	}
	return chat.Errorf(chat.EInvalid, "unknown action"), f.ClientMessageID
}

func (h *Handler) sendMessage(ctx context.Context, t *chat.Tenant, id wsconn.Identity, connID string, f frame) (any, string) {
	if f.ClientMessageID == "" || len(f.ClientMessageID) > 128 || strings.ContainsAny(f.ClientMessageID, "#\x00") {
		return chat.Errorf(chat.EInvalid, "clientMessageId is required (at most 128 characters)"), ""
	}
	text := ""
	if f.Text != nil {
		text = *f.Text
	}
	switch chat.TextProblem(text, h.MaxChars) {
	case chat.TextEmpty:
		return chat.Errorf(chat.EInvalid, "text is required"), f.ClientMessageID
	case chat.TextNotUTF8:
		return chat.Errorf(chat.EInvalid, "text must be UTF-8"), f.ClientMessageID
	case chat.TextTooLong:
		return chat.Errorf(chat.ETooLarge, "text is longer than %d characters", chat.TextLimit(h.MaxChars)), f.ClientMessageID
	}
	var sentAt time.Time
	if f.SentAt != nil {
		if *f.SentAt <= 0 {
			return chat.Errorf(chat.EInvalid, "sentAt must be milliseconds since 1970"), f.ClientMessageID
		}
		sentAt = time.UnixMilli(*f.SentAt)
	}
	p := t.Periods()
	// The hot path is one read: the contact names its open conversation. Only a
	// message that opens a conversation (and maybe re-creates the contact) passes
	// the erasure gate first.
	c, err := h.Store.Contact(ctx, id.TenantID, id.VisitorID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return err, f.ClientMessageID
	}
	convID := ""
	if c != nil {
		convID = c.OpenConversationID
	}
	if convID == "" {
		if err := h.admit(ctx, t, suppression.Identity{ContactID: id.VisitorID}); err != nil {
			return err, f.ClientMessageID
		}
		if c, convID, err = h.Store.OpenConversation(ctx, id.TenantID, id.VisitorID, chat.ChannelWidget, p); err != nil {
			return err, f.ClientMessageID
		}
	}
	m, _, err := h.Store.PutMessage(ctx, &chat.Message{
		TenantID: id.TenantID, ConversationID: convID, ContactID: id.VisitorID,
		Author: chat.Author{Kind: chat.AuthorVisitor, Name: c.DisplayName()}, Text: text,
		Channel: chat.ChannelWidget, ClientMessageID: f.ClientMessageID, SentAt: sentAt, OriginConnectionID: connID,
	}, p)
	if err != nil {
		return err, f.ClientMessageID
	}
	return frames.NewAck(f.ClientMessageID, m), f.ClientMessageID
}

func (h *Handler) typing(ctx context.Context, p *pusher.Pusher, id wsconn.Identity, connID string, f frame) any {
	if f.State != "start" && f.State != "stop" {
		return chat.Errorf(chat.EInvalid, `state must be "start" or "stop"`)
	}
	// The visitor's other open tabs show it.
	conns, err := h.Store.Connections(ctx, id.TenantID, id.VisitorID)
	if err != nil {
		return err
	}
	frame := frames.Typing{Type: "typing", Author: chat.Author{Kind: chat.AuthorVisitor}, State: f.State}
	if err := sendAll(ctx, p, conns, connID, frame); err != nil {
		return err
	}
	return h.typingToAgents(ctx, p, id, frame)
}

// sendAll sends a frame to a visitor's connections but skip. A gone one is
// left for dispatch to remove (typing is not worth a write).
func sendAll(ctx context.Context, p *pusher.Pusher, conns []chat.Connection, skip string, frame any) error {
	for _, c := range conns {
		if c.ID != skip {
			if err := p.Send(ctx, c.ID, frame); err != nil && !errors.Is(err, pusher.ErrGone) {
				return err
			}
		}
	}
	return nil
}

func (h *Handler) history(ctx context.Context, id wsconn.Identity, f frame) any {
	c, err := h.Store.Contact(ctx, id.TenantID, id.VisitorID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && c.OpenConversationID == "") {
		return frames.History{Type: "history", Messages: []*chat.Message{}}
	}
	if err != nil {
		return err
	}
	msgs, next, err := h.Store.History(ctx, id.TenantID, c.OpenConversationID, f.Before, 50)
	if err != nil {
		return err
	}
	out := frames.History{Type: "history", Messages: msgs}
	if next != "" {
		out.Next = &next
	}
	if out.Messages == nil {
		out.Messages = []*chat.Message{}
	}
	return out
}

func (h *Handler) identify(ctx context.Context, t *chat.Tenant, id wsconn.Identity, f frame) any {
	name, email := strings.TrimSpace(f.Name), strings.TrimSpace(f.Email)
	fields := map[string]string{}
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields["name"] = "required, at most 100 characters"
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		fields["email"] = "must be a valid email address"
	}
	if len(fields) > 0 {
		return &chat.Error{Code: chat.EInvalid, Message: "invalid " + strings.Join(keys(fields), ", "), Fields: fields}
	}
	if err := h.admit(ctx, t, suppression.Identity{ContactID: id.VisitorID, Email: email}); err != nil {
		return err
	}
	c, err := h.Store.Identify(ctx, id.TenantID, id.VisitorID, name, email, t.Periods())
	if err != nil {
		return err
	}
	return Identified{Type: "identified", Name: c.Name, Email: c.Email, Contact: c.ID}
}

func keys(m map[string]string) []string {
	var out []string
	for _, k := range []string{"name", "email"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// admit passes an identity through the erasure gate: an erased visitor id or
// email is refused, unless the tenant lets it come back as a new contact, which
// a visitor id that is not itself erased already is.
func (h *Handler) admit(ctx context.Context, t *chat.Tenant, id suppression.Identity) error {
	adm, err := suppression.Admit(ctx, h.Store, t, id)
	if err != nil {
		return err
	}
	if adm.ContactID != id.ContactID {
		// The visitor id itself was erased: the widget must start a new session.
		return chat.Errorf(chat.EUnauthorized, "this visitor's data was erased; start a new session")
	}
	return nil
}
