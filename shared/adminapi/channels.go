package adminapi

import (
	"context"
	"net/http"
	"regexp"
	"slices"

	"github.com/livesupportbot/backend/shared/apiurl"
	"github.com/livesupportbot/backend/shared/chat"
)

// ChannelIntegrations is what the admin API needs of an integration's bridge
// (metabridge, chanbridge, zendeskbridge, botbridge): connecting and
// disconnecting an account, and listing the connected ones (without
// tokens). A bridge of conversation channels is also a ReplyWindows.
type ChannelIntegrations interface {
	Channels() []string
	Connect(ctx context.Context, t *chat.Tenant, channel string, c chat.ChannelConnect) (*chat.ChannelIntegration, error)
	Disconnect(ctx context.Context, tenantID, channel string) error
	Integrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error)
}

// ReplyWindows says whether a channel conversation may be answered now (the
// bridges of conversation channels: metabridge, chanbridge).
type ReplyWindows interface {
	ReplyWindow(ctx context.Context, cv *chat.Conversation) (*chat.ReplyWindow, error)
	CanReply(ctx context.Context, cv *chat.Conversation, template bool) error
}

// AttachmentLinks sets short-lived links on messages' attachments
// (attachment.Store).
type AttachmentLinks interface {
	Links(ctx context.Context, msgs []*chat.Message) error
}

func (a *API) channelRoutes() []Route {
	return []Route{
		{Method: http.MethodPut, Pattern: "/v1/integrations/{channel}", Role: RoleOwner, Handle: a.putChannel},
		{Method: http.MethodDelete, Pattern: "/v1/integrations/{channel}", Role: RoleOwner, Handle: a.deleteChannel},
		{Method: http.MethodPost, Pattern: "/v1/conversations/{id}/template", Role: RoleAgent, Handle: a.sendTemplate},
		{Method: http.MethodPost, Pattern: "/v1/conversations/{id}/handoff", Role: RoleAgent, Handle: a.handoff},
	}
}

// channelView is a connected channel account as the API lists it.
func channelView(in *chat.ChannelIntegration) IntegrationView {
	return IntegrationView{Channel: in.Channel, AccountID: in.AccountID, AccountName: in.AccountName, BusinessID: in.BusinessID,
		HumanAgent: in.HumanAgent, WebhookURL: in.WebhookURL, Broken: in.Broken, InstalledAt: in.InstalledAt, Settings: in.Settings}
}

// bridge is the bridge that serves a channel (nil: none).
func (a *API) bridge(ch string) ChannelIntegrations {
	for _, c := range a.channels {
		if slices.Contains(c.Channels(), ch) {
			return c
		}
	}
	return nil
}

// channel is the path's channel and its bridge, if the deployment offers it.
func (a *API) channel(r *Request) (string, ChannelIntegrations, error) {
	ch := r.Param("channel")
	c := a.bridge(ch)
	if c == nil {
		return "", nil, chat.Errorf(chat.ENotFound, "no such channel integration")
	}
	return ch, c, nil
}

// putChannel connects (or reconnects) a channel account: its ids and its
// access token, which is encrypted at once and never shown again.
func (a *API) putChannel(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	ch, bridge, err := a.channel(r)
	if err != nil {
		return nil, err
	}
	var c chat.ChannelConnect
	if err := r.Decode(&c); err != nil {
		return nil, err
	}
	c.WebhookBase = apiurl.Base(a.publicURL, r.APIContext)
	in, err := bridge.Connect(ctx, r.Principal.Tenant, ch, c)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActIntegrationInstall, map[string]string{"channel": ch, "accountId": in.AccountID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, channelView(in)), nil
}

// deleteChannel disconnects a channel account. Nothing connected is no error.
func (a *API) deleteChannel(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	ch, bridge, err := a.channel(r)
	if err != nil {
		return nil, err
	}
	if err := bridge.Disconnect(ctx, r.Principal.TenantID, ch); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActIntegrationDelete, map[string]string{"channel": ch}); err != nil {
		return nil, err
	}
	return NoContent(), nil
}

// channelIntegrations lists the tenant's connected channel accounts.
func (a *API) channelIntegrations(ctx context.Context, tenantID string) ([]IntegrationView, error) {
	var out []IntegrationView
	for _, c := range a.channels {
		ins, err := c.Integrations(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		for _, in := range ins {
			out = append(out, channelView(in))
		}
	}
	return out, nil
}

// conversationView is a conversation with, for a messaging channel's, until
// when it may be answered.
type conversationView struct {
	chat.Conversation
	ReplyWindow *chat.ReplyWindow `json:"replyWindow,omitempty"`
}

func (a *API) conversationView(ctx context.Context, cv *chat.Conversation) (*conversationView, error) {
	v := &conversationView{Conversation: *cv}
	c, ok := a.bridge(cv.Channel).(ReplyWindows)
	if !ok || cv.Archived {
		return v, nil
	}
	w, err := c.ReplyWindow(ctx, cv)
	v.ReplyWindow = w
	return v, err
}

// canReply refuses a reply the conversation's channel would not take now
// (window_closed, 409).
func (a *API) canReply(ctx context.Context, cv *chat.Conversation, template bool) error {
	c, ok := a.bridge(cv.Channel).(ReplyWindows)
	if !ok {
		return nil
	}
	return c.CanReply(ctx, cv, template)
}

type templateBody struct {
	Name      string   `json:"name"`
	Language  string   `json:"language"`
	Params    []string `json:"params"`
	AgentName string   `json:"agentName"`
}

// sendTemplate sends an approved WhatsApp template (name, language,
// parameters) to the conversation's contact: the only message WhatsApp takes
// after the contact's 24-hour window closed. It is stored as an agent message
// (its text names the template) and sent by dispatch like a reply.
func (a *API) sendTemplate(ctx context.Context, r *Request) (*Response, error) {
	var b templateBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	if !templateName.MatchString(b.Name) {
		issues["name"] = "must be the template's name: 1 to 512 lower-case letters, digits and underscores"
	}
	if !templateLanguage.MatchString(b.Language) {
		issues["language"] = "must be a language code such as en or en_US"
	}
	if len(b.Params) > 20 {
		issues["params"] = "must be at most 20 values"
	}
	for _, p := range b.Params {
		if chat.TextProblem(p, 1024) != "" {
			issues["params"] = "must each be 1 to 1024 characters of UTF-8 text"
		}
	}
	agent := checkName(b.AgentName, issues, "agentName", false)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the template is invalid", Fields: issues}
	}
	cv, err := a.conversation(ctx, r)
	if err != nil {
		return nil, err
	}
	if cv.Channel != "whatsapp" {
		return nil, chat.Errorf(chat.EConflict, "templates are sent to WhatsApp conversations only")
	}
	if cv.Status != chat.StatusOpen {
		return nil, chat.Errorf(chat.EConflict, "the conversation is closed; reopen it to send")
	}
	if agent == "" {
		agent = "Agent"
	}
	if err := a.canReply(ctx, cv, true); err != nil {
		return nil, err
	}
	m, _, err := a.storeAgentMessage(ctx, r, cv, &chat.Message{Author: chat.Author{Kind: chat.AuthorAgent, Name: agent},
		Text: "Template " + b.Name + " (" + b.Language + ")", Template: &chat.Template{Name: b.Name, Language: b.Language, Params: b.Params}})
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, m), nil
}

var (
	templateName     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
)

// Desks hand conversations to a tenant's help desk (zendeskbridge.Bridge).
type Desks interface {
	// Handoff hands cv to the desk (idempotent: created is false when it
	// was handed off before, and the handoff is the first one).
	Handoff(ctx context.Context, t *chat.Tenant, cv *chat.Conversation, by string) (h *chat.Handoff, created bool, err error)
}

// ActHandoff is the audit action of a handoff.
const ActHandoff = "conversation.handoff"

type handoffBody struct {
	To        string `json:"to"`
	AgentName string `json:"agentName"`
}

// handoff hands a conversation to the tenant's help desk ("to": "zendesk"):
// a ticket with the transcript; the desk's public replies come back as
// agent messages and the contact's later messages go to the ticket. 201 the
// first time, 200 with the same handoff after.
func (a *API) handoff(ctx context.Context, r *Request) (*Response, error) {
	var b handoffBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	if b.To != "zendesk" {
		issues["to"] = "must be zendesk"
	}
	agent := checkName(b.AgentName, issues, "agentName", false)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the handoff is invalid", Fields: issues}
	}
	cv, err := a.conversation(ctx, r)
	if err != nil {
		return nil, err
	}
	if a.desks == nil {
		return nil, chat.Errorf(chat.ENotFound, "no help desk is offered by this deployment")
	}
	if agent == "" {
		agent = "an agent"
	}
	h, created, err := a.desks.Handoff(ctx, r.Principal.Tenant, cv, agent)
	if err != nil {
		return nil, err
	}
	if !created {
		return JSON(http.StatusOK, h), nil
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActHandoff, map[string]string{"conversationId": cv.ID, "to": h.To, "ticketId": h.TicketID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, h), nil
}
