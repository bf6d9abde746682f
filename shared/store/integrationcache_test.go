package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// The cache answers "none" and an integration without a read while fresh,
// reads again when stale or forgotten, and sees a new integration then.
func TestIntegrationCache(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive)
	ctx := context.Background()
	tenant, now := ids.New(ids.Tenant), time.Now()
	c := store.NewIntegrationCache(st, "zendesk", time.Minute)
	reads := func() int { calls, _, _ := m.Snapshot(); return testaws.Requests(calls) }
	if in, err := c.Integration(ctx, tenant, now); in != nil || err != nil {
		t.Fatalf("%+v %v", in, err)
	}
	r := reads()
	if in, _ := c.Integration(ctx, tenant, now.Add(30*time.Second)); in != nil || reads() != r {
		t.Fatalf("a fresh none read again (%d -> %d)", r, reads())
	}
	if err := st.PutChannelIntegration(ctx, &chat.ChannelIntegration{TenantID: tenant, Channel: "zendesk", AccountID: "acme-" + ids.Secret(6),
		TokenEncrypted: []byte("x"), InstalledAt: now}, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if in, _ := c.Integration(ctx, tenant, now.Add(61*time.Second)); in == nil {
		t.Fatal("a stale none was kept")
	}
	r = reads()
	c.Forget(tenant)
	if in, _ := c.Integration(ctx, tenant, now.Add(62*time.Second)); in == nil || reads() != r+1 {
		t.Fatalf("after Forget: %+v, %d reads", in, reads()-r)
	}
}
