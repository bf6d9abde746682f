package metabridge

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
)

// Channels are the channels the bridge connects (meta.Channels).
func (b *Bridge) Channels() []string { return meta.Channels }

var accountID = regexp.MustCompile(`^[0-9]{1,32}$`)

// Connect stores a tenant's connection of a channel account: the account's
// ids as plain settings, the access token encrypted with KMS under the
// tenant's context. It stores no more than the channel needs: the account id
// (Page id, Instagram account id, WhatsApp phone_number_id), the WhatsApp
// business account id, and the token. Bad input is a validation error that
// names the field; an account of another tenant is a conflict.
func (b *Bridge) Connect(ctx context.Context, t *chat.Tenant, ch string, c chat.ChannelConnect) (*chat.ChannelIntegration, error) {
	if !isMeta(ch) {
		return nil, chat.ErrNotFound
	}
	issues := map[string]string{}
	if !accountID.MatchString(c.AccountID) {
		issues["accountId"] = "must be the account's numeric id (Page id, Instagram account id or WhatsApp phone_number_id)"
	}
	if c.BusinessID != "" && (ch != meta.ChannelWhatsApp || !accountID.MatchString(c.BusinessID)) {
		issues["businessId"] = "is the numeric WhatsApp business account id, and only for whatsapp"
	}
	tok := strings.TrimSpace(c.AccessToken)
	if len(tok) < 20 || len(tok) > 1024 || strings.ContainsAny(tok, " \t\r\n") {
		issues["accessToken"] = "must be the account's access token (20 to 1024 characters, no spaces)"
	}
	if c.HumanAgent && ch == meta.ChannelWhatsApp {
		issues["humanAgent"] = "applies to messenger and instagram only"
	}
	for field, v := range map[string]string{"botToken": c.BotToken, "channelSecret": c.ChannelSecret, "authToken": c.AuthToken, "senderName": c.SenderName} {
		if v != "" {
			issues[field] = "does not apply to " + ch
		}
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the integration is invalid", Fields: issues}
	}
	if b.Cipher == nil {
		return nil, errors.New("connect: no token cipher")
	}
	blob, err := b.Cipher.Encrypt(ctx, t.ID, tok)
	if err != nil {
		return nil, err
	}
	in := &chat.ChannelIntegration{TenantID: t.ID, Channel: ch, AccountID: c.AccountID, BusinessID: c.BusinessID,
		TokenEncrypted: blob, HumanAgent: c.HumanAgent, InstalledAt: b.now().UTC()}
	if err := b.Store.PutChannelIntegration(ctx, in, t.Periods()); err != nil {
		return nil, err
	}
	b.forget(t.ID, ch)
	return in, nil
}

// Disconnect removes a tenant's connection of a channel: its route (no more
// webhooks reach the tenant) and its encrypted token. Nothing connected is no
// error; conversations, contacts and attachments stay.
func (b *Bridge) Disconnect(ctx context.Context, tenantID, ch string) error {
	if !isMeta(ch) {
		return chat.ErrNotFound
	}
	b.forget(tenantID, ch)
	return b.Store.DeleteChannelIntegration(ctx, tenantID, ch)
}

func (b *Bridge) forget(tenantID, ch string) { b.tokens.Forget(tenantID + "/" + ch) }

// Integrations lists a tenant's connected Meta accounts (without tokens):
// the tenant's other channel integrations are other bridges'.
func (b *Bridge) Integrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error) {
	all, err := b.Store.ChannelIntegrations(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []*chat.ChannelIntegration
	for _, in := range all {
		if isMeta(in.Channel) {
			out = append(out, in)
		}
	}
	return out, nil
}

// ReplyWindow says until when an agent may answer a conversation of a Meta
// channel (nil for other channels, and for a conversation whose contact has
// no channel user or whose account is not connected: nothing can be sent).
func (b *Bridge) ReplyWindow(ctx context.Context, cv *chat.Conversation) (*chat.ReplyWindow, error) {
	if !isMeta(cv.Channel) {
		return nil, nil
	}
	u, err := b.Store.ContactChannelUser(ctx, cv.TenantID, cv.ContactID, cv.Channel)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	humanAgent := false
	in, err := b.Store.ChannelIntegration(ctx, cv.TenantID, cv.Channel)
	switch {
	case err == nil:
		humanAgent = in.HumanAgent
	case !errors.Is(err, chat.ErrNotFound):
		return nil, err
	}
	w := WindowOf(cv.Channel, humanAgent)
	now := b.now()
	out := &chat.ReplyWindow{ClosesAt: u.LastInboundAt.Add(w.Reply).UTC(), TemplateOnly: cv.Channel == meta.ChannelWhatsApp}
	if w.Tag != "" {
		tagEnd := u.LastInboundAt.Add(w.TagReply).UTC()
		out.Tag, out.TagClosesAt = w.Tag, &tagEnd
	}
	_, err = w.Check(u.LastInboundAt, now)
	out.Open = err == nil
	return out, nil
}

// CanReply refuses an agent's free-form reply to a conversation whose window
// has closed (EWindowClosed, 409 from the admin API); a template goes to
// WhatsApp at any time. Conversations of other channels are always open.
func (b *Bridge) CanReply(ctx context.Context, cv *chat.Conversation, template bool) error {
	w, err := b.ReplyWindow(ctx, cv)
	if err != nil || w == nil || w.Open || (template && w.TemplateOnly) {
		return err
	}
	if w.TemplateOnly {
		return chat.Errorf(chat.EWindowClosed, "the contact's 24-hour window closed at %s: only an approved template can be sent (POST .../template)", w.ClosesAt.Format("2006-01-02T15:04:05Z"))
	}
	return chat.Errorf(chat.EWindowClosed, "the contact's reply window closed at %s", w.ClosesAt.Format("2006-01-02T15:04:05Z"))
}
