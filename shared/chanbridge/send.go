package chanbridge

import (
	"context"
	"errors"
	"strconv"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/outbox"
)

// Failure codes recorded on a message that will not be sent.
const (
	CodeNotConnected = "not_connected"
	CodeNoRecipient  = "no_recipient"
	CodeUnsubscribed = "unsubscribed"
	// CodeWindowClosed: the channel's time to answer a contact's message
	// passed (WeChat: 48 hours); CodeQuotaExceeded: the messages it allows
	// per contact message were sent (WeChat: 5).
	CodeWindowClosed  = "window_closed"
	CodeQuotaExceeded = "quota_exceeded"
)

// errQuota stops a part over the contact's quota.
var errQuota = errors.New("quota exceeded")

var _ channel.Sender = (*Bridge)(nil)

// Channel is Destination: the name of the bridge's sends.
func (b *Bridge) Channel() string { return Destination }

// Wants takes agent and bot messages of the bridge's channels' conversations.
func (b *Bridge) Wants(m *chat.Message) bool {
	_, ok := b.Providers[m.Channel]
	return ok && (m.Author.Kind == chat.AuthorAgent || m.Author.Kind == chat.AuthorBot)
}

// Window is none: these channels let a bot write to a contact at any time
// (until the contact unsubscribes or blocks it).
func (b *Bridge) Window() channel.Window { return channel.Window{} }

// Limit is Telegram's, the strictest: one message a second to a chat.
func (b *Bridge) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 1, Burst: 1, Scope: channel.ScopeContact}
}

// Send is Deliver (channel.Sender).
func (b *Bridge) Send(ctx context.Context, m *chat.Message) error { return b.Deliver(ctx, m) }

// Deliver sends m to its contact on the conversation's channel with the
// tenant's credentials. It returns an error only for what is worth a retry
// (rate, 5xx, the network, our store): dispatch parks the delivery and tries
// it again. A message that will not be sent (the account is not connected,
// the contact unsubscribed, the provider refused it) is marked failed with
// the reason. Parts are sent once each (shared/outbox), paced to the
// channel's limit per chat; a LINE reply token still fresh is used, once,
// for the first part.
func (b *Bridge) Deliver(ctx context.Context, m *chat.Message) error {
	if !b.Wants(m) {
		return nil
	}
	p := b.Providers[m.Channel]
	fail := func(code string) error {
		b.Log.InfoContext(ctx, "channel send refused", "tenantId", m.TenantID, "messageId", m.ID, "channel", m.Channel, "code", code)
		_, err := b.Store.SetDelivery(ctx, m, chat.DeliveryFailed, code)
		return err
	}
	in, err := b.Store.ChannelIntegration(ctx, m.TenantID, m.Channel)
	if errors.Is(err, chat.ErrNotFound) {
		return fail(CodeNotConnected)
	}
	if err != nil {
		return err
	}
	u, err := b.Store.ContactChannelUser(ctx, m.TenantID, m.ContactID, m.Channel)
	if errors.Is(err, chat.ErrNotFound) {
		return fail(CodeNoRecipient)
	}
	if err != nil {
		return err
	}
	if u.Unsubscribed {
		return fail(CodeUnsubscribed)
	}
	creds, err := b.credentials(ctx, in)
	if err != nil {
		return err
	}
	periods, err := b.tenants.Periods(ctx, m.TenantID)
	if err != nil {
		return err
	}
	q, counted := p.(Quota)
	if counted {
		if _, life := q.Quota(); b.now().Sub(u.LastInboundAt) > life {
			return fail(CodeWindowClosed)
		}
	}
	err = outbox.Send(ctx, b.Store, m, m.Channel, p.Parts(m.Text), periods, p.Limit().Interval(), func(i int, part string) (string, error) {
		out := Outbound{To: u.UserID, Text: part, Key: m.ID + ":" + strconv.Itoa(i)}
		if i == 0 {
			out.ReplyToken = b.replyToken(ctx, m, u)
		}
		if counted {
			max, _ := q.Quota()
			ok, err := b.Store.ClaimQuotaSend(ctx, m.TenantID, u, out.Key, max)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", errQuota
			}
		}
		var id string
		err := b.withAccess(ctx, in, p, &creds, func() (err error) {
			id, err = p.Send(ctx, creds, out)
			return err
		})
		return id, err
	})
	var se *outbox.SendError
	if !errors.As(err, &se) {
		return err
	}
	if errors.Is(se.Err, errQuota) {
		return fail(CodeQuotaExceeded)
	}
	if _, limited := channel.RetryAfter(se.Err); limited || !errors.Is(se.Err, ErrRefused) {
		return se.Err
	}
	return fail(refusalCode(se.Err))
}

// replyToken takes the contact's LINE reply token for this message when it
// is still fresh (ReplyTokenLife) and no other send took it; "" otherwise.
func (b *Bridge) replyToken(ctx context.Context, m *chat.Message, u *chat.ChannelUser) string {
	if u.ReplyToken == "" || b.now().Sub(u.ReplyTokenAt) > ReplyTokenLife {
		return ""
	}
	took, err := b.Store.TakeReplyToken(ctx, m.TenantID, u, u.ReplyToken)
	if err != nil || !took {
		return ""
	}
	return u.ReplyToken
}

// refusalCode is what a message shows of a provider's refusal: the
// provider package's error, which names the call and the provider's code
// (never text or tokens), cut short.
func refusalCode(err error) string { return channel.Truncate(err.Error(), 80) }
