package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// TestSessionStore_ReadsATenantOncePerTTL: widget-session asks for the tenant
// of a widget key on every page load; from the session store, a warm instance
// reads the tenant's profile once per SessionTenantCacheTTL, however many
// sessions it serves, and a wrong key is still refused.
func TestSessionStore_ReadsATenantOncePerTTL(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	now := time.Now().UTC()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithClock(func() time.Time { return now })
	tid := ids.New(ids.Tenant)
	key := "wk_" + tid + "_" + ids.Secret(16)
	if err := st.PutTenant(ctx, &chat.Tenant{ID: tid, Name: "Shop", WidgetKey: key, Status: "active"}); err != nil {
		t.Fatal(err)
	}
	ss := store.NewSessionStore(st)
	m.Reset()
	for range 100 {
		if got, err := ss.TenantByWidgetKey(ctx, key); err != nil || got.ID != tid {
			t.Fatalf("tenant of the key: %v, %v", got, err)
		}
	}
	if _, err := ss.TenantByWidgetKey(ctx, "wk_"+tid+"_wrong"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("a wrong key of the tenant: %v, want not found", err)
	}
	if calls, _, _ := m.Snapshot(); calls["GetItem"] != 1 {
		t.Errorf("101 look-ups made %d GetItems, want 1", calls["GetItem"])
	}
	now = now.Add(store.SessionTenantCacheTTL + time.Second)
	if _, err := ss.TenantByWidgetKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if calls, _, _ := m.Snapshot(); calls["GetItem"] != 2 {
		t.Errorf("after the TTL: %d GetItems, want 2 (read again)", calls["GetItem"])
	}
}
