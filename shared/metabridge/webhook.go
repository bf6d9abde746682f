package metabridge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ingest"
	"github.com/livesupportbot/backend/shared/meta"
	"github.com/livesupportbot/backend/shared/webhook"
)

// WebhookPath is the one webhook URL of the three Meta products.
const WebhookPath = "/webhooks/meta"

// Handle serves GET and POST /webhooks/meta (under any stage prefix).
//
// GET is the subscription handshake: the challenge back with 200 when
// hub.verify_token is the deployment's verify token, 403 otherwise.
//
// POST checks X-Hub-Signature-256 over the raw body with the app secret
// before anything else (401, nothing written, when it fails; a signed body
// that is not a Meta webhook is 400), then stores every message of every
// entry of the batch and applies every WhatsApp status. It answers 200 once
// all of them are stored, and 500 if any failed: Meta sends the whole batch
// again, and what was stored dedupes.
func (b *Bridge) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	if !strings.HasSuffix(path, WebhookPath) {
		return webhook.Problem(chat.Errorf(chat.ENotFound, "no such route"), "Not Found"), nil
	}
	switch req.RequestContext.HTTP.Method {
	case http.MethodGet:
		return b.handshake(ctx, req), nil
	case http.MethodPost:
		return b.receive(ctx, req), nil
	}
	res := webhook.ProblemStatus(http.StatusMethodNotAllowed, "Method Not Allowed", "use GET or POST")
	res.Headers["Allow"] = "GET, POST"
	return res, nil
}

func (b *Bridge) handshake(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	token, err := b.secret(VerifyTokenName)
	if err != nil {
		return b.unavailable(ctx, err)
	}
	challenge, ok := meta.Handshake(req.QueryStringParameters, token)
	if !ok {
		b.Log.WarnContext(ctx, "meta handshake refused: wrong verify token or mode")
		return webhook.Forbidden("the verify token does not match")
	}
	return webhook.Text(http.StatusOK, challenge)
}

// unavailable answers a deployment without the app's secrets (or whose
// secrets cannot be read now) with 503: Meta retries.
func (b *Bridge) unavailable(ctx context.Context, err error) events.APIGatewayV2HTTPResponse {
	if errors.Is(err, ErrNotConfigured) {
		b.Log.WarnContext(ctx, "meta is not configured; answering 503", "setting", "MetaAppSecret, MetaVerifyToken")
		return webhook.ProblemStatus(http.StatusServiceUnavailable, "Service Unavailable", "Meta channels are not configured for this deployment")
	}
	b.Log.ErrorContext(ctx, "read meta app secret", "error", err.Error())
	return webhook.ProblemStatus(http.StatusServiceUnavailable, "Service Unavailable", "try again")
}

var errBadSignature = chat.Errorf(chat.EUnauthorized, "missing or invalid X-Hub-Signature-256")

func (b *Bridge) receive(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	body, err := webhook.RawBody(req)
	if err != nil {
		return webhook.Problem(errBadSignature, "Unauthorized")
	}
	secret, err := b.secret(AppSecretName)
	if err != nil {
		return b.unavailable(ctx, err)
	}
	evs, err := channel.Receive(meta.Inbound{}, webhook.Request(req, body), secret)
	switch {
	case errors.Is(err, channel.ErrUnverified):
		b.Log.WarnContext(ctx, "meta signature rejected", "reason", err.Error())
		return webhook.Problem(errBadSignature, "Unauthorized")
	case err != nil:
		b.Log.WarnContext(ctx, "meta webhook malformed", "reason", err.Error())
		return webhook.Problem(chat.Errorf(chat.EInvalid, "not a Meta webhook"), "Bad Request")
	}
	failed := 0
	for _, ev := range evs {
		if err := b.event(ctx, ev); err != nil {
			failed++
			b.Log.ErrorContext(ctx, "meta event not stored", "channel", ev.From.Channel, "account", ev.From.Account,
				"dedupeKey", ev.DedupeKey, "error", err.Error())
		}
	}
	if failed > 0 {
		return webhook.ProblemStatus(http.StatusInternalServerError, "Internal Server Error",
			strconv.Itoa(failed)+" of "+strconv.Itoa(len(evs))+" events were not stored; send the batch again")
	}
	return webhook.Text(http.StatusOK, "EVENT_RECEIVED")
}

// event stores one event of a verified batch. An account no tenant connected,
// a closed account and an erased sender are skipped (logged, no error: Meta
// would only send them again).
func (b *Bridge) event(ctx context.Context, ev channel.Event) error {
	if ev.Kind != channel.KindMessage && ev.Kind != channel.KindOther {
		return nil
	}
	tenantID, err := b.Store.ChannelTenantOfAccount(ctx, ev.From.Channel, ev.From.Account)
	if errors.Is(err, chat.ErrNotFound) {
		b.Log.InfoContext(ctx, "meta event of an account no tenant connected", "channel", ev.From.Channel, "account", ev.From.Account)
		return nil
	}
	if err != nil {
		return err
	}
	t, err := b.tenants.Tenant(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && t.Status == "closed") {
		return nil
	}
	if err != nil {
		return err
	}
	if st, ok := ev.Native.(*meta.Status); ok {
		return b.status(ctx, t, ev, st)
	}
	if ev.Kind != channel.KindMessage {
		return nil
	}
	in := &ingest.Ingester{Store: b.Store}
	if b.Files != nil {
		in.Files = files{b: b, tenantID: t.ID, channel: ev.From.Channel}
	}
	_, _, err = in.Message(ctx, t, ev)
	if ingest.IsErased(err) {
		b.Log.InfoContext(ctx, "meta message of an erased identity dropped", "tenantId", t.ID, "channel", ev.From.Channel, "dedupeKey", ev.DedupeKey)
		return nil
	}
	return err
}

// status applies a WhatsApp delivery status to the message we sent, found by
// the provider's message id under the recipient's contact. A status of a
// message that is not ours (sent from another tool) changes nothing.
func (b *Bridge) status(ctx context.Context, t *chat.Tenant, ev channel.Event, st *meta.Status) error {
	if chat.DeliveryRank(st.Status) == 0 {
		return nil // a status we do not show
	}
	u, err := b.Store.ChannelUser(ctx, t.ID, ev.From.Channel, ev.From.Account, ev.From.UserID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	code := ""
	if st.Status == chat.DeliveryFailed && len(st.Errors) > 0 {
		code = strconv.Itoa(st.Errors[0].Code)
	}
	_, err = b.Store.ProviderStatus(ctx, t.ID, u.ContactID, ev.From.Channel, st.MessageID, st.Status, code)
	return err
}
