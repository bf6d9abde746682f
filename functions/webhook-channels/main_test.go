package main

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
)

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func env(t *testing.T, tt *testaws.Tables) func(string) string {
	key := testaws.NewKMSKey(t)
	return testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": "subject-key"},
		map[string]string{"CHANNEL_KMS_KEY_ID": key.KeyID, "ATTACHMENT_BUCKET": testaws.NewBucket(t).Name})
}

// The function serves the sample event (a Telegram update to a webhook id no
// tenant has) with 404, writing nothing, and a path that is no channel's
// webhook with 404 too.
func TestRun_ServesTheWebhooks(t *testing.T) {
	tt := testaws.NewTables(t)
	got := fn.Start(t, env(t, tt))
	h, ok := got.(handler)
	if !ok {
		t.Fatalf("served %T, want an HTTP API handler", got)
	}
	var req events.APIGatewayV2HTTPRequest
	testaws.LoadEvent(t, "webhook-channels.json", &req)
	if res, err := h(context.Background(), req); err != nil || res.StatusCode != 404 {
		t.Fatalf("sample event: %d %s %v, want 404", res.StatusCode, res.Body, err)
	}
	req.RawPath = "/dev/webhooks/signal/abc"
	if res, _ := h(context.Background(), req); res.StatusCode != 404 {
		t.Fatalf("another channel's path: %d", res.StatusCode)
	}
}

func TestRun_MissingVariableIsNamed(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, env(t, tt), [2]string{"DATA_TABLE", ""}, [2]string{"CHANNEL_KMS_KEY_ID", ""}, [2]string{"ATTACHMENT_BUCKET", ""})
}
