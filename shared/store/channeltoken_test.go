package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// One owner at a time holds a channel token's lease: of eight racing
// instances one gets it; only the holder can put the token, which frees the
// lease; a lease that ran out can be taken, and its old owner's put is
// refused; a released lease is free at once; deleting the integration
// deletes the token.
func TestChannelTokenLease(t *testing.T) {
	tt := testaws.NewTables(t)
	st := store.New(serialized(tt.DB), tt.Data, tt.Archive)
	ctx := context.Background()
	tenant := ids.New(ids.Tenant)
	now := time.Now().UTC()
	var won atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			owner := fmt.Sprint("owner-", i)
			ok, err := st.LeaseChannelToken(ctx, tenant, "x", owner, now, now.Add(30*time.Second))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
				winner.Store(owner)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d instances hold the lease", won.Load())
	}
	owner := winner.Load().(string)
	tok := store.ChannelToken{Integration: "hook1", Blob: []byte("sealed"), Expires: store.TimeKey(now.Add(2 * time.Hour))}
	if err := st.PutChannelToken(ctx, tenant, "x", "someone-else", tok, now, retention.Defaults); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a put without the lease: %v", err)
	}
	if err := st.PutChannelToken(ctx, tenant, "x", owner, tok, now, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	got, err := st.ChannelTokenOf(ctx, tenant, "x")
	if err != nil || string(got.Blob) != "sealed" || got.Integration != "hook1" || !got.ExpiresAt().Equal(now.Add(2*time.Hour).Truncate(time.Microsecond)) || got.LeaseOwner != "" {
		t.Fatalf("stored %+v %v", got, err)
	}
	// The put freed the lease; a new holder's lease runs out and is taken.
	if ok, _ := st.LeaseChannelToken(ctx, tenant, "x", "a", now, now.Add(30*time.Second)); !ok {
		t.Fatal("the lease is not free after a put")
	}
	if ok, _ := st.LeaseChannelToken(ctx, tenant, "x", "b", now.Add(10*time.Second), now.Add(40*time.Second)); ok {
		t.Fatal("a held lease was taken")
	}
	if ok, _ := st.LeaseChannelToken(ctx, tenant, "x", "b", now.Add(31*time.Second), now.Add(61*time.Second)); !ok {
		t.Fatal("a lease that ran out was not taken")
	}
	if err := st.PutChannelToken(ctx, tenant, "x", "a", tok, now, retention.Defaults); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("the old owner's put: %v", err)
	}
	if err := st.ReleaseChannelToken(ctx, tenant, "x", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.LeaseChannelToken(ctx, tenant, "x", "c", now.Add(32*time.Second), now.Add(62*time.Second)); !ok {
		t.Fatal("a released lease is not free")
	}
	// The token goes with its integration.
	if err := st.PutTenant(ctx, &chat.Tenant{ID: tenant, Status: "active", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	in := &chat.ChannelIntegration{TenantID: tenant, Channel: "x", AccountID: "42", WebhookID: "hook1", TokenEncrypted: []byte("c"), InstalledAt: now}
	if err := st.PutChannelIntegration(ctx, in, retention.Defaults); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteChannelIntegration(ctx, tenant, "x"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ChannelTokenOf(ctx, tenant, "x"); len(got.Blob) != 0 || got.LeaseOwner != "" {
		t.Errorf("the token outlived its integration: %+v", got)
	}
}

// A contact's quota counts each part once: parts retried count once, eight
// racing senders of new parts get exactly the max, and the contact's next
// message starts a new count.
func TestClaimQuotaSend(t *testing.T) {
	tt := testaws.NewTables(t)
	st := store.New(serialized(tt.DB), tt.Data, tt.Archive)
	ctx := context.Background()
	tenant, contact := ids.New(ids.Tenant), ids.New(ids.Contact)
	at := time.Now().UTC().Add(-time.Hour)
	u := &chat.ChannelUser{Channel: "wechat", Account: "wx1", UserID: "openid-1", ContactID: contact}
	u, err := st.TouchChannelUser(ctx, tenant, u, at, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	claim := func(u *chat.ChannelUser, part string) bool {
		t.Helper()
		ok, err := st.ClaimQuotaSend(ctx, tenant, u, part, 5)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(u, "m1:0") {
		t.Fatal("the first part refused")
	}
	if !claim(u, "m1:0") { // its retry
		t.Fatal("a retried part refused")
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		sender := *u // each sender holds the user as it read it
		wg.Go(func() {
			if got, err := st.ClaimQuotaSend(ctx, tenant, &sender, fmt.Sprint("m", i+2, ":0"), 5); err != nil {
				t.Error(err)
			} else if got {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 4 {
		t.Fatalf("%d of 8 racing parts went after one, want 4 (5 in all)", ok.Load())
	}
	if claim(u, "late:0") {
		t.Error("a sixth part went")
	}
	read, err := st.ChannelUser(ctx, tenant, "wechat", "wx1", "openid-1")
	if err != nil || read.QuotaUsed() != 5 {
		t.Fatalf("used %d, %v", read.QuotaUsed(), err)
	}
	u2, err := st.TouchChannelUser(ctx, tenant, &chat.ChannelUser{Channel: "wechat", Account: "wx1", UserID: "openid-1", ContactID: contact}, at.Add(time.Minute), retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	if read, _ := st.ChannelUser(ctx, tenant, "wechat", "wx1", "openid-1"); read.QuotaUsed() != 0 {
		t.Errorf("a new message left %d used", read.QuotaUsed())
	}
	// A sender holding the user as read before the new message counts in
	// the new message's quota.
	if !claim(u, "next:0") || !claim(u2, "next:1") {
		t.Fatal("the new message's quota refused")
	}
	if read, _ := st.ChannelUser(ctx, tenant, "wechat", "wx1", "openid-1"); read.QuotaUsed() != 2 {
		t.Errorf("used %d of the new quota, want 2", read.QuotaUsed())
	}
}

// serialized applies one request at a time, atomically as DynamoDB does
// (moto's backends are not thread-safe); racing callers still interleave
// between their requests.
func serialized(db store.Client) store.Client { return &testaws.HookDB{Client: db, Serialize: true} }
