package widgetsession_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/widgetsession"
)

// testTokens is the tests' visitor-token signer.
var testTokens, _ = visitortoken.New(strings.Repeat("k", 32))

// newHandler is the session handler over st, as the function builds it, with
// tokens (testTokens when nil) and log (discarded when nil).
func newHandler(st *store.Store, tokens widgetsession.Tokens, log *slog.Logger) *widgetsession.Handler {
	if tokens == nil {
		tokens = testTokens
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return widgetsession.New(widgetsession.Deps{Store: st, Limiter: ratelimit.New(st), Tokens: tokens,
		WebSocketURL: "wss://ws.example/dev", Log: log})
}

// newTenant stores an active tenant whose widget allows origins (any when none).
func newTenant(t *testing.T, st *store.Store, origins ...string) *chat.Tenant {
	t.Helper()
	id := ids.New(ids.Tenant)
	tn := &chat.Tenant{ID: id, WidgetKey: "wk_" + id + "_" + ids.Secret(16), AllowedOrigins: origins, Status: "active", CreatedAt: time.Now()}
	if err := st.PutTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// sampleRequest is the sample session request (events/widget-session.json).
func sampleRequest(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "widget-session.json", &req)
	return req
}
