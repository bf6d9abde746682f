package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// closeWorld is a store on a settable clock over fresh tables, with one tenant.
type closeWorld struct {
	tt  *testaws.Tables
	st  *store.Store
	now *time.Time
	ten *chat.Tenant
}

func newCloseWorld(t *testing.T, serialize bool, p retention.Periods) *closeWorld {
	t.Helper()
	tt := testaws.NewTables(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var db store.Client = tt.DB
	if serialize {
		db = &testaws.HookDB{Client: tt.DB, Serialize: true}
	}
	w := &closeWorld{tt: tt, now: &now}
	w.st = store.New(db, tt.Data, tt.Archive).WithClock(func() time.Time { return *w.now })
	w.ten = &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Shop", WidgetKey: "wk_x_y", Status: "active", Retention: p, CreatedAt: now}
	if err := w.st.PutTenant(context.Background(), w.ten); err != nil {
		t.Fatal(err)
	}
	return w
}

// profile reads the raw profile item.
func (w *closeWorld) profile(t *testing.T) map[string]types.AttributeValue {
	t.Helper()
	res, err := w.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &w.tt.Data,
		Key: testaws.Key(store.TenantPK(w.ten.ID), store.SKProfile), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item
}

func num(it map[string]types.AttributeValue, name string) (int64, bool) {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v, true
}

// consistent checks that the profile is wholly open or wholly closed.
func (w *closeWorld) consistent(t *testing.T) string {
	t.Helper()
	it := w.profile(t)
	status := it["Status"].(*types.AttributeValueMemberS).Value
	_, hasClosedAt := it["ClosedAt"]
	grace, hasGrace := num(it, "graceEndsAt")
	exp, _ := num(it, "expiresAt")
	switch status {
	case "active":
		if hasClosedAt || hasGrace {
			t.Fatalf("open tenant with closedAt/graceEndsAt: %v", it)
		}
		if exp <= w.now.Add(retention.TenantRenewal/2).Unix() {
			t.Fatalf("open tenant's expiresAt %d not an active account's", exp)
		}
	case "closed":
		rec, err := w.st.TenantRecord(context.Background(), w.ten.ID)
		if err != nil || rec.Tenant.ClosedAt == nil || !hasGrace {
			t.Fatalf("closed tenant without closedAt or graceEndsAt: %v %v", it, err)
		}
		want := retention.GraceEnds(rec.Tenant.Periods(), *rec.Tenant.ClosedAt)
		if grace != want.Unix() || exp != want.Add(retention.PurgeWindow).Unix() {
			t.Fatalf("closed tenant: graceEndsAt %d expiresAt %d, want %d and %d", grace, exp, want.Unix(), want.Add(retention.PurgeWindow).Unix())
		}
	default:
		t.Fatalf("status %q", status)
	}
	return status
}

// TestReopenTenant_WithinGraceRestoresTheAccountAndAfterItIsRefused closes an
// account, reopens it within its grace period (status, closedAt, expiresAt
// and version as an open account's), closes it again, and is refused once the
// grace period is over, for an open account and for a missing one.
func TestReopenTenant_WithinGraceRestoresTheAccountAndAfterItIsRefused(t *testing.T) {
	ctx := context.Background()
	w := newCloseWorld(t, false, retention.Periods{ClosedGraceDays: 30})
	if err := w.st.ReopenTenant(ctx, w.ten.ID); !errors.Is(err, store.ErrNotClosed) {
		t.Fatalf("reopen of an open account: %v, want ErrNotClosed", err)
	}
	if err := w.st.CloseTenant(ctx, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	if got := w.consistent(t); got != "closed" {
		t.Fatalf("after close: %s", got)
	}
	*w.now = w.now.Add(29 * 24 * time.Hour)
	if err := w.st.ReopenTenant(ctx, w.ten.ID); err != nil {
		t.Fatalf("reopen within grace: %v", err)
	}
	if got := w.consistent(t); got != "active" {
		t.Fatalf("after reopen: %s", got)
	}
	rec, err := w.st.TenantRecord(ctx, w.ten.ID)
	if err != nil || rec.Tenant.Version != 2 || rec.ExpiresAt != w.now.Add(retention.TenantRenewal).Unix() {
		t.Fatalf("after reopen: %+v %v, want version 2 and expiresAt renewed", rec, err)
	}
	if err := w.st.CloseTenant(ctx, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	*w.now = w.now.Add(30 * 24 * time.Hour)
	if err := w.st.ReopenTenant(ctx, w.ten.ID); !errors.Is(err, store.ErrGraceOver) {
		t.Fatalf("reopen at the end of grace: %v, want ErrGraceOver", err)
	}
	if got := w.consistent(t); got != "closed" {
		t.Fatalf("after a refused reopen: %s", got)
	}
	if err := w.st.ReopenTenant(ctx, ids.New(ids.Tenant)); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("reopen of a missing account: %v, want not found", err)
	}
	if err := w.st.CloseTenant(ctx, ids.New(ids.Tenant)); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("close of a missing account: %v, want not found", err)
	}
}

// TestReopenTenant_HeldAccountStaysWithoutExpiry: a tenant on legal hold
// closes and reopens without ever getting an expiresAt.
func TestReopenTenant_HeldAccountStaysWithoutExpiry(t *testing.T) {
	ctx := context.Background()
	w := newCloseWorld(t, false, retention.Periods{})
	if err := w.st.SetTenantHold(ctx, w.ten.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := w.st.CloseTenant(ctx, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.st.ReopenTenant(ctx, w.ten.ID); err != nil {
		t.Fatal(err)
	}
	it := w.profile(t)
	if _, ok := it["expiresAt"]; ok {
		t.Fatalf("held tenant got an expiresAt: %v", it)
	}
	if it["Status"].(*types.AttributeValueMemberS).Value != "active" {
		t.Fatalf("not reopened: %v", it)
	}
}

// TestCloseTenant_RacingWithReopenLeavesAConsistentAccount closes and reopens
// one account from two goroutines many times (requests serialized as
// DynamoDB applies them, interleaved between them): the account is always
// wholly open or wholly closed, and its version counts exactly the writes that
// took effect.
func TestCloseTenant_RacingWithReopenLeavesAConsistentAccount(t *testing.T) {
	ctx := context.Background()
	w := newCloseWorld(t, true, retention.Periods{ClosedGraceDays: 10})
	const rounds = 20
	var wg sync.WaitGroup
	for _, op := range []func() error{
		func() error { return w.st.CloseTenant(ctx, w.ten.ID) },
		func() error {
			if err := w.st.ReopenTenant(ctx, w.ten.ID); !errors.Is(err, store.ErrNotClosed) {
				return err
			}
			return nil
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := op(); err != nil && chat.ErrorCode(err) != chat.EConflict {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w.consistent(t)
	// The version counts the writes: closes of an open account and reopens of
	// a closed one alternate, so an odd version is a closed account.
	rec, err := w.st.TenantRecord(ctx, w.ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	if (rec.Tenant.Status == "closed") != (rec.Tenant.Version%2 == 1) {
		t.Fatalf("status %s after %d versions: a write took effect twice or not at all", rec.Tenant.Status, rec.Tenant.Version)
	}
}
