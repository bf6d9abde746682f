package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// putKey stores a key of the tenant created at createdAt (a key created long
// enough ago is past its expiresAt) and returns its id. Ids sort by the
// millisecond they are made in, so keys put one after the other list in order.
func putKey(t *testing.T, st *store.Store, tenantID, role string, createdAt time.Time) string {
	t.Helper()
	time.Sleep(2 * time.Millisecond)
	k := &chat.APIKey{ID: ids.New(ids.APIKey), TenantID: tenantID, Name: role + " key", Role: role,
		Prefix: "lsb_" + tenantID, Hash: "h", CreatedBy: "test", CreatedAt: createdAt}
	if err := st.PutAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// putLegacyKey stores a key as the store did before keys had partitions of
// their own: one raw PutItem into the tenant's partition (T#t#TENANT /
// APIKEY#<id>), with the attributes the old code wrote, and returns its id.
func putLegacyKey(t *testing.T, tt *testaws.Tables, tenantID, role string, createdAt time.Time) string {
	t.Helper()
	time.Sleep(2 * time.Millisecond)
	id := ids.New(ids.APIKey)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{
		"PK": s(store.TenantPK(tenantID)), "SK": s("APIKEY#" + id),
		"dataClass": s("personal"), "entity": s("apiKey"),
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(retention.ExpiresAt(retention.Defaults, retention.Personal, createdAt), 10)},
		"id":        s(id), "tenantId": s(tenantID), "name": s(role + " key"), "role": s(role),
		"prefix": s("lsb_" + tenantID + "_" + id), "hash": s("h"), "createdBy": s("test"),
		"createdAt": s(createdAt.UTC().Format(time.RFC3339Nano)),
	}
	if _, err := tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &tt.Data, Item: item}); err != nil {
		t.Fatal(err)
	}
	return id
}

// layouts are the two places a key can be stored during the transition: its
// own partition (as PutAPIKey writes now) and the tenant's (as before).
func layouts(tt *testaws.Tables, st *store.Store) map[string]func(t *testing.T, tenantID, role string, createdAt time.Time) string {
	return map[string]func(t *testing.T, tenantID, role string, createdAt time.Time) string{
		"own partition": func(t *testing.T, tenantID, role string, createdAt time.Time) string {
			return putKey(t, st, tenantID, role, createdAt)
		},
		"tenant's partition (before the move)": func(t *testing.T, tenantID, role string, createdAt time.Time) string {
			return putLegacyKey(t, tt, tenantID, role, createdAt)
		},
	}
}

// liveOwnerKeys counts the tenant's owner keys that would authenticate now.
func liveOwnerKeys(t *testing.T, st *store.Store, tenantID string) int {
	t.Helper()
	keys, _, err := st.APIKeys(context.Background(), tenantID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if k.Role == "owner" && k.RevokedAt == nil {
			n++
		}
	}
	return n
}

func revoke(st *store.Store, tenantID, keyID string) error {
	return st.RevokeAPIKey(context.Background(), tenantID, keyID, st.Now(), retention.Defaults)
}

// TestRevokeAPIKey_LastActiveOwnerKeyIsRefused: the last owner key that works
// cannot be revoked (a conflict, and it still works); agent keys, revoked owner
// keys and expired owner keys do not count as another owner key. Keys are
// written as before this rule existed (no counter anywhere), as for tenants
// created before it, in their own partitions and, as before the move, in the
// tenant's partition.
func TestRevokeAPIKey_LastActiveOwnerKeyIsRefused(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	for layout, put := range layouts(tt, st) {
		t.Run(layout, func(t *testing.T) {
			now := st.Now()
			tid := ids.New(ids.Tenant)
			owner := put(t, tid, "owner", now)
			agent := put(t, tid, "agent", now)
			put(t, tid, "owner", now.AddDate(-4, 0, 0)) // expired: past the personal period
			revoked := put(t, tid, "owner", now)
			if err := revoke(st, tid, revoked); err != nil {
				t.Fatalf("revoke an owner key while another works: %v", err)
			}

			err := revoke(st, tid, owner)
			if chat.ErrorCode(err) != chat.EConflict {
				t.Fatalf("revoke the last active owner key: %v, want a conflict", err)
			}
			if k, err := st.APIKey(context.Background(), tid, owner); err != nil || k.RevokedAt != nil {
				t.Fatalf("the refused key after the refusal: %+v %v, want it unrevoked", k, err)
			}
			// Agent keys are not owners, and revoking them never needs another key.
			if err := revoke(st, tid, agent); err != nil {
				t.Fatalf("revoke the agent key: %v", err)
			}
			// With a second owner key the first one goes; then the second is the last.
			second := put(t, tid, "owner", now)
			if err := revoke(st, tid, owner); err != nil {
				t.Fatalf("revoke with a second owner key: %v", err)
			}
			if err := revoke(st, tid, second); chat.ErrorCode(err) != chat.EConflict {
				t.Fatalf("revoke the now last owner key: %v, want a conflict", err)
			}
			// Missing, revoked and foreign keys stay not found.
			for _, id := range []string{ids.New(ids.APIKey), owner} {
				if err := revoke(st, tid, id); !errors.Is(err, chat.ErrNotFound) {
					t.Errorf("revoke %s: %v, want not found", id, err)
				}
			}
			if err := revoke(st, ids.New(ids.Tenant), second); !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("revoke through another tenant: %v, want not found", err)
			}
			if n := liveOwnerKeys(t, st, tid); n != 1 {
				t.Fatalf("%d live owner keys, want 1", n)
			}
		})
	}
}

// hookDB runs before once, just before the first transaction it forwards
// that only selects (all when only is nil), and counts those transactions: a
// deterministic way to let another caller act between a read and a write
// (moto's backends are not thread-safe, so the test does not race real
// goroutines against it).
type hookDB struct {
	store.Client
	only   func(*dynamodb.TransactWriteItemsInput) bool
	before func()
	txs    int
}

func (h *hookDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if h.only == nil || h.only(in) {
		if f := h.before; f != nil {
			h.before = nil
			f()
		}
		h.txs++
	}
	return h.Client.TransactWriteItems(ctx, in, opts...)
}

// revokeTx selects a revoke's transaction (an update and a condition check),
// not the move of a key (a put and a delete).
func revokeTx(in *dynamodb.TransactWriteItemsInput) bool {
	return len(in.TransactItems) > 0 && in.TransactItems[0].Update != nil
}

// moveTx selects the move of a key out of the tenant's partition.
func moveTx(in *dynamodb.TransactWriteItemsInput) bool {
	return len(in.TransactItems) > 0 && in.TransactItems[0].Put != nil
}

// TestRevokeAPIKey_TwoOwnersAtOnce plays two owners revoking each other's key
// at the same moment, as two Lambda instances would: the first has read the
// keys (the other key works) when the second revokes; the condition in
// DynamoDB, not what either read, decides. With two owner keys exactly one
// revoke is refused; with a third owner key both succeed (A's witness, the
// oldest other owner key, is the one B revoked: A reads again and finds the
// third). It holds as well for keys still in the tenant's partition: A's
// revoke moves them before its transaction, B's finds them moved.
func TestRevokeAPIKey_TwoOwnersAtOnce(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	for layout, put := range layouts(tt, st) {
		for _, tc := range []struct {
			name       string
			otherKeys  int
			wantLive   int
			wantRefuse bool
			wantTxs    int // A's revoke transactions
		}{
			{"last two owner keys", 0, 1, true, 1},
			{"a third owner key remains", 1, 1, false, 2},
		} {
			t.Run(layout+"/"+tc.name, func(t *testing.T) {
				now := st.Now()
				tid := ids.New(ids.Tenant)
				a, b := put(t, tid, "owner", now), put(t, tid, "owner", now)
				put(t, tid, "agent", now)
				for range tc.otherKeys {
					put(t, tid, "owner", now)
				}
				var errB error
				ran := false
				hook := &hookDB{Client: tt.DB, only: revokeTx}
				hook.before = func() { ran = true; errB = revoke(st, tid, a) } // owner B revokes A's key
				errA := revoke(store.New(hook, tt.Data, tt.Archive), tid, b)   // owner A revokes B's key
				if !ran {
					errB = revoke(st, tid, a) // the revoke wrote without a transaction: B comes after
				}
				t.Logf("A revoking B's key: %v; B revoking A's key: %v", errA, errB)
				if errB != nil {
					t.Fatalf("B's revoke, first to write: %v", errB)
				}
				if tc.wantRefuse && chat.ErrorCode(errA) != chat.EConflict {
					t.Fatalf("A's revoke: %v, want a conflict: both revokes succeeded", errA)
				}
				if !tc.wantRefuse && errA != nil {
					t.Fatalf("A's revoke: %v, want success (a third owner key works)", errA)
				}
				if n := liveOwnerKeys(t, st, tid); n != tc.wantLive {
					t.Fatalf("%d live owner keys, want %d", n, tc.wantLive)
				}
				if hook.txs != tc.wantTxs {
					t.Fatalf("A wrote %d transactions, want %d", hook.txs, tc.wantTxs)
				}
			})
		}
	}
}
