package metabridge

import (
	"context"
	"errors"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/outbox"
)

// Reply windows (CHANNELS: Meta's 24-hour rule). Messenger and Instagram
// allow a reply typed by a person for 7 days with the HUMAN_AGENT tag, when
// the tenant's app was approved for it (the integration's HumanAgent).
const (
	ReplyWindow      = 24 * time.Hour
	HumanAgentWindow = 7 * 24 * time.Hour
	HumanAgentTag    = "HUMAN_AGENT"
)

// Failure codes recorded on a message that will not be sent.
const (
	CodeWindowClosed = chat.EWindowClosed
	CodeNotConnected = "not_connected"
	CodeNoRecipient  = "no_recipient"
)

var _ channel.Sender = (*Bridge)(nil)

// Channel is "meta": the destination name of the three products' sends.
func (b *Bridge) Channel() string { return "meta" }

// Wants takes agent and bot messages of Messenger, Instagram and WhatsApp
// conversations: those are what the contact reads on the channel.
func (b *Bridge) Wants(m *chat.Message) bool {
	return isMeta(m.Channel) && (m.Author.Kind == chat.AuthorAgent || m.Author.Kind == chat.AuthorBot)
}

// WindowOf is the reply window of a channel, for a tenant that may (humanAgent)
// or may not use the HUMAN_AGENT tag.
func WindowOf(ch string, humanAgent bool) channel.Window {
	w := channel.Window{Reply: ReplyWindow}
	if humanAgent && ch != meta.ChannelWhatsApp {
		w.Tag, w.TagReply = HumanAgentTag, HumanAgentWindow
	}
	return w
}

// Window is the rule without the tag (the tag is per tenant: WindowOf).
func (b *Bridge) Window() channel.Window { return WindowOf(meta.ChannelMessenger, false) }

// Limit is the Graph API's pace for a Page's sends (Meta states a budget per
// Page and per app, not a fixed rate; 429s are retried with backoff).
func (b *Bridge) Limit() channel.RateLimit {
	return channel.RateLimit{PerSecond: 20, Burst: 20, Scope: channel.ScopeAccount}
}

// Send is Deliver (channel.Sender).
func (b *Bridge) Send(ctx context.Context, m *chat.Message) error { return b.Deliver(ctx, m) }

// Deliver sends m to its contact on the conversation's channel, through the
// Graph API with the tenant's token. It returns an error only for what is worth
// retrying (429, 5xx, the network, our store): dispatch parks the delivery and
// retries it. A message that will not be sent (window closed, account not
// connected, the provider refused it) is marked failed, with the reason, and
// is no error. Every part is recorded as the provider takes it, so a retry
// sends only what was not taken.
func (b *Bridge) Deliver(ctx context.Context, m *chat.Message) error {
	if !b.Wants(m) {
		return nil
	}
	fail := func(code string) error {
		_, err := b.Store.SetDelivery(ctx, m, chat.DeliveryFailed, code)
		b.Log.InfoContext(ctx, "meta send refused", "tenantId", m.TenantID, "messageId", m.ID, "channel", m.Channel, "code", code)
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
	tag := ""
	if m.Template == nil || m.Channel != meta.ChannelWhatsApp {
		// HUMAN_AGENT may carry only what a person typed: never a bot's message.
		humanAgent := in.HumanAgent && m.Author.Kind == chat.AuthorAgent
		if tag, err = WindowOf(m.Channel, humanAgent).Check(u.LastInboundAt, b.now()); err != nil {
			return fail(CodeWindowClosed)
		}
	}
	p, err := b.tenants.Periods(ctx, m.TenantID)
	if err != nil {
		return err
	}
	b.touch(ctx, in, p)
	token, err := b.token(ctx, in)
	if err != nil {
		return err
	}
	out := meta.Outbound{Channel: m.Channel, Account: in.AccountID, To: u.UserID, Tag: tag}
	parts := meta.Parts(m.Channel, m.Text)
	if m.Template != nil {
		out.Template = &meta.Template{Name: m.Template.Name, Language: m.Template.Language, Params: m.Template.Params}
		parts = []string{""}
	}
	err = outbox.Send(ctx, b.Store, m, m.Channel, parts, p, 0, func(_ int, part string) (string, error) {
		out.Text = part
		return b.Graph.Send(ctx, token, out)
	})
	var se *outbox.SendError
	if errors.As(err, &se) {
		return b.sendFailed(ctx, m, in, se.Err, fail)
	}
	return err
}

// sendFailed sorts a refused send: worth a retry (returned), or final (the
// message is marked failed with the provider's code; a refused token also
// marks the integration broken, so GET /v1/integrations shows it).
func (b *Bridge) sendFailed(ctx context.Context, m *chat.Message, in *chat.ChannelIntegration, err error, fail func(string) error) error {
	switch {
	case errors.Is(err, channel.ErrOutsideWindow):
		return fail(CodeWindowClosed + ":" + meta.ErrorCode(err))
	case !meta.Permanent(err):
		return err
	}
	code := meta.ErrorCode(err)
	if code == "190" {
		if err := b.Store.MarkChannelIntegrationBroken(ctx, in.TenantID, in.Channel, "the access token was refused (Graph error 190); connect the account again"); err != nil {
			return err
		}
	}
	return fail(code)
}
