package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/ids"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_ServesFramesOfItsSampleEvent(t *testing.T) {
	tt := testaws.NewTables(t)
	mgmt := pushertest.New(t)
	tn := wstest.Tenant(t, tt.Store(), "Shop")
	getenv := testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": "subject-key"},
		map[string]string{"WS_MANAGEMENT_ENDPOINT": mgmt.URL + "/dev", "MAX_MESSAGE_CHARS": "5"})
	h := fn.Start(t, getenv).(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error))
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(t, "ws-send-message.json", &req)
	req.RequestContext.Authorizer = map[string]any{"tenantId": tn.ID, "visitorId": ids.New(ids.Contact)}
	req.Body = `{"action":"sendMessage","clientMessageId":"m1","text":"too long"}`
	if res, err := h(context.Background(), req); err != nil || res.StatusCode != 200 {
		t.Fatalf("frame: %d %v", res.StatusCode, err)
	}
	// The configured limit (5 characters) is the one in force.
	got := mgmt.Frames(req.RequestContext.ConnectionID)
	if len(got) != 1 || !strings.Contains(got[0], `"code":"too_large"`) || !strings.Contains(got[0], "longer than 5 characters") {
		t.Fatalf("frames %v, want one too_large error naming 5 characters", got)
	}
	req.Body = `{"action":"sendMessage","clientMessageId":"m2","text":"hi"}`
	if res, err := h(context.Background(), req); err != nil || res.StatusCode != 200 {
		t.Fatalf("frame: %d %v", res.StatusCode, err)
	}
	if got = mgmt.Frames(req.RequestContext.ConnectionID); len(got) != 2 || !strings.Contains(got[1], `"type":"ack"`) {
		t.Fatalf("frames %v, want an ack last", got)
	}
}

func TestRun_BadOrMissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, testaws.FunctionEnv(t, tt, map[string]string{"SUBJECT_HASH_SECRET": "k"}, nil),
		[2]string{"MAX_MESSAGE_CHARS", "lots"}, [2]string{"MAX_MESSAGE_CHARS", "0"}, [2]string{"DATA_TABLE", ""},
		[2]string{"SUBJECT_HASH_SECRET_ARN", ""})
}
