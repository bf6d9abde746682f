package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/slackfake"
	"github.com/livesupportbot/backend/local/testaws"
)

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

const signingSecret = "mainTestSigningSecret0001"

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

// start runs run with env and returns the handler it serves.
func start(t *testing.T, getenv func(string) string) handler {
	t.Helper()
	got := fn.Start(t, getenv)
	h, ok := got.(handler)
	if !ok {
		t.Fatalf("served %T, want an HTTP API handler", got)
	}
	return h
}

// sampleEvent is events/webhook-slack-events.json signed with secret now.
func sampleEvent(t *testing.T, secret string) events.APIGatewayV2HTTPRequest {
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "webhook-slack-events.json", &req)
	now := time.Now().Unix()
	req.Headers["x-slack-request-timestamp"] = strconv.FormatInt(now, 10)
	req.Headers["x-slack-signature"] = slackfake.Sign(secret, now, []byte(req.Body))
	return req
}

func env(t *testing.T, tt *testaws.Tables, appSecrets string, extra map[string]string) func(string) string {
	key := testaws.NewKMSKey(t)
	all := map[string]string{"SLACK_CLIENT_ID": "1111.2222", "SLACK_KMS_KEY_ID": key.KeyID}
	for k, v := range extra {
		all[k] = v
	}
	return testaws.FunctionEnv(t, tt, map[string]string{"SLACK_APP_SECRETS": appSecrets}, all)
}

// The webhook verifies the sample event with the signing secret from Secrets
// Manager: signed with it, the event (a reply in a thread of no installed
// workspace) is acknowledged; signed with another secret it is 401.
func TestRun_ServesTheWebhookWithTheSecretsOfSecretsManager(t *testing.T) {
	tt := testaws.NewTables(t)
	h := start(t, env(t, tt, `{"SLACK_CLIENT_SECRET":"cs","SLACK_SIGNING_SECRET":"`+signingSecret+`"}`, nil))
	res, err := h(context.Background(), sampleEvent(t, signingSecret))
	if err != nil || res.StatusCode != 200 || res.Body != `{"ok":true}` {
		t.Fatalf("signed sample event: %d %s %v", res.StatusCode, res.Body, err)
	}
	if res, _ := h(context.Background(), sampleEvent(t, "another-secret")); res.StatusCode != 401 {
		t.Fatalf("event signed with another secret: %d %s, want 401", res.StatusCode, res.Body)
	}
}

// Without the Slack app's settings the function still starts and answers
// 503 without retry: no client id at cold start, or empty secrets found on
// the first request.
func TestRun_WithoutSlackAnswers503(t *testing.T) {
	tt := testaws.NewTables(t)
	for name, getenv := range map[string]func(string) string{
		"no client id":  env(t, tt, `{"SLACK_CLIENT_SECRET":"cs","SLACK_SIGNING_SECRET":"ss"}`, map[string]string{"SLACK_CLIENT_ID": ""}),
		"empty secrets": env(t, tt, `{"SLACK_CLIENT_SECRET":"","SLACK_SIGNING_SECRET":""}`, nil),
	} {
		h := start(t, getenv)
		res, err := h(context.Background(), sampleEvent(t, ""))
		if err != nil || res.StatusCode != 503 || res.Headers["X-Slack-No-Retry"] != "1" {
			t.Errorf("%s: %d %v %s %v, want 503 without retry", name, res.StatusCode, res.Headers, res.Body, err)
		}
	}
}

func TestRun_MissingVariableIsNamed(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, env(t, tt, `{}`, nil), [2]string{"DATA_TABLE", ""}, [2]string{"SLACK_APP_SECRETS_ARN", ""})
}
