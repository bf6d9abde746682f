package usage_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
)

// BenchmarkHook measures what one page view frame costs in DynamoDB: calls,
// read and write units (testaws.Meter computes them from item sizes), with
// the tenant already cached as in a warm ws-message.
func BenchmarkHook(b *testing.B) {
	tt := testaws.NewTables(b)
	meter := testaws.NewMeter()
	st := store.New(meter.Client(testaws.Config(b)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	ctx := context.Background()
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(b, "ws-page-view.json", &req)
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active"}
	if err := st.PutTenant(ctx, ten); err != nil {
		b.Fatal(err)
	}
	// The suppression entries are in their shards (the move of the legacy
	// layout is recorded), as in a settled deployment.
	if _, err := st.BeginSuppressMigration(ctx); err != nil {
		b.Fatal(err)
	}
	if err := st.FinishSuppressMigration(ctx); err != nil {
		b.Fatal(err)
	}
	hook := usage.Hook(st, store.NewTenantCache(st, time.Hour))
	visitor := ids.New(ids.Contact)
	if err := hook(ctx, ten.ID, visitor, json.RawMessage(req.Body), req.RequestContext); err != nil {
		b.Fatal(err)
	}
	meter.Reset()
	for b.Loop() {
		if err := hook(ctx, ten.ID, visitor, json.RawMessage(req.Body), req.RequestContext); err != nil {
			b.Fatal(err)
		}
	}
	meter.Usage().Report(b)
}
