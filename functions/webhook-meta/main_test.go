package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/metafake"
	"github.com/livesupportbot/backend/local/testaws"
)

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

const appSecret = "mainTestMetaAppSecret01"

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func start(t *testing.T, getenv func(string) string) handler {
	t.Helper()
	got := fn.Start(t, getenv)
	h, ok := got.(handler)
	if !ok {
		t.Fatalf("served %T, want an HTTP API handler", got)
	}
	return h
}

// sampleEvent is events/webhook-meta.json signed with secret.
func sampleEvent(t *testing.T, secret string) events.APIGatewayV2HTTPRequest {
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "webhook-meta.json", &req)
	req.Headers["x-hub-signature-256"] = metafake.Sign([]byte(req.Body), secret)
	return req
}

func env(t *testing.T, tt *testaws.Tables, appSecrets string, extra map[string]string) func(string) string {
	key := testaws.NewKMSKey(t)
	all := map[string]string{"CHANNEL_KMS_KEY_ID": key.KeyID, "ATTACHMENT_BUCKET": testaws.NewBucket(t).Name}
	for k, v := range extra {
		all[k] = v
	}
	return testaws.FunctionEnv(t, tt, map[string]string{"META_APP_SECRETS": appSecrets, "SUBJECT_HASH_SECRET": "subject-key"}, all)
}

// The webhook verifies the sample event with the app secret from Secrets
// Manager: signed with it, the event (a message to a Page no tenant
// connected) is acknowledged; signed with another secret it is 401.
func TestRun_ServesTheWebhookWithTheSecretsOfSecretsManager(t *testing.T) {
	tt := testaws.NewTables(t)
	h := start(t, env(t, tt, `{"META_APP_SECRET":"`+appSecret+`","META_VERIFY_TOKEN":"vt"}`, nil))
	res, err := h(context.Background(), sampleEvent(t, appSecret))
	if err != nil || res.StatusCode != 200 || res.Body != "EVENT_RECEIVED" {
		t.Fatalf("signed sample event: %d %s %v", res.StatusCode, res.Body, err)
	}
	if res, _ := h(context.Background(), sampleEvent(t, "another-secret")); res.StatusCode != 401 {
		t.Fatalf("event signed with another secret: %d %s, want 401", res.StatusCode, res.Body)
	}
}

// Without the Meta app's secrets (a deployment that does not use Meta) the
// function starts and answers 503, which Meta retries.
func TestRun_WithoutMetaAnswers503(t *testing.T) {
	tt := testaws.NewTables(t)
	h := start(t, env(t, tt, `{"META_APP_SECRET":"","META_VERIFY_TOKEN":""}`, nil))
	if res, err := h(context.Background(), sampleEvent(t, "")); err != nil || res.StatusCode != 503 {
		t.Errorf("empty secrets: %d %s %v, want 503", res.StatusCode, res.Body, err)
	}
}

func TestRun_MissingVariableIsNamed(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, env(t, tt, `{}`, nil), [2]string{"DATA_TABLE", ""}, [2]string{"META_APP_SECRETS_ARN", ""},
		[2]string{"CHANNEL_KMS_KEY_ID", ""}, [2]string{"ATTACHMENT_BUCKET", ""})
}
