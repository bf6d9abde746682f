package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// Every change of a tenant's settings bumps its Version, which the message
// path's tenant cache compares; a cache answers from memory only at a version
// at least as new as the one asked for.
func TestTenantVersion_EveryChangeBumpsItAndTheCacheHonoursIt(t *testing.T) {
	ctx := context.Background()
	st := testaws.NewTables(t).Store()
	tn := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Shop", WidgetKey: "wk", Status: "active", CreatedAt: time.Now().UTC()}
	if err := st.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	cache := store.NewTenantCache(st, time.Hour)
	cached, err := cache.Tenant(ctx, tn.ID)
	if err != nil || cached.Version != 0 {
		t.Fatalf("new tenant: %+v %v", cached, err)
	}
	newName := "Shop 2"
	changes := []struct {
		name string
		do   func() error
	}{
		{"settings", func() error {
			_, err := st.UpdateTenantSettings(ctx, tn.ID, chat.TenantSettings{Name: &newName})
			return err
		}},
		{"hold", func() error { return st.SetTenantHold(ctx, tn.ID, true) }},
		{"unhold", func() error { return st.SetTenantHold(ctx, tn.ID, false) }},
		{"reingest", func() error { _, err := st.SetReingestAfterErasure(ctx, tn.ID, "new_contact"); return err }},
		{"close", func() error { return st.CloseTenant(ctx, tn.ID) }},
		{"reopen", func() error { return st.ReopenTenant(ctx, tn.ID) }},
	}
	version := int64(0)
	for _, c := range changes {
		name := c.name
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec, err := st.TenantRecord(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Tenant.Version != version+1 {
			t.Fatalf("after %s: version %d, want %d", name, rec.Tenant.Version, version+1)
		}
		version = rec.Tenant.Version
		if got, _ := cache.TenantAtLeast(ctx, tn.ID, 0); got.Version == version {
			t.Fatalf("after %s: the cache read the tenant again though asked for no version", name)
		}
		if got, err := cache.TenantAtLeast(ctx, tn.ID, version); err != nil || got.Version != version {
			t.Fatalf("after %s: asked for version %d, the cache gave %+v %v", name, version, got, err)
		}
	}
}
