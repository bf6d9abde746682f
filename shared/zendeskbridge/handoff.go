package zendeskbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// TranscriptMessages is how many of the conversation's last messages the
// ticket's first comment carries.
const TranscriptMessages = 200

// Handoff hands a conversation to the tenant's Zendesk: a ticket with the
// transcript so far, the contact as requester when their email is known.
// It is idempotent: a conversation handed off already returns its handoff
// (created false), and racing calls create one ticket (Zendesk's
// Idempotency-Key is the conversation's) and record one handoff. A tenant
// without Zendesk is a conflict; Zendesk refusing is a 502-class error.
func (b *Bridge) Handoff(ctx context.Context, t *chat.Tenant, cv *chat.Conversation, by string) (*chat.Handoff, bool, error) {
	if h, err := b.Store.Handoff(ctx, t.ID, cv.ID, Channel); err == nil {
		return h, false, nil
	} else if !errors.Is(err, chat.ErrNotFound) {
		return nil, false, err
	}
	in, cr, err := b.integration(ctx, t.ID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, false, chat.Errorf(chat.EConflict, "Zendesk is not connected: PUT /v1/integrations/zendesk first")
	}
	if err != nil {
		return nil, false, err
	}
	contact, err := b.Store.Contact(ctx, t.ID, cv.ContactID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return nil, false, err
	}
	msgs, _, err := b.Store.History(ctx, t.ID, cv.ID, "", TranscriptMessages)
	if err != nil {
		return nil, false, err
	}
	nt := zendesk.NewTicket{Subject: subject(contact, cv), Body: Transcript(cv, contact, msgs, by),
		ExternalID: cv.ID, Tags: []string{"livesupportbot", "channel_" + cv.Channel}}
	if contact != nil && contact.Email != "" {
		nt.RequesterEmail, nt.RequesterName = contact.Email, contact.DisplayName()
	}
	ticket, err := b.client(in.AccountID, cr).CreateTicket(ctx, nt, "livesupportbot-handoff-"+cv.ID)
	if err != nil {
		b.Log.WarnContext(ctx, "zendesk ticket not created", "tenantId", t.ID, "conversationId", cv.ID, "error", err.Error())
		if errors.Is(err, zendesk.ErrRefused) {
			return nil, false, chat.Errorf(chat.EConflict, "Zendesk refused the ticket: check the integration (GET /v1/integrations)")
		}
		return nil, false, err
	}
	h := &chat.Handoff{TenantID: t.ID, ConversationID: cv.ID, To: Channel, TicketID: ticket.ID, RequesterID: ticket.RequesterID,
		TicketURL: "https://" + in.AccountID + ".zendesk.com/agent/tickets/" + ticket.ID, By: by, At: b.now().UTC()}
	return b.Store.PutHandoff(ctx, h, t.Periods())
}

// subject is the ticket's subject.
func subject(c *chat.Contact, cv *chat.Conversation) string {
	who := "a visitor"
	if c != nil && c.Name != "" {
		who = c.Name
	}
	return fmt.Sprintf("Chat with %s (%s)", who, cv.Channel)
}

// Transcript is the ticket's first comment: who handed the conversation
// off, then its messages, oldest first, one a line with time and author.
func Transcript(cv *chat.Conversation, c *chat.Contact, msgs []*chat.Message, by string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Conversation %s on %s, handed off by %s.\n\n", cv.ID, cv.Channel, by)
	for _, m := range msgs {
		who := m.Author.Name
		switch {
		case m.Author.Kind == chat.AuthorVisitor && c != nil:
			who = c.DisplayName()
		case who == "":
			who = m.Author.Kind
		}
		text := m.Text
		for _, a := range m.Attachments {
			text += " [file: " + a.Name + "]"
		}
		fmt.Fprintf(&sb, "[%s] %s (%s): %s\n", m.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), who, m.Author.Kind, text)
	}
	return sb.String()
}
