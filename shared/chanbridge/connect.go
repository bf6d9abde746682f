package chanbridge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// Connect checks a tenant's credentials of a channel with the provider,
// stores the integration (the account's id and name as plain settings, the
// credentials and Telegram's webhook secret encrypted with KMS under the
// tenant's context, never returned or logged), then registers the webhook.
// Bad input is a validation error naming the fields; credentials the provider
// refuses are invalid too; an account another tenant connected is a conflict,
// found before anything changes. Connecting again replaces the integration (a
// new webhook id and secret).
func (b *Bridge) Connect(ctx context.Context, t *chat.Tenant, ch string, c chat.ChannelConnect) (*chat.ChannelIntegration, error) {
	p, ok := b.Providers[ch]
	if !ok {
		return nil, chat.ErrNotFound
	}
	creds, issues := credentialsOf(ch, c)
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the integration is invalid", Fields: issues}
	}
	if c.WebhookBase == "" {
		return nil, errors.New("connect: the API's public URL is unknown")
	}
	refused := func(err error) error {
		if errors.Is(err, ErrRefused) {
			return &chat.Error{Code: chat.EInvalid, Message: "the provider refused the credentials", Fields: map[string]string{credentialField(ch): "was refused by " + ch}}
		}
		return err
	}
	// A provider of access tokens gives one first (X rotates the refresh
	// token: the new one is what is stored).
	var token *keptToken
	if r, ok := p.(Refresher); ok {
		t, err := r.Refresh(ctx, creds, false)
		if err != nil {
			return nil, refused(err)
		}
		if t.Refresh != "" {
			creds.RefreshToken = t.Refresh
		}
		creds.Access = t.Access
		token = &keptToken{Access: t.Access, Refresh: t.Refresh, Expires: t.Expires}
	}
	// The account first, changing nothing: another tenant's bot is refused
	// before its webhook is pointed here.
	acct, err := p.Account(ctx, creds)
	if err != nil {
		return nil, refused(err)
	}
	if owner, err := b.Store.ChannelTenantOfAccount(ctx, ch, acct.ID); err == nil && owner != t.ID {
		return nil, store.ErrAccountTaken
	} else if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return nil, err
	}
	prev, err := b.Store.ChannelIntegration(ctx, t.ID, ch)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return nil, err
	}
	// Stored before the webhook is registered: a provider that calls the
	// new URL while registering it (Viber) finds it and its secret.
	creds.WebhookSecret = newSecret(48)
	raw, _ := json.Marshal(creds)
	blob, err := b.Cipher.Encrypt(ctx, t.ID, string(raw))
	if err != nil {
		return nil, err
	}
	id := ids.Secret(32)
	in := &chat.ChannelIntegration{TenantID: t.ID, Channel: ch, AccountID: acct.ID, AccountName: acct.Name, WebhookID: id,
		WebhookURL: c.WebhookBase + WebhookPrefix + ch + "/" + id, TokenEncrypted: blob, InstalledAt: b.now().UTC()}
	if err := b.Store.PutChannelIntegration(ctx, in, t.Periods()); err != nil {
		return nil, err
	}
	b.creds.Forget(t.ID + "/" + ch)
	b.tokens.forget(t.ID + "/" + ch)
	if token != nil {
		err = b.keepFirst(ctx, in, *token)
	}
	if err == nil {
		if prev != nil {
			creds.Replaces = prev.WebhookURL
		}
		_, err = p.Connect(ctx, creds, in.WebhookURL)
	}
	if err != nil {
		// Undo: the earlier integration (its webhook still registered at
		// the provider unless this call moved it), or none.
		undo := b.Store.DeleteChannelIntegration(ctx, t.ID, ch)
		if prev != nil {
			undo = b.Store.PutChannelIntegration(ctx, prev, t.Periods())
		}
		b.creds.Forget(t.ID + "/" + ch)
		return nil, errors.Join(refused(err), undo)
	}
	return in, nil
}

// credentialsOf reads the fields of a channel's credentials, and what is
// wrong with them: a field missing or malformed, or one the channel does
// not take.
func credentialsOf(ch string, c chat.ChannelConnect) (Credentials, map[string]string) {
	issues := map[string]string{}
	need := func(field, v string, min, max int) string {
		v = strings.TrimSpace(v)
		if n := utf8.RuneCountInString(v); n < min || n > max || strings.ContainsAny(v, " \t\r\n") {
			issues[field] = "is required: the channel's value, without spaces"
		}
		return v
	}
	if c.AccountID != "" || c.BusinessID != "" || c.HumanAgent {
		issues["accountId"] = "applies to messenger, instagram and whatsapp only"
	}
	var creds Credentials
	takes := map[string]bool{}
	switch ch {
	case "telegram":
		creds.Token = need("botToken", c.BotToken, 20, 200)
		takes["botToken"] = true
	case "line":
		creds.Token = need("accessToken", c.AccessToken, 20, 1024)
		creds.ChannelSecret = need("channelSecret", c.ChannelSecret, 16, 200)
		takes["accessToken"], takes["channelSecret"] = true, true
	case "viber":
		creds.Token = need("authToken", c.AuthToken, 20, 200)
		name := strings.TrimSpace(c.SenderName)
		if n := utf8.RuneCountInString(name); n < 1 || n > 28 {
			issues["senderName"] = "must be 1 to 28 characters"
		}
		creds.SenderName = name
		takes["authToken"], takes["senderName"] = true, true
	case "wechat":
		creds.AppID = need("appId", c.AppID, 6, 64)
		creds.AppSecret = need("appSecret", c.AppSecret, 16, 128)
		creds.Token = need("token", c.Token, 3, 32)
		if k := strings.TrimSpace(c.EncodingAESKey); k != "" {
			if raw, err := base64.StdEncoding.DecodeString(k + "="); len(k) != 43 || err != nil || len(raw) != 32 {
				issues["encodingAesKey"] = "must be the 43-character EncodingAESKey of the account's console (or empty for plain mode)"
			}
			creds.AESKey = k
		}
		for _, f := range []string{"appId", "appSecret", "token", "encodingAesKey"} {
			takes[f] = true
		}
	case "x":
		creds.ConsumerKey = need("consumerKey", c.ConsumerKey, 10, 200)
		creds.ConsumerSecret = need("consumerSecret", c.ConsumerSecret, 20, 200)
		creds.ClientID = need("clientId", c.ClientID, 10, 200)
		creds.ClientSecret = need("clientSecret", c.ClientSecret, 20, 200)
		creds.RefreshToken = need("refreshToken", c.RefreshToken, 20, 2048)
		for _, f := range []string{"consumerKey", "consumerSecret", "clientId", "clientSecret", "refreshToken"} {
			takes[f] = true
		}
	}
	for f, v := range map[string]string{"botToken": c.BotToken, "accessToken": c.AccessToken, "channelSecret": c.ChannelSecret,
		"authToken": c.AuthToken, "senderName": c.SenderName, "appId": c.AppID, "appSecret": c.AppSecret, "token": c.Token,
		"encodingAesKey": c.EncodingAESKey, "consumerKey": c.ConsumerKey, "consumerSecret": c.ConsumerSecret,
		"clientId": c.ClientID, "clientSecret": c.ClientSecret, "refreshToken": c.RefreshToken, "subdomain": c.Subdomain,
		"email": c.Email, "apiToken": c.APIToken, "webhookSecret": c.WebhookSecret} {
		if v != "" && !takes[f] {
			issues[f] = "does not apply to this channel"
		}
	}
	return creds, issues
}

// credentialField is the field that names a channel's main credential.
func credentialField(ch string) string {
	return map[string]string{"telegram": "botToken", "line": "accessToken", "viber": "authToken", "wechat": "appSecret", "x": "refreshToken"}[ch]
}

// Disconnect removes a tenant's integration of a channel: the provider's
// webhook registration (a failure there is logged, not fatal: the owner may
// have revoked the token), the routes and the encrypted credentials.
// Nothing connected is no error; conversations, contacts and files stay.
func (b *Bridge) Disconnect(ctx context.Context, tenantID, ch string) error {
	p, ok := b.Providers[ch]
	if !ok {
		return chat.ErrNotFound
	}
	in, err := b.Store.ChannelIntegration(ctx, tenantID, ch)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if creds, err := b.credentials(ctx, in); err == nil {
		if err := b.withAccess(ctx, in, p, &creds, func() error { return p.Disconnect(ctx, creds) }); err != nil {
			b.Log.WarnContext(ctx, "webhook not removed at the provider", "tenantId", tenantID, "channel", ch, "error", err.Error())
		}
	}
	b.creds.Forget(tenantID + "/" + ch)
	b.tokens.forget(tenantID + "/" + ch)
	return b.Store.DeleteChannelIntegration(ctx, tenantID, ch)
}

// Integrations lists a tenant's integrations of the bridge's channels.
func (b *Bridge) Integrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error) {
	all, err := b.Store.ChannelIntegrations(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []*chat.ChannelIntegration
	for _, in := range all {
		if _, ok := b.Providers[in.Channel]; ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// ReplyWindow says whether a conversation of the bridge's channels can be
// answered: these channels have no reply window, but a contact who stopped
// the channel's messages cannot be sent any (Open false, Blocked says why).
func (b *Bridge) ReplyWindow(ctx context.Context, cv *chat.Conversation) (*chat.ReplyWindow, error) {
	if _, ok := b.Providers[cv.Channel]; !ok {
		return nil, nil
	}
	u, err := b.Store.ContactChannelUser(ctx, cv.TenantID, cv.ContactID, cv.Channel)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Unsubscribed {
		return &chat.ReplyWindow{Open: false, Blocked: "unsubscribed"}, nil
	}
	q, ok := b.Providers[cv.Channel].(Quota)
	if !ok {
		return nil, nil
	}
	max, life := q.Quota()
	left := max - u.QuotaUsed()
	closes := u.LastInboundAt.Add(life)
	w := &chat.ReplyWindow{ClosesAt: closes, Open: b.now().Before(closes) && left > 0, SendsLeft: &left}
	if !w.Open {
		w.Blocked = CodeWindowClosed
		if left <= 0 {
			w.Blocked = CodeQuotaExceeded
		}
	}
	return w, nil
}

// CanReply refuses a reply to a contact who stopped the channel's messages
// (409 unsubscribed).
func (b *Bridge) CanReply(ctx context.Context, cv *chat.Conversation, _ bool) error {
	w, err := b.ReplyWindow(ctx, cv)
	if err != nil || w == nil || w.Open {
		return err
	}
	switch w.Blocked {
	case CodeQuotaExceeded:
		max, life := b.Providers[cv.Channel].(Quota).Quota()
		return chat.Errorf(chat.EConflict, "%s allows %d messages within %d hours of the contact's last message, and they were sent: wait for the contact to write again", cv.Channel, max, int(life.Hours()))
	case CodeWindowClosed:
		_, life := b.Providers[cv.Channel].(Quota).Quota()
		return chat.Errorf(chat.EConflict, "%s allows answers only within %d hours of the contact's last message: wait for the contact to write again", cv.Channel, int(life.Hours()))
	}
	return chat.Errorf(chat.EConflict, "the contact unsubscribed from this %s account: nothing can be sent until they subscribe again", cv.Channel)
}
