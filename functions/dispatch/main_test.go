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

func TestRun_DeliversItsSampleEventToTheVisitorsConnection(t *testing.T) {
	tt := testaws.NewTables(t)
	mgmt := pushertest.New(t)
	getenv := testaws.FunctionEnv(t, tt, nil, map[string]string{"WS_MANAGEMENT_ENDPOINT": mgmt.URL + "/dev"})
	var h func(context.Context, json.RawMessage) (any, error)
	serve = func(handler any) error {
		h = handler.(func(context.Context, json.RawMessage) (any, error))
		return nil
	}
	if err := run(context.Background(), getenv); err != nil || h == nil {
		t.Fatalf("run: %v", err)
	}
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
	serve = func(any) error { t.Fatal("served with a bad configuration"); return nil }
	for _, tc := range []struct {
		extra map[string]string
		want  string
	}{
		{nil, "WS_MANAGEMENT_ENDPOINT"},
		{map[string]string{"WS_MANAGEMENT_ENDPOINT": "http://localhost/dev", "DATA_TABLE": ""}, "DATA_TABLE"},
	} {
		getenv := testaws.FunctionEnv(t, tt, nil, tc.extra)
		if err := run(context.Background(), getenv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: run = %v, want an error naming %s", tc.extra, err, tc.want)
		}
	}
}
