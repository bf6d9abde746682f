package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_AuthorizesAndRecordsTheConnectionOfItsSampleEvents(t *testing.T) {
	tt := testaws.NewTables(t)
	key := strings.Repeat("v", 32)
	getenv := testaws.FunctionEnv(t, tt, map[string]string{"VISITOR_TOKEN_SECRET": key, "SUBJECT_HASH_SECRET": "subject-key"}, nil)
	h := fn.Start(t, getenv).(func(context.Context, json.RawMessage) (any, error))
	ctx := context.Background()
	tokens, _ := visitortoken.New(key)
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	invoke := func(name string, edit func(map[string]any)) (any, error) {
		var ev map[string]any
		testaws.LoadEvent(t, name, &ev)
		edit(ev)
		raw, _ := json.Marshal(ev)
		return h(ctx, raw)
	}

	// The authorizer checks the token with the key from Secrets Manager.
	out, err := invoke("ws-authorize.json", func(ev map[string]any) {
		ev["queryStringParameters"] = map[string]any{"token": tokens.Issue(tid, vid, time.Hour)}
	})
	res, ok := out.(events.APIGatewayCustomAuthorizerResponse)
	if err != nil || !ok || res.Context["visitorId"] != vid || res.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("authorize: %+v %v", out, err)
	}
	other, _ := visitortoken.New(strings.Repeat("o", 32))
	if _, err := invoke("ws-authorize.json", func(ev map[string]any) {
		ev["queryStringParameters"] = map[string]any{"token": other.Issue(tid, vid, time.Hour)}
	}); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("a token of another key: %v, want Unauthorized", err)
	}

	// $connect, with the authorizer's context, records the connection.
	out, err = invoke("ws-connect.json", func(ev map[string]any) {
		ev["requestContext"].(map[string]any)["authorizer"] = res.Context
	})
	if r, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || r.StatusCode != 200 {
		t.Fatalf("$connect: %+v %v", out, err)
	}
	if conns, err := tt.Store().Connections(ctx, tid, vid); err != nil || len(conns) != 1 {
		t.Fatalf("connections after $connect: %v %v, want one", conns, err)
	}
}

func TestRun_MissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	both := map[string]string{"VISITOR_TOKEN_SECRET": strings.Repeat("v", 32), "SUBJECT_HASH_SECRET": "k"}
	fn.Refuses(t, testaws.FunctionEnv(t, tt, both, nil),
		[2]string{"DATA_TABLE", ""}, [2]string{"AWS_REGION", ""},
		[2]string{"VISITOR_TOKEN_SECRET_ARN", ""}, [2]string{"SUBJECT_HASH_SECRET_ARN", ""})
}
