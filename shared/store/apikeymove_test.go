package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// meteredStore is a store over the tables whose every call m counts.
func meteredStore(t *testing.T, tt *testaws.Tables, m *testaws.Meter) *store.Store {
	return store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive)
}

// tenantPartitionRead fails if any call m counted addressed the tenant's
// partition (T#t#TENANT).
func tenantPartitionRead(t *testing.T, m *testaws.Meter, tenantID, what string) {
	t.Helper()
	for p, u := range m.ByPartition() {
		if p.Key == store.TenantPK(tenantID) {
			t.Errorf("%s used the tenant's partition %s: %+v", what, p.Key, u)
		}
	}
}

// legacyKeys returns the keys still in the tenant's partition.
func legacyKeys(t *testing.T, tt *testaws.Tables, tenantID string) []map[string]types.AttributeValue {
	t.Helper()
	res, err := tt.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &tt.Data,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.TenantPK(tenantID)}, ":p": &types.AttributeValueMemberS{Value: "APIKEY#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// TestAPIKey_AuthReadsOnlyTheKeysPartition: an authentication's key read is
// one strongly consistent GetItem of the key's own partition, T#t#APIKEY#<id>
// (1 RCU), and never touches the tenant's partition T#t#TENANT, so a tenant's
// admin traffic spreads over as many partition keys as it has keys.
func TestAPIKey_AuthReadsOnlyTheKeysPartition(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	agent := putKey(t, st, tid, "agent", st.Now())
	owner := putKey(t, st, tid, "owner", st.Now())
	m := testaws.NewMeter()
	ms := meteredStore(t, tt, m)
	for range 3 {
		for _, id := range []string{agent, owner} {
			if k, err := ms.APIKey(ctx, tid, id); err != nil || k.ID != id {
				t.Fatalf("auth read of %s: %+v %v", id, k, err)
			}
		}
	}
	want := map[testaws.Partition]testaws.PartitionUse{
		{Table: tt.Data, Key: store.APIKeyPK(tid, agent)}: {Requests: 3, Read: 3},
		{Table: tt.Data, Key: store.APIKeyPK(tid, owner)}: {Requests: 3, Read: 3},
	}
	if got := m.ByPartition(); !reflect.DeepEqual(got, want) {
		t.Fatalf("by partition %v, want %v", got, want)
	}
	if calls, _, _ := m.Snapshot(); fmt.Sprint(calls) != "map[GetItem:6]" {
		t.Fatalf("calls %v, want 6 GetItem", calls)
	}
	tenantPartitionRead(t, m, tid, "authentication")
}

// TestAPIKeys_ListPagesInIDOrder: the list of a tenant's keys pages in key id
// order (oldest first) through the GSI1 partition T#t#APIKEYS, every key once
// whatever the page size, expired keys hidden, revoked keys shown; during the
// transition it merges the keys still in the tenant's partition into the same
// order, also across pages.
func TestAPIKeys_ListPagesInIDOrder(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		legacy func(i int) bool
	}{
		{"own partitions", func(int) bool { return false }},
		{"both layouts", func(i int) bool { return i%3 != 1 }},
		{"tenant's partition only", func(int) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid := ids.New(ids.Tenant)
			var want []string
			for i := range 7 {
				put := func(role string, at time.Time) string { return putKey(t, st, tid, role, at) }
				if tc.legacy(i) {
					put = func(role string, at time.Time) string { return putLegacyKey(t, tt, tid, role, at) }
				}
				if i == 3 {
					put("agent", st.Now().AddDate(-4, 0, 0)) // expired: not listed
				}
				want = append(want, put([]string{"owner", "agent"}[i%2], st.Now()))
			}
			if err := revoke(st, tid, want[1]); err != nil { // revoked keys are listed
				t.Fatal(err)
			}
			m := testaws.NewMeter()
			ms := meteredStore(t, tt, m)
			for _, limit := range []int{1, 2, 3, 6, 7, 100} {
				var got []string
				cursor, pages := "", 0
				for {
					keys, next, err := ms.APIKeys(ctx, tid, limit, cursor)
					if err != nil {
						t.Fatalf("limit %d page %d: %v", limit, pages, err)
					}
					if len(keys) > limit {
						t.Fatalf("limit %d: page of %d", limit, len(keys))
					}
					for _, k := range keys {
						got = append(got, k.ID)
						if (k.ID == want[1]) != (k.RevokedAt != nil) {
							t.Errorf("key %s revokedAt %v", k.ID, k.RevokedAt)
						}
					}
					pages++
					if next == "" || pages > 20 {
						break
					}
					cursor = next
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("limit %d: listed %v over %d pages, want %v", limit, got, pages, want)
				}
				if min := (len(want) + limit - 1) / limit; pages > min+1 {
					t.Errorf("limit %d: %d pages, want at most %d", limit, pages, min+1)
				}
			}
			// The list reads the index partition, and the tenant's partition
			// only for keys not yet moved.
			index := testaws.Partition{Table: tt.Data, Index: "GSI1", Key: store.APIKeysIndexKey(tid)}
			if m.ByPartition()[index].Requests == 0 {
				t.Fatalf("the list did not read %v: %v", index, m.ByPartition())
			}
		})
	}
}

// TestAPIKey_OldLayoutMovesOnFirstUse: keys written as the store wrote them
// before the move (T#t#TENANT / APIKEY#<id>) keep working: the first
// authentication finds the key in the tenant's partition and moves it to its
// own (same attributes, data class and expiresAt, plus its list entry), and
// from then on reads only the key's partition; the list shows keys of both
// layouts; revokes work on keys of either, and an owner key in the tenant's
// partition counts as a witness.
func TestAPIKey_OldLayoutMovesOnFirstUse(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	now := st.Now()
	oldOwner := putLegacyKey(t, tt, tid, "owner", now)
	oldAgent := putLegacyKey(t, tt, tid, "agent", now)
	otherAgent := putLegacyKey(t, tt, tid, "agent", now)
	newOwner := putKey(t, st, tid, "owner", now)
	before := rawItem(t, tt, tt.Data, store.TenantPK(tid), "APIKEY#"+oldAgent)
	m := testaws.NewMeter()
	ms := meteredStore(t, tt, m)

	// First authentication: the key's partition (missing), the tenant's, and
	// the move (one transaction).
	k, err := ms.APIKey(ctx, tid, oldAgent)
	if err != nil || k.ID != oldAgent || k.Role != "agent" || k.Name != "agent key" || k.Hash != "h" || k.RevokedAt != nil ||
		k.TenantID != tid || k.CreatedAt.IsZero() {
		t.Fatalf("first auth read of the old key: %+v %v", k, err)
	}
	if calls, _, _ := m.Snapshot(); fmt.Sprint(calls) != "map[GetItem:2 TransactWriteItems:1]" {
		t.Fatalf("first read: calls %v", calls)
	}
	if u := m.ByPartition()[testaws.Partition{Table: tt.Data, Key: store.TenantPK(tid)}]; u.Requests != 2 {
		t.Fatalf("first read: tenant's partition %+v, want the read and the delete", u)
	}
	after := rawItem(t, tt, tt.Data, store.APIKeyPK(tid, oldAgent), store.SKAPIKey)
	if rawItem(t, tt, tt.Data, store.TenantPK(tid), "APIKEY#"+oldAgent) != nil {
		t.Fatal("the old item is still in the tenant's partition")
	}
	for name, v := range before {
		if name != "PK" && name != "SK" && !reflect.DeepEqual(after[name], v) {
			t.Errorf("moved key's %s is %v, was %v", name, after[name], v)
		}
	}
	for name, v := range map[string]string{"GSI1PK": store.APIKeysIndexKey(tid), "GSI1SK": oldAgent, "SK": store.SKAPIKey} {
		if s, _ := after[name].(*types.AttributeValueMemberS); s == nil || s.Value != v {
			t.Errorf("moved key's %s is %v, want %s", name, after[name], v)
		}
	}
	if len(after) != len(before)+2 {
		t.Errorf("moved key has %d attributes, want %d: %v", len(after), len(before)+2, after)
	}

	// Every later authentication reads the key's partition only.
	m.Reset()
	for range 3 {
		if k, err := ms.APIKey(ctx, tid, oldAgent); err != nil || k.ID != oldAgent {
			t.Fatalf("later auth read: %+v %v", k, err)
		}
	}
	want := map[testaws.Partition]testaws.PartitionUse{{Table: tt.Data, Key: store.APIKeyPK(tid, oldAgent)}: {Requests: 3, Read: 3}}
	if got := m.ByPartition(); !reflect.DeepEqual(got, want) {
		t.Fatalf("later reads by partition %v, want %v", got, want)
	}
	tenantPartitionRead(t, m, tid, "a later authentication")

	// The list shows the keys of both layouts in id order.
	keys, next, err := ms.APIKeys(ctx, tid, 100, "")
	var listed []string
	for _, k := range keys {
		listed = append(listed, k.ID)
	}
	if err != nil || next != "" || !reflect.DeepEqual(listed, []string{oldOwner, oldAgent, otherAgent, newOwner}) {
		t.Fatalf("list: %v %q %v", listed, next, err)
	}

	// An agent key never used since the move is revoked (moved first).
	if err := revoke(ms, tid, otherAgent); err != nil {
		t.Fatalf("revoke the old agent key: %v", err)
	}
	if k, err := ms.APIKey(ctx, tid, otherAgent); err != nil || k.RevokedAt == nil {
		t.Fatalf("the revoked old agent key: %+v %v", k, err)
	}
	// The new owner key goes, with the old owner key (in the tenant's
	// partition until now) as its witness; then the old one is the last.
	if err := revoke(ms, tid, newOwner); err != nil {
		t.Fatalf("revoke the new owner key, the old one its witness: %v", err)
	}
	if err := revoke(ms, tid, oldOwner); chat.ErrorCode(err) != chat.EConflict {
		t.Fatalf("revoke the last owner key: %v, want a conflict", err)
	}
	if k, err := ms.APIKey(ctx, tid, oldOwner); err != nil || k.RevokedAt != nil {
		t.Fatalf("the last owner key: %+v %v", k, err)
	}
	if left := legacyKeys(t, tt, tid); len(left) != 0 {
		t.Fatalf("%d keys left in the tenant's partition after an owner key's revoke", len(left))
	}
	// Missing keys are missing in both places.
	if _, err := ms.APIKey(ctx, tid, ids.New(ids.APIKey)); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("a missing key: %v", err)
	}
}

// TestAPIKey_MoveKeepsARevokeWrittenMeanwhile: a key revoked in the tenant's
// partition (by an instance still running the old code) between an
// authentication's read and its move is not brought back: the move's delete
// requires the old item exactly as read, so the transaction is cancelled and
// the key read again, revoked, and moved as it is now.
func TestAPIKey_MoveKeepsARevokeWrittenMeanwhile(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	st := tt.Store()
	id := putLegacyKey(t, tt, tid, "agent", st.Now())
	hook := &hookDB{Client: tt.DB, only: moveTx}
	hook.before = func() {
		_, err := tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &tt.Data,
			Key:              testaws.Key(store.TenantPK(tid), "APIKEY#"+id),
			UpdateExpression: aws.String("SET revokedAt = :at, expiresAt = :exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":at":  &types.AttributeValueMemberS{Value: st.Now().UTC().Format(time.RFC3339Nano)},
				":exp": &types.AttributeValueMemberN{Value: fmt.Sprint(st.Now().Add(30 * 24 * time.Hour).Unix())}}})
		if err != nil {
			t.Error(err)
		}
	}
	k, err := store.New(hook, tt.Data, tt.Archive).APIKey(ctx, tid, id)
	if err != nil || k.RevokedAt == nil {
		t.Fatalf("auth read of a key revoked during its move: %+v %v, want it revoked", k, err)
	}
	if hook.txs != 2 {
		t.Fatalf("%d move transactions, want 2 (the first cancelled)", hook.txs)
	}
	if _, ok := rawItem(t, tt, tt.Data, store.APIKeyPK(tid, id), store.SKAPIKey)["revokedAt"]; !ok {
		t.Fatal("the moved key lost its revoke")
	}
	if left := legacyKeys(t, tt, tid); len(left) != 0 {
		t.Fatalf("%d keys left in the tenant's partition", len(left))
	}
}

// TestAPIKey_TwoRequestsMoveAtOnce: two requests of a key not yet moved (two
// instances, the same agent) both find it; the one that moves second finds its
// transaction cancelled and reads the key at its new place.
func TestAPIKey_TwoRequestsMoveAtOnce(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	st := tt.Store()
	id := putLegacyKey(t, tt, tid, "agent", st.Now())
	var errB error
	hook := &hookDB{Client: tt.DB, only: moveTx}
	hook.before = func() { _, errB = st.APIKey(ctx, tid, id) }
	k, err := store.New(hook, tt.Data, tt.Archive).APIKey(ctx, tid, id)
	if err != nil || errB != nil || k.ID != id {
		t.Fatalf("A: %+v %v; B: %v", k, err, errB)
	}
	if hook.txs != 1 {
		t.Fatalf("A wrote %d move transactions, want 1", hook.txs)
	}
	if left := legacyKeys(t, tt, tid); len(left) != 0 {
		t.Fatalf("%d keys left in the tenant's partition", len(left))
	}
}

// laggingIndex answers every Query of GSI1 as an index that has not caught up
// yet with any key: no items.
type laggingIndex struct{ store.Client }

func (l laggingIndex) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if aws.ToString(in.IndexName) == "GSI1" {
		return &dynamodb.QueryOutput{}, nil
	}
	return l.Client.Query(ctx, in, opts...)
}

// TestRevokeAPIKey_WitnessTheIndexDoesNotShowYet: the key list in GSI1 is
// eventually consistent. An owner key moved by the revoke itself is checked
// directly, so it is a witness before the index shows it; an owner key created
// a moment before that the index does not show yet is not found: the revoke
// is refused as if it were the last (never the other way round), and succeeds
// once the index shows the key.
func TestRevokeAPIKey_WitnessTheIndexDoesNotShowYet(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	lagging := store.New(laggingIndex{tt.DB}, tt.Data, tt.Archive)
	now := st.Now()

	tid := ids.New(ids.Tenant)
	a, b := putLegacyKey(t, tt, tid, "owner", now), putLegacyKey(t, tt, tid, "owner", now)
	if err := revoke(lagging, tid, a); err != nil {
		t.Fatalf("revoke with a witness moved by the revoke: %v", err)
	}
	if err := revoke(lagging, tid, b); chat.ErrorCode(err) != chat.EConflict {
		t.Fatalf("revoke the last owner key: %v, want a conflict", err)
	}

	tid = ids.New(ids.Tenant)
	a = putKey(t, st, tid, "owner", now)
	putKey(t, st, tid, "owner", now) // created a moment before: the index does not show it yet
	if err := revoke(lagging, tid, a); chat.ErrorCode(err) != chat.EConflict {
		t.Fatalf("revoke while the index shows no other owner key: %v, want a conflict", err)
	}
	if err := revoke(st, tid, a); err != nil {
		t.Fatalf("the same revoke once the index shows the key: %v", err)
	}
	if n := liveOwnerKeys(t, st, tid); n != 1 {
		t.Fatalf("%d live owner keys, want 1", n)
	}
}
