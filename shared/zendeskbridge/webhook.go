package zendeskbridge

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/webhook"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// WebhookPrefix is where Zendesk posts: WebhookPrefix + <webhook id>.
const WebhookPrefix = "/webhooks/zendesk/"

// MaxCommentBytes is the most of a Zendesk comment's text a message keeps
// (Zendesk takes up to 64 KB; a WebSocket frame carries 128 KB at most); the
// rest is cut, marked "...".
const MaxCommentBytes = 32 << 10

var errBadSignature = chat.Errorf(chat.EUnauthorized, "missing, invalid or stale signature")

// Handle serves POST /webhooks/zendesk/<webhook id>: the id names the
// tenant (unknown: 404, nothing written); the signature is checked before
// the body is read (401, nothing written); a body that is not a Zendesk
// event is 400. A public comment of a Zendesk agent on a handed-off ticket
// becomes an agent message of its conversation, once per comment; anything
// else is answered 200 and stored nowhere. 500 asks Zendesk to retry.
func (b *Bridge) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	i := strings.LastIndex(path, WebhookPrefix)
	webhookID := ""
	if i >= 0 {
		webhookID = path[i+len(WebhookPrefix):]
	}
	if webhookID == "" || strings.Contains(webhookID, "/") {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	if req.RequestContext.HTTP.Method != http.MethodPost {
		res := webhook.ProblemStatus(http.StatusMethodNotAllowed, "Method Not Allowed", "use POST")
		res.Headers["Allow"] = "POST"
		return res, nil
	}
	tenantID, ch, err := b.Store.ChannelOfWebhook(ctx, webhookID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && ch != Channel) {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	if err != nil {
		return b.internal(ctx, "route", err), nil
	}
	in, cr, err := b.integration(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && in.WebhookID != webhookID) {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	if err != nil {
		return b.internal(ctx, "integration", err), nil
	}
	body, err := webhook.RawBody(req)
	if err != nil {
		return webhook.Problem(errBadSignature, "Unauthorized"), nil
	}
	if err := zendesk.Verify(req.Headers, body, cr.WebhookSecret, b.now()); err != nil {
		b.Log.WarnContext(ctx, "webhook signature rejected", "channel", Channel, "tenantId", tenantID, "reason", err.Error())
		return webhook.Problem(errBadSignature, "Unauthorized"), nil
	}
	ev, err := zendesk.ParseEvent(body)
	if err != nil {
		b.Log.WarnContext(ctx, "webhook malformed", "channel", Channel, "tenantId", tenantID, "reason", err.Error())
		return webhook.Problem(chat.Errorf(chat.EInvalid, "not a Zendesk event"), "Bad Request"), nil
	}
	if err := b.comment(ctx, tenantID, cr, zendesk.InvocationID(req.Headers), ev); err != nil {
		return b.internal(ctx, "comment", err), nil
	}
	return webhook.JSON(http.StatusOK, map[string]bool{"ok": true}), nil
}

// comment stores a verified event's comment as an agent message, when it is
// a public comment of Zendesk staff (not the integration's own user) on a
// ticket handed off from a conversation of the tenant. The invocation id is
// recorded once the message is stored, so a redelivery stops there; the
// message is keyed by the comment id, so a redelivery racing the first (or
// a second invocation of the same comment) stores it once too.
func (b *Bridge) comment(ctx context.Context, tenantID string, cr credentials, invocation string, ev *zendesk.CommentEvent) error {
	if ev == nil || !ev.Public || !ev.AuthorStaff || ev.AuthorID == cr.UserID || strings.TrimSpace(ev.Body) == "" {
		return nil
	}
	convID := ev.ExternalID
	if convID == "" {
		return nil // not a ticket of ours
	}
	h, err := b.Store.Handoff(ctx, tenantID, convID, Channel)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && h.TicketID != ev.TicketID) {
		return nil // another tenant's external id, or a ticket that was not handed off
	}
	if err != nil {
		return err
	}
	cv, err := b.Store.Conversation(ctx, tenantID, convID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil // erased or expired since
	}
	if err != nil {
		return err
	}
	key := "zendesk-invocation:" + invocation
	if invocation != "" {
		if _, seen, err := b.Store.InboundConversation(ctx, tenantID, cv.ContactID, key); err != nil || seen {
			return err
		}
	}
	t, err := b.tenants.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if t.Status == "closed" {
		return nil
	}
	name := strings.TrimSpace(ev.AuthorName)
	if name == "" {
		name = "Support"
	}
	m := &chat.Message{TenantID: tenantID, ConversationID: cv.ID, ContactID: cv.ContactID, Channel: cv.Channel,
		Author: chat.Author{Kind: chat.AuthorAgent, Name: channel.Truncate(name, 80)}, Text: channel.Truncate(ev.Body, MaxCommentBytes),
		ClientMessageID: "zendesk:" + ev.TicketID + ":" + ev.CommentID}
	m, created, err := b.Store.PutMessage(ctx, m, t.Periods())
	if err != nil {
		return err
	}
	if created {
		if _, err := b.Store.TouchConversation(ctx, tenantID, cv.ID, m.CreatedAt, m.KeepUntil, store.InboxStep); err != nil {
			return err
		}
	}
	if invocation != "" {
		if _, err := b.Store.ClaimInbound(ctx, tenantID, cv.ContactID, key, cv.ID, t.Periods()); err != nil {
			return err
		}
	}
	return nil
}

// internal logs err and answers 500 without detail (Zendesk retries).
func (b *Bridge) internal(ctx context.Context, op string, err error) events.APIGatewayV2HTTPResponse {
	b.Log.ErrorContext(ctx, "webhook failed", "channel", Channel, "op", op, "error", err.Error())
	return webhook.ProblemStatus(http.StatusInternalServerError, "Internal Server Error", "try again")
}
