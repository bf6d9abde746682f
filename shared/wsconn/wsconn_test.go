package wsconn_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

func TestAuthorize_BadTokensRefusedWith401(t *testing.T) {
	tokens, _ := visitortoken.New(strings.Repeat("s", 32))
	other, _ := visitortoken.New(strings.Repeat("o", 32))
	past := tokens.WithClock(func() time.Time { return time.Now().Add(-48 * time.Hour) })
	good := tokens.Issue("t1", "c1", time.Hour)
	h := wsconn.New(wsconn.Deps{Store: testaws.NewTables(t).Store(), Tokens: tokens, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cases := map[string]string{
		"missing":        "",
		"garbage":        "abc",
		"other secret":   other.Issue("t1", "c1", time.Hour),
		"expired":        past.Issue("t1", "c1", 24*time.Hour),
		"tampered claim": strings.Replace(good, good[:4], "eyJ0", 1) + "x",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayCustomAuthorizerRequestTypeRequest
			testaws.LoadEvent(t, "ws-authorize.json", &req)
			req.QueryStringParameters["token"] = tok
			_, err := h.Authorize(context.Background(), req)
			if !errors.Is(err, wsconn.ErrUnauthorized) || err.Error() != "Unauthorized" {
				t.Fatalf("err = %v, want Unauthorized", err)
			}
		})
	}
	var req events.APIGatewayCustomAuthorizerRequestTypeRequest
	testaws.LoadEvent(t, "ws-authorize.json", &req)
	req.QueryStringParameters["token"] = good
	res, err := h.Authorize(context.Background(), req)
	if err != nil || res.Context["tenantId"] != "t1" || res.Context["visitorId"] != "c1" || res.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("good token: %+v %v", res, err)
	}
}

func TestConnectDisconnect_RecordsAndRemoves(t *testing.T) {
	st := testaws.NewTables(t).Store()
	h := wsconn.New(wsconn.Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	auth := map[string]any{"principalId": vid, "tenantId": tid, "visitorId": vid}
	ctx := context.Background()
	for _, ev := range []string{"ws-connect.json", "ws-disconnect.json"} {
		var req events.APIGatewayWebsocketProxyRequest
		testaws.LoadEvent(t, ev, &req)
		req.RequestContext.Authorizer = auth
		out, err := h.Route(ctx, req)
		if err != nil || out.StatusCode != 200 {
			t.Fatalf("%s: %d %v", ev, out.StatusCode, err)
		}
		conns, err := st.Connections(ctx, tid, vid)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if ev == "ws-disconnect.json" {
			want = 0
		}
		if len(conns) != want {
			t.Fatalf("after %s: %d connections, want %d", ev, len(conns), want)
		}
	}
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(t, "ws-connect.json", &req)
	req.RequestContext.Authorizer = nil
	if out, _ := h.Route(ctx, req); out.StatusCode != 401 {
		t.Fatalf("$connect without authorizer context: %d, want 401", out.StatusCode)
	}
}

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
