package zendeskbridge

import (
	"context"
	"errors"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/outbox"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// Channel is Destination: the name of the bridge's sends (dispatch).
func (b *Bridge) Channel() string { return Destination }

// Wants takes the contact's messages: those of a handed-off conversation
// are added to its ticket. Agents' and the desk's own messages are not (no
// loop).
func (b *Bridge) Wants(m *chat.Message) bool { return m.Author.Kind == chat.AuthorVisitor }

// Deliver adds a contact's message to the ticket of its conversation, if it
// was handed off, as the requester's public comment, once (shared/outbox).
// A tenant without Zendesk costs no read (connected is kept a minute); one
// with it, one read of the handoff. It returns an error only for what is
// worth a retry; Zendesk refusing (a deleted or closed ticket, a revoked
// token) is logged and dropped: the message stays in the inbox.
func (b *Bridge) Deliver(ctx context.Context, m *chat.Message) error {
	if !b.Wants(m) {
		return nil
	}
	if in, err := b.has.Integration(ctx, m.TenantID, b.now()); err != nil || in == nil {
		return err
	}
	h, err := b.Store.Handoff(ctx, m.TenantID, m.ConversationID, Channel)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	in, cr, err := b.integration(ctx, m.TenantID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	periods, err := b.tenants.Periods(ctx, m.TenantID)
	if err != nil {
		return err
	}
	text := m.Text
	for _, a := range m.Attachments {
		text += "\n[file: " + a.Name + "]"
	}
	if text == "" {
		return nil
	}
	err = outbox.Send(ctx, parts{b.Store}, m, Destination, []string{text}, periods, 0, func(int, string) (string, error) {
		return b.client(in.AccountID, cr).AddComment(ctx, h.TicketID, zendesk.Comment{Body: text, Public: true, AuthorID: h.RequesterID})
	})
	var se *outbox.SendError
	if !errors.As(err, &se) {
		return err
	}
	if _, limited := channel.RetryAfter(se.Err); limited || !errors.Is(se.Err, zendesk.ErrRefused) {
		return se.Err
	}
	b.Log.WarnContext(ctx, "zendesk refused a contact's comment", "tenantId", m.TenantID, "conversationId", m.ConversationID,
		"messageId", m.ID, "ticketId", h.TicketID, "error", se.Err.Error())
	return nil
}

// parts records the comments sent of a contact's message, but not a
// delivery status: the message was the contact's, not one we delivered to
// them.
type parts struct{ outbox.Store }

func (parts) SetDelivery(context.Context, *chat.Message, string, string) (bool, error) {
	return false, nil
}
