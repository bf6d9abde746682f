// Package ingest stores a channel's inbound message (a verified channel.Event
// of a Messenger, Instagram or WhatsApp user...) in the tenant's inbox: the
// sender becomes a contact with a channel identity, the message goes into the
// contact's open conversation on that channel, once, whatever the provider
// redelivers and however a partial failure left an earlier attempt.
//
// The order of the writes makes every attempt safe to repeat:
//  1. the erasure gate (suppression.Admit): an erased identity is refused, or
//     comes back as a new contact if the tenant allows it;
//  2. the channel user's lookup records the message's time (the reply window
//     counts from it) and names the contact, created on a first message;
//  3. the inbound marker under the contact names the conversation the
//     provider's message id went to (claimed with the contact's open one), so
//     a redelivery after that conversation closed still lands in it, not in a
//     new one;
//  4. attachments are copied to our storage under keys derived from the
//     provider's message id (a retry overwrites the same objects);
//  5. the message is written once per provider message id (store.PutMessage).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/suppression"
)

// Store is what ingest reads and writes (*store.Store).
type Store interface {
	suppression.Checker
	Now() time.Time
	Contact(ctx context.Context, tenantID, contactID string) (*chat.Contact, error)
	TouchChannelUser(ctx context.Context, tenantID string, u *chat.ChannelUser, at time.Time, p retention.Periods) (*chat.ChannelUser, error)
	InboundConversation(ctx context.Context, tenantID, contactID, dedupeKey string) (string, bool, error)
	ClaimInbound(ctx context.Context, tenantID, contactID, dedupeKey, convID string, p retention.Periods) (string, error)
	OpenConversation(ctx context.Context, tenantID, contactID, channel string, p retention.Periods) (*chat.Contact, string, error)
	PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error)
}

// Files copies a message's attachments into our storage: Copy fetches the
// provider's file and stores it under a key derived from the tenant, the
// contact, the message's dedupe key and the attachment's index, so a retry
// writes the same object. It never returns the provider's URL.
type Files interface {
	Copy(ctx context.Context, tenantID, contactID, dedupeKey string, n int, a channel.Attachment) (chat.Attachment, error)
}

// MaxTextChars bounds a stored channel message's text; longer text is cut
// (providers allow up to 4,096 characters, we keep that and more).
const MaxTextChars = 16000

// ErrErased means the sender's identity was erased at their request and the
// tenant refuses it again: the message is not stored (no error to the
// provider, which would only send it again).
var ErrErased = suppression.ErrErased

// Ingester stores channel messages.
type Ingester struct {
	Store Store
	// Files copies attachments; nil drops them (the text is still stored).
	Files Files
}

// Message stores ev (a channel.KindMessage) for tenant t, and returns the
// stored message and whether this call stored it (false for a redelivery).
func (in *Ingester) Message(ctx context.Context, t *chat.Tenant, ev channel.Event) (*chat.Message, bool, error) {
	if ev.Kind != channel.KindMessage || ev.DedupeKey == "" || ev.From.Channel == "" || ev.From.Account == "" || ev.From.UserID == "" {
		return nil, false, fmt.Errorf("ingest: not a message event with a dedupe key and a sender")
	}
	st, p := in.Store, t.Periods()
	user := &chat.ChannelUser{Channel: ev.From.Channel, Account: ev.From.Account, UserID: ev.From.UserID,
		DisplayName: ev.From.DisplayName, ReplyToken: ev.ReplyToken}
	adm, err := suppression.Admit(ctx, st, t, suppression.Identity{Channel: user.Channel, ExternalID: user.ExternalID()})
	if err != nil {
		return nil, false, err
	}
	user.ContactID = ids.New(ids.Contact)
	if adm.Fresh {
		user.ContactID = adm.ContactID
	}
	at := ev.At
	if at.IsZero() || at.After(st.Now()) {
		at = st.Now()
	}
	if user, err = st.TouchChannelUser(ctx, t.ID, user, at, p); err != nil {
		return nil, false, err
	}
	key := ev.From.Channel + ":" + ev.DedupeKey
	convID, err := in.conversation(ctx, t, user, key)
	if err != nil {
		return nil, false, err
	}
	m := &chat.Message{TenantID: t.ID, ConversationID: convID, ContactID: user.ContactID,
		Author: chat.Author{Kind: chat.AuthorVisitor, Name: user.DisplayName}, Text: cut(ev.Text, MaxTextChars),
		Channel: user.Channel, ClientMessageID: key}
	for i, a := range ev.Attachments {
		if in.Files == nil {
			break
		}
		f, err := in.Files.Copy(ctx, t.ID, user.ContactID, key, i, a)
		if errors.Is(err, attachment.ErrTooLarge) {
			f, err = chat.Attachment{Name: a.Name, ContentType: a.ContentType, Omitted: "too_large"}, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("copy attachment %d: %w", i, err)
		}
		m.Attachments = append(m.Attachments, f)
	}
	return st.PutMessage(ctx, m, p)
}

// conversation returns the conversation the message of dedupe key goes to:
// the one a first delivery of it claimed, else the user's open one (opened if
// there is none). The hot path is a contact read and the claim; only a user
// without an open conversation reads the marker first, so that a redelivery
// after its conversation closed does not open an empty new one.
func (in *Ingester) conversation(ctx context.Context, t *chat.Tenant, user *chat.ChannelUser, key string) (string, error) {
	st, p := in.Store, t.Periods()
	c, err := st.Contact(ctx, t.ID, user.ContactID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return "", err
	}
	open := ""
	if c != nil {
		open = c.OpenConversationID
	}
	if open == "" {
		claimed, found, err := st.InboundConversation(ctx, t.ID, user.ContactID, key)
		if err != nil || found {
			return claimed, err
		}
		if _, open, err = st.OpenConversation(ctx, t.ID, user.ContactID, user.Channel, p); err != nil {
			return "", err
		}
	}
	return st.ClaimInbound(ctx, t.ID, user.ContactID, key, open, p)
}

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// IsErased reports whether err is an erased identity's refusal.
func IsErased(err error) bool { return errors.Is(err, ErrErased) }
