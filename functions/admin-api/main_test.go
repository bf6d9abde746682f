package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

const token = "main-test-platform-token-0123456789abcdef"

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// secretsOf are the function's secrets as the template gives them.
func secretsOf(platformToken string) map[string]string {
	return map[string]string{"PLATFORM_TOKEN": platformToken, "SUBJECT_HASH_SECRET": "subject-key",
		"SLACK_APP_SECRETS":    `{"SLACK_CLIENT_SECRET":"client-secret","SLACK_SIGNING_SECRET":"signing-secret"}`,
		"VISITOR_TOKEN_SECRET": visitorKey}
}

// visitorKey signs visitor and agent tokens.
var visitorKey = strings.Repeat("v", 32)

// settings are the function's plain variables.
var settings = map[string]string{"PRIVACY_EXPORT_FUNCTION": "export", "PRIVACY_ERASE_FUNCTION": "erase",
	"SLACK_CLIENT_ID": "1111.2222", "MAX_MESSAGE_CHARS": "100", "WEBSOCKET_URL": "wss://ws.example/dev"}

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

// call sends ev with a bearer key and returns the answer.
func call(t *testing.T, h handler, ev events.APIGatewayV2HTTPRequest, key string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev.Headers = map[string]string{"authorization": "Bearer " + key, "content-type": "application/json"}
	res, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The function serves its sample event: the operator token, read from the
// secrets, creates a tenant, and the new owner key then starts a Slack install
// through the bridge built with the app's client secret.
func TestRun_ServesItsSampleEvent(t *testing.T) {
	tt := testaws.NewTables(t)
	h := fn.Start(t, testaws.FunctionEnv(t, tt, secretsOf(token), settings)).(handler)
	var ev events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "admin-api-create-tenant.json", &ev)
	res := call(t, h, ev, token)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", res.StatusCode, res.Body)
	}
	var out struct{ APIKey struct{ Key string } }
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil || out.APIKey.Key == "" {
		t.Fatalf("no owner key: %v %s", err, res.Body)
	}
	ev.RequestContext.HTTP.Method, ev.RawPath, ev.RawQueryString, ev.Body = http.MethodGet, "/dev/v1/integrations/slack/install", "redirect=false", ""
	res = call(t, h, ev, out.APIKey.Key)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "client_id=1111.2222") || res.Headers["Set-Cookie"] == "" {
		t.Fatalf("slack install: %d %s", res.StatusCode, res.Body)
	}
	// An agent token, signed with the visitor token key from the secrets, for
	// the WebSocket URL of the settings.
	ev.RequestContext.HTTP.Method, ev.RawPath, ev.RawQueryString, ev.Body = http.MethodPost, "/dev/v1/agent-tokens", "", `{"name":"Ana"}`
	res = call(t, h, ev, out.APIKey.Key)
	var tok struct{ Token, AgentID, WebsocketURL string }
	if err := json.Unmarshal([]byte(res.Body), &tok); err != nil || res.StatusCode != http.StatusCreated || tok.WebsocketURL != "wss://ws.example/dev" {
		t.Fatalf("agent token: %d %s", res.StatusCode, res.Body)
	}
	signer, _ := visitortoken.New(visitorKey)
	if c, err := signer.VerifyAgent(tok.Token); err != nil || c.AgentID != tok.AgentID || c.AgentName != "Ana" {
		t.Fatalf("agent token claims %+v %v", c, err)
	}
}

// A platform token under 32 characters starts (the cold start reads no
// secret) but serves nothing: every request is a 500, the operator's too.
func TestRun_ShortPlatformTokenServesNothing(t *testing.T) {
	tt := testaws.NewTables(t)
	short := "short-platform-token"
	h := fn.Start(t, testaws.FunctionEnv(t, tt, secretsOf(short), settings)).(handler)
	var ev events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "admin-api-create-tenant.json", &ev)
	for range 2 {
		if res := call(t, h, ev, short); res.StatusCode != http.StatusInternalServerError || strings.Contains(res.Body, short) {
			t.Fatalf("with a short token: %d %s", res.StatusCode, res.Body)
		}
	}
}

func TestRun_MissingOrBadSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, testaws.FunctionEnv(t, tt, secretsOf(token), settings),
		[2]string{"PLATFORM_TOKEN_ARN", ""}, [2]string{"DATA_TABLE", ""},
		[2]string{"PRIVACY_ERASE_FUNCTION", ""}, [2]string{"MAX_MESSAGE_CHARS", "lots"},
		[2]string{"WEBSOCKET_URL", ""}, [2]string{"VISITOR_TOKEN_SECRET_ARN", ""})
}
