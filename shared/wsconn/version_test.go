package wsconn_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// The tenant version of the visitor's session travels from the token through
// the authorizer context to each frame's identity.
func TestAuthorize_PassesTheTenantVersionOn(t *testing.T) {
	tokens, _ := visitortoken.New(strings.Repeat("s", 32))
	h := wsconn.New(wsconn.Deps{Store: testaws.NewTables(t).Store(), Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for tok, want := range map[string]int64{tokens.IssueVersioned("t1", 7, "c1", time.Hour): 7, tokens.Issue("t1", "c1", time.Hour): 0} {
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		testaws.LoadEvent(t, "ws-authorize.json", &req)
		req.QueryStringParameters["token"] = tok
		res, err := h.Authorize(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		id, err := wsconn.IdentityOf(events.APIGatewayWebsocketProxyRequestContext{Authorizer: res.Context})
		if err != nil || id.TenantID != "t1" || id.TenantVersion != want {
			t.Fatalf("identity %+v %v, want tenant version %d", id, err, want)
		}
	}
}
