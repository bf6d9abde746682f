package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_IssuesATokenForItsSampleEvent(t *testing.T) {
	tt := testaws.NewTables(t)
	key := strings.Repeat("v", 32)
	tn := wstest.Tenant(t, tt.Store(), "Shop")
	getenv := testaws.FunctionEnv(t, tt, map[string]string{"VISITOR_TOKEN_SECRET": key, "SUBJECT_HASH_SECRET": "subject-key"},
		map[string]string{"WEBSOCKET_URL": "wss://ws.example/dev"})
	h := fn.Start(t, getenv).(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error))
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "widget-session.json", &req)
	req.Body = `{"widgetKey":"` + tn.WidgetKey + `"}`
	res, err := h(context.Background(), req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("session: %d %s %v", res.StatusCode, res.Body, err)
	}
	var out struct{ VisitorToken, VisitorID, WebsocketURL string }
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil || out.WebsocketURL != "wss://ws.example/dev" {
		t.Fatalf("body %s: %v", res.Body, err)
	}
	// The token is signed with the key from Secrets Manager.
	tokens, _ := visitortoken.New(key)
	if c, err := tokens.Verify(out.VisitorToken); err != nil || c.TenantID != tn.ID || c.VisitorID != out.VisitorID {
		t.Fatalf("token claims %+v %v", c, err)
	}
}

func TestRun_MissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	both := map[string]string{"VISITOR_TOKEN_SECRET": strings.Repeat("v", 32), "SUBJECT_HASH_SECRET": "k"}
	fn.Refuses(t, testaws.FunctionEnv(t, tt, both, map[string]string{"WEBSOCKET_URL": "wss://ws.example/dev"}),
		[2]string{"WEBSOCKET_URL", ""}, [2]string{"ARCHIVE_TABLE", ""},
		[2]string{"VISITOR_TOKEN_SECRET_ARN", ""}, [2]string{"SUBJECT_HASH_SECRET_ARN", ""})
}
