package widgetsession

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/apierror"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
)

// limit counts a session request against its client network at the tenant the
// widget key names, before anything is read: an IPv4 address counts as its /24,
// an IPv6 address as its /48 (one site's allocation: a /56 or /64 each would
// let one site spend 256 or 65,536 budgets). It answers whether the request is
// over the limit, and then the 429 to send. A key that names no well-formed
// tenant is left to the lookup (401); a store failure lets the request through
// (the session is one read and the visitor is limited again on every frame).
func (h *Handler) limit(ctx context.Context, origin, widgetKey, sourceIP string) (events.APIGatewayV2HTTPResponse, bool) {
	parts := strings.Split(widgetKey, "_")
	if len(parts) != 3 || !ids.Valid(ids.Tenant, parts[1]) {
		return events.APIGatewayV2HTTPResponse{}, false
	}
	network := logging.TruncateIP(sourceIP)
	if network == "" {
		network = "unknown"
	}
	err := h.Limiter.Take(ctx, parts[1], store.NetworkRateSubject(network), ratelimit.Session, ratelimit.Defaults[ratelimit.Session])
	secs, limited := ratelimit.RetryAfterSeconds(err)
	if err != nil && !limited {
		h.Log.ErrorContext(ctx, "session rate limit", "tenantId", parts[1], "error", err)
	}
	if !limited {
		return events.APIGatewayV2HTTPResponse{}, false
	}
	res := problem(origin, err, apierror.Message(err))
	res.Headers["retry-after"] = strconv.Itoa(secs)
	res.Headers["access-control-expose-headers"] = "retry-after"
	return res, true
}
