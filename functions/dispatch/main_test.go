package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
)

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_DeliversItsSampleEventToTheVisitorsConnection(t *testing.T) {
	tt := testaws.NewTables(t)
	mgmt := pushertest.New(t)
	getenv := testaws.FunctionEnv(t, tt, nil, map[string]string{"WS_MANAGEMENT_ENDPOINT": mgmt.URL + "/dev"})
	h := fn.Start(t, getenv).(func(context.Context, json.RawMessage) (any, error))
	ctx := context.Background()
	// The sample event's message is for this visitor.
	tid, vid := "t0000000000000000000000000", "c0000000000000000000000000"
	if err := tt.Store().PutConnection(ctx, &chat.Connection{ID: "live1", TenantID: tid, ContactID: vid, ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(testaws.RepoRoot(t), "events", "dispatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h(ctx, raw)
	res, ok := out.(events.DynamoDBEventResponse)
	if err != nil || !ok || len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch: %+v %v, want no failures", out, err)
	}
	if f := mgmt.Frames("live1"); len(f) != 1 || !strings.Contains(f[0], "Hi! How can I help?") {
		t.Fatalf("frames %v, want the sample message", f)
	}
}

func TestRun_MissingSettingsAreStartUpErrors(t *testing.T) {
	tt := testaws.NewTables(t)
	fn.Refuses(t, testaws.FunctionEnv(t, tt, nil, map[string]string{"WS_MANAGEMENT_ENDPOINT": "http://localhost/dev"}),
		[2]string{"WS_MANAGEMENT_ENDPOINT", ""}, [2]string{"DATA_TABLE", ""})
}
