package chanbridge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ingest"
	"github.com/livesupportbot/backend/shared/webhook"
)

var errBadSignature = chat.Errorf(chat.EUnauthorized, "missing or invalid signature")

// Handle serves POST /webhooks/<channel>/<webhook id> (under any stage
// prefix). The id names the tenant's integration: an unknown id, or one of
// another channel, is 404 and writes nothing. The request is verified with
// the tenant's secret before its body is parsed (401, nothing written, when
// it fails); a verified body that is not the channel's is 400. Every event
// is then stored; the answer is 200 once all are, 500 if one was not (the
// provider sends it again, and what was stored is not stored twice).
func (b *Bridge) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ch, webhookID, ok := route(req)
	p, known := b.Providers[ch]
	if !ok || !known {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	method := req.RequestContext.HTTP.Method
	hs, handshakes := p.(Handshaker)
	if method != http.MethodPost && (method != http.MethodGet || !handshakes) {
		allow := "POST"
		if handshakes {
			allow = "GET, POST"
		}
		res := webhook.ProblemStatus(http.StatusMethodNotAllowed, "Method Not Allowed", "use "+allow)
		res.Headers["Allow"] = allow
		return res, nil
	}
	tenantID, routed, err := b.Store.ChannelOfWebhook(ctx, webhookID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && routed != ch) {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	if err != nil {
		return b.internal(ctx, "route", err), nil
	}
	in, err := b.Store.ChannelIntegration(ctx, tenantID, ch)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && in.WebhookID != webhookID) {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such webhook"), "Not Found"), nil
	}
	if err != nil {
		return b.internal(ctx, "integration", err), nil
	}
	creds, err := b.credentials(ctx, in)
	if err != nil {
		return b.internal(ctx, "credentials", err), nil
	}
	body, err := webhook.RawBody(req)
	if err != nil {
		return webhook.Problem(errBadSignature, "Unauthorized"), nil
	}
	if method == http.MethodGet {
		r, err := hs.Handshake(webhook.Request(req, body), creds)
		if err != nil {
			b.Log.WarnContext(ctx, "webhook handshake rejected", "channel", ch, "tenantId", tenantID, "reason", err.Error())
			return webhook.Problem(errBadSignature, "Unauthorized"), nil
		}
		return reply(r), nil
	}
	inbound := p.Inbound()
	if k, ok := p.(KeyedInbound); ok {
		inbound = k.InboundFor(creds)
	}
	evs, err := channel.Receive(inbound, webhook.Request(req, body), p.VerifySecret(creds))
	switch {
	case errors.Is(err, channel.ErrUnverified):
		b.Log.WarnContext(ctx, "webhook signature rejected", "channel", ch, "tenantId", tenantID, "reason", err.Error())
		return webhook.Problem(errBadSignature, "Unauthorized"), nil
	case err != nil:
		b.Log.WarnContext(ctx, "webhook malformed", "channel", ch, "tenantId", tenantID, "reason", err.Error())
		return webhook.Problem(chat.Errorf(chat.EInvalid, "not a %s webhook", ch), "Bad Request"), nil
	}
	t, err := b.tenants.Tenant(ctx, tenantID)
	if err != nil {
		return b.internal(ctx, "tenant", err), nil
	}
	failed := 0
	for _, ev := range evs {
		if ev.From.Account == "" {
			ev.From.Account = in.AccountID // the body does not name the bot: its integration does
		} else if ev.From.Account != in.AccountID {
			continue // another account of the same app (X posts every subscribed account's events to the app's webhook)
		}
		if ev.DedupeKey != "" {
			ev.DedupeKey = in.AccountID + ":" + ev.DedupeKey
		}
		if err := b.event(ctx, t, in, creds, p, ev); err != nil {
			failed++
			b.Log.ErrorContext(ctx, "channel event not stored", "channel", ch, "tenantId", tenantID, "dedupeKey", ev.DedupeKey, "error", err.Error())
		}
	}
	if failed > 0 {
		return webhook.ProblemStatus(http.StatusInternalServerError, "Internal Server Error",
			strconv.Itoa(failed)+" of "+strconv.Itoa(len(evs))+" events were not stored; send them again"), nil
	}
	if a, ok := p.(Acker); ok {
		return reply(a.Ack()), nil
	}
	return webhook.JSON(http.StatusOK, map[string]bool{"ok": true}), nil
}

// reply is a provider's answer as the webhook's response.
func reply(r Reply) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Body: r.Body,
		Headers: map[string]string{"Content-Type": r.ContentType, "Cache-Control": "no-store"}}
}

// route reads the channel and webhook id of the request's path.
func route(req events.APIGatewayV2HTTPRequest) (ch, webhookID string, ok bool) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	i := strings.LastIndex(path, WebhookPrefix)
	if i < 0 {
		return "", "", false
	}
	ch, webhookID, ok = strings.Cut(path[i+len(WebhookPrefix):], "/")
	return ch, webhookID, ok && webhookID != "" && !strings.Contains(webhookID, "/")
}

// internal logs err and answers 500 without detail (the provider retries).
func (b *Bridge) internal(ctx context.Context, op string, err error) events.APIGatewayV2HTTPResponse {
	b.Log.ErrorContext(ctx, "webhook failed", "op", op, "error", err.Error())
	return webhook.ProblemStatus(http.StatusInternalServerError, "Internal Server Error", "try again")
}

// event stores one verified event. A closed account and an erased sender are
// skipped (logged, no error: the provider would only send them again).
func (b *Bridge) event(ctx context.Context, t *chat.Tenant, in *chat.ChannelIntegration, creds Credentials, p Provider, ev channel.Event) error {
	if t.Status == "closed" {
		return nil
	}
	switch ev.Kind {
	case channel.KindMessage:
		ing := &ingest.Ingester{Store: b.Store}
		if b.Files != nil {
			ing.Files = files{b: b, p: p, in: in, creds: creds}
		}
		_, _, err := ing.Message(ctx, t, ev)
		if ingest.IsErased(err) {
			b.Log.InfoContext(ctx, "message of an erased identity dropped", "tenantId", t.ID, "channel", in.Channel, "dedupeKey", ev.DedupeKey)
			return nil
		}
		return err
	case channel.KindSubscribed, channel.KindUnsubscribed:
		return b.Store.SetChannelUserSubscribed(ctx, t.ID, ev.From.Channel, ev.From.Account, ev.From.UserID, ev.Kind == channel.KindSubscribed)
	case channel.KindStatus:
		if ev.Status == nil || chat.DeliveryRank(ev.Status.Status) == 0 {
			return nil
		}
		u, err := b.Store.ChannelUser(ctx, t.ID, ev.From.Channel, ev.From.Account, ev.From.UserID)
		if errors.Is(err, chat.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = b.Store.ProviderStatus(ctx, t.ID, u.ContactID, ev.From.Channel, ev.Status.ProviderID, ev.Status.Status, ev.Status.Code)
		return err
	}
	return nil
}

// files copies an inbound message's attachments through the provider
// (ingest.Files), with the tenant's credentials.
type files struct {
	b     *Bridge
	p     Provider
	in    *chat.ChannelIntegration
	creds Credentials
}

func (f files) Copy(ctx context.Context, tenantID, contactID, dedupeKey string, n int, a channel.Attachment) (chat.Attachment, error) {
	if a.URL != "" {
		if err := attachment.Fetchable(a.URL); err != nil {
			return chat.Attachment{}, err
		}
	}
	var data []byte
	var ct string
	err := f.b.withAccess(ctx, f.in, f.p, &f.creds, func() (err error) {
		data, ct, err = f.p.Fetch(ctx, f.creds, a, attachment.MaxBytes)
		return err
	})
	if errors.Is(err, ErrTooLarge) {
		err = attachment.ErrTooLarge
	}
	if err != nil {
		return chat.Attachment{}, err
	}
	if a.ContentType != "" {
		ct = a.ContentType
	}
	return f.b.Files.Put(ctx, tenantID, contactID, dedupeKey, n, a.Name, ct, data)
}
