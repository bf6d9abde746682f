package store_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
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

// identity is one suppressed (or not) identifier of a subject.
type identity struct{ kind, value string }

func (id identity) String() string { return id.kind + " " + id.value }

func hashOf(t *testing.T, st *store.Store, tenantID string, id identity) string {
	t.Helper()
	h, err := st.SubjectHash(tenantID, id.kind, id.value)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// shardOf is the partition key of the identity's entry.
func shardOf(t *testing.T, st *store.Store, tenantID string, id identity) string {
	t.Helper()
	return store.SuppressPK(tenantID, hashOf(t, st, tenantID, id))
}

// putLegacy writes a suppression entry as the code before sharding did, in the
// tenant's one partition T#t#SUPPRESS, and returns it. No legacy entry has
// index attributes; the GSI1 keys here show that the move keeps them too.
func putLegacy(t *testing.T, tt *testaws.Tables, st *store.Store, tenantID string, id identity) map[string]types.AttributeValue {
	t.Helper()
	h := hashOf(t, st, tenantID, id)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{
		"PK": s(store.LegacySuppressPK(tenantID)), "SK": s(id.kind + "#" + h),
		"dataClass": s(string(retention.Personal)), "entity": s("suppression"),
		"expiresAt": &types.AttributeValueMemberN{Value: fmt.Sprint(retention.ExpiresAt(retention.Maximums, retention.Personal, st.Now()))},
		"kind":      s(id.kind), "hash": s(h), "requestId": s("r-old"), "createdAt": s(store.TimeKey(st.Now())),
		"GSI1PK": s(store.TenantPrefix(tenantID) + "LEGACY"), "GSI1SK": s(h),
	}
	if _, err := tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &tt.Data, Item: item}); err != nil {
		t.Fatal(err)
	}
	return item
}

// legacyLeft counts the items of the tenant's legacy suppression partition.
func legacyLeft(t *testing.T, tt *testaws.Tables, tenantID string) int {
	t.Helper()
	res, err := tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &tt.Data, KeyConditionExpression: aws.String("PK = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.LegacySuppressPK(tenantID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

// markSharded records the move as done, as retention-sweep does after a
// complete pass.
func markSharded(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.BeginSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishSuppressMigration(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantSuppressed(t *testing.T, st *store.Store, tenantID string, id identity, want bool) {
	t.Helper()
	got, err := st.IsSuppressed(context.Background(), tenantID, id.kind, id.value)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%s suppressed: %v, want %v", id, got, want)
	}
}

// wantReads checks that the calls since the meter's reset were GetItems of
// exactly the partitions given, with their read units.
func wantReads(t *testing.T, m *testaws.Meter, what string, want map[string]testaws.Units) {
	t.Helper()
	got := map[string]testaws.Units{}
	for p, u := range m.ByPartition() {
		k := p.Key
		if p.Index != "" {
			k = p.Index + ":" + k
		}
		got[k] = testaws.Units{Read: u.Read, Write: u.Write}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: read %v, want %v", what, got, want)
	}
	// One GetItem per partition.
	if calls, _, _ := m.Snapshot(); fmt.Sprint(calls) != fmt.Sprintf("map[GetItem:%d]", len(want)) {
		t.Errorf("%s: calls %v, want %d GetItem", what, calls, len(want))
	}
}

// A point read of a suppression entry is one strongly consistent GetItem of
// the entry's shard, T#t#SUPPRESS#<first three hex digits of its hmac>, hit or
// miss; each kind of identity is written there.
func TestIsSuppressed_OneGetItemOfTheEntrysShard(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	st := store.New(m.Client(testaws.Config(t)), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	markSharded(t, st)
	tid := ids.New(ids.Tenant)
	erased := []identity{
		{chat.SuppressContact, ids.New(ids.Contact)},
		{chat.SuppressEmail, "Gone@Example.com"},
		{chat.SuppressChannel, chat.ChannelIdentity("slack", "U123")},
	}
	for _, id := range erased {
		if err := st.Suppress(ctx, tid, id.kind, id.value, "r1"); err != nil {
			t.Fatal(err)
		}
		h := hashOf(t, st, tid, id)
		pk := store.SuppressPK(tid, h)
		if pk != "T#"+tid+"#SUPPRESS#"+h[:3] {
			t.Errorf("%s: shard %s", id, pk)
		}
		if it := rawItem(t, tt, tt.Data, pk, id.kind+"#"+h); it == nil || str(it, "hash") != h {
			t.Errorf("%s: no entry at %s: %v", id, pk, it)
		}
	}
	never := identity{chat.SuppressContact, ids.New(ids.Contact)}
	for _, c := range []struct {
		id   identity
		want bool
	}{{erased[0], true}, {erased[1], true}, {erased[2], true}, {never, false},
		{identity{chat.SuppressEmail, " gone@example.COM "}, true}} {
		m.Reset()
		wantSuppressed(t, st, tid, c.id, c.want)
		wantReads(t, m, c.id.String(), map[string]testaws.Units{shardOf(t, st, tid, c.id): {Read: 1}})
	}
	if n := legacyLeft(t, tt, tid); n != 0 {
		t.Errorf("%d items written to the legacy partition", n)
	}
}

// The scale case: a big tenant's widget asks for a session and opens a
// connection per page load, each checking the visitor's own id, and each
// archived message checks its contact. At the 10x scenario's largest tenant
// (docs/SCALE.md) that is about 365,000 checks a second; by the hash the
// busiest of the 4,096 shards takes well under 1,500 reads a second (half of
// one partition's 3,000 RCU; each check is a strongly consistent read of an
// item under 4 KB, 1 RCU, hit or miss). One partition key per tenant took all.
func TestSuppressPK_SpreadsABigTenantsChecksOver4096Shards(t *testing.T) {
	st := store.New(nil, "", "").WithSubjectKey(testaws.SubjectKey)
	tid := ids.New(ids.Tenant)
	const checks = 365_000
	per := map[string]int{}
	for range checks {
		h, err := st.SubjectHash(tid, chat.SuppressContact, ids.New(ids.Contact))
		if err != nil {
			t.Fatal(err)
		}
		per[store.SuppressPK(tid, h)]++
	}
	busiest := 0
	for _, n := range per {
		busiest = max(busiest, n)
	}
	t.Logf("%d checks over %d shards: busiest %d RCU/s, mean %d", checks, len(per), busiest, checks/len(per))
	if len(per) != 4096 || busiest > 1500 {
		t.Errorf("%d shards, busiest %d reads/s; want 4,096, at most 1,500", len(per), busiest)
	}
}

// Entries written before sharding (raw puts at T#t#SUPPRESS) are found until
// they are moved: a store that has not seen the migration marker reads the
// legacy key first and the shard only on a miss. MigrateSuppressions moves
// them, every attribute kept, and changes nothing more when run again. Once
// the sweep has recorded the move, a store that knows it reads the shard only;
// a store that read "not done" before trusts that for a minute, then reads
// the marker once and never again.
func TestSuppressions_LegacyEntriesFoundMovedThenOnlyTheShardIsRead(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	now := t0
	db := m.Client(testaws.Config(t))
	st := store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey).WithClock(clock(&now))
	tid := ids.New(ids.Tenant)
	old := []identity{
		{chat.SuppressContact, ids.New(ids.Contact)},
		{chat.SuppressEmail, "old@example.com"},
		{chat.SuppressChannel, chat.ChannelIdentity("slack", "U9")},
	}
	legacy := map[identity]map[string]types.AttributeValue{}
	for _, id := range old {
		legacy[id] = putLegacy(t, tt, st, tid, id)
	}
	lifted := identity{chat.SuppressEmail, "lifted@example.com"}
	putLegacy(t, tt, st, tid, lifted)
	never := identity{chat.SuppressContact, ids.New(ids.Contact)}
	legacyPK, marker := store.LegacySuppressPK(tid), store.MigrationsPK

	// Before the move. The first check reads the marker (eventually
	// consistent, absent), then the legacy key, which has the entry.
	m.Reset()
	wantSuppressed(t, st, tid, old[0], true)
	wantReads(t, m, "first check", map[string]testaws.Units{marker: {Read: 0.5}, legacyPK: {Read: 1}})
	// "Not done" is trusted for a minute: a miss reads the legacy key, then the shard.
	m.Reset()
	wantSuppressed(t, st, tid, never, false)
	wantReads(t, m, "a miss before the move", map[string]testaws.Units{legacyPK: {Read: 1}, shardOf(t, st, tid, never): {Read: 1}})
	for _, id := range old {
		wantSuppressed(t, st, tid, id, true)
	}
	// A legacy entry can be lifted.
	if ok, err := st.LiftSuppression(ctx, tid, lifted.kind, lifted.value); err != nil || !ok {
		t.Fatalf("lift of a legacy entry: %v %v", ok, err)
	}
	wantSuppressed(t, st, tid, lifted, false)

	// The move.
	moved, err := st.MigrateSuppressions(ctx, tid)
	if err != nil || moved != len(old) {
		t.Fatalf("moved %d, %v; want %d", moved, err, len(old))
	}
	if left := legacyLeft(t, tt, tid); left != 0 {
		t.Errorf("%d entries left in the legacy partition", left)
	}
	for id, item := range legacy {
		want := maps.Clone(item)
		want["PK"] = &types.AttributeValueMemberS{Value: shardOf(t, st, tid, id)}
		if got := rawItem(t, tt, tt.Data, shardOf(t, st, tid, id), str(item, "SK")); !reflect.DeepEqual(got, want) {
			t.Errorf("%s moved as\n%v\nwant\n%v", id, got, want)
		}
	}
	if moved, err := st.MigrateSuppressions(ctx, tid); err != nil || moved != 0 {
		t.Errorf("second move: %d %v, want nothing", moved, err)
	}
	// Still found: the legacy key misses, the shard has it.
	for _, id := range old {
		m.Reset()
		wantSuppressed(t, st, tid, id, true)
		wantReads(t, m, "after the move "+id.String(), map[string]testaws.Units{legacyPK: {Read: 1}, shardOf(t, st, tid, id): {Read: 1}})
	}

	// Another function instance, started before the sweep records the move.
	other := store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey).WithClock(clock(&now))
	wantSuppressed(t, other, tid, never, false)
	markSharded(t, st) // the sweep, through st: st knows at once
	for _, id := range append(old, never) {
		m.Reset()
		wantSuppressed(t, st, tid, id, id != never)
		wantReads(t, m, "after the marker "+id.String(), map[string]testaws.Units{shardOf(t, st, tid, id): {Read: 1}})
	}
	m.Reset()
	wantSuppressed(t, other, tid, old[1], true)
	wantReads(t, m, "other instance within the minute", map[string]testaws.Units{legacyPK: {Read: 1}, shardOf(t, st, tid, old[1]): {Read: 1}})
	now = now.Add(store.SuppressMarkerRecheck)
	m.Reset()
	wantSuppressed(t, other, tid, old[1], true)
	wantReads(t, m, "other instance a minute later", map[string]testaws.Units{marker: {Read: 0.5}, shardOf(t, st, tid, old[1]): {Read: 1}})
	now = now.Add(time.Hour)
	m.Reset()
	wantSuppressed(t, other, tid, old[2], true)
	wantReads(t, m, "other instance afterwards", map[string]testaws.Units{shardOf(t, st, tid, old[2]): {Read: 1}})
	// A fresh instance reads the marker once.
	fresh := store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey).WithClock(clock(&now))
	m.Reset()
	wantSuppressed(t, fresh, tid, never, false)
	wantSuppressed(t, fresh, tid, old[0], true)
	wantReads(t, m, "a new instance", map[string]testaws.Units{marker: {Read: 0.5}, shardOf(t, st, tid, never): {Read: 1}, shardOf(t, st, tid, old[0]): {Read: 1}})
	// A lift is then one delete, in the shard.
	m.Reset()
	if ok, err := fresh.LiftSuppression(ctx, tid, old[0].kind, old[0].value); err != nil || !ok {
		t.Fatalf("lift: %v %v", ok, err)
	}
	if calls, _, _ := m.Snapshot(); fmt.Sprint(calls) != "map[DeleteItem:1]" {
		t.Errorf("a lift after the move made %v, want one DeleteItem", calls)
	}
	wantSuppressed(t, fresh, tid, old[0], false)
}

// moveBefore returns a HookDB hook that runs fn once, before the first call
// for which match is true (the interleaving of another Lambda instance).
func moveBefore(match func(call string, in any) bool, fn func()) func(context.Context, string, any) error {
	var once sync.Once
	return func(_ context.Context, call string, in any) error {
		if match(call, in) {
			once.Do(fn)
		}
		return nil
	}
}

func getOf(pk string) func(string, any) bool {
	return func(call string, in any) bool {
		g, ok := in.(*dynamodb.GetItemInput)
		return ok && str(g.Key, "PK") == pk
	}
}

func deleteOf(pk string) func(string, any) bool {
	return func(call string, in any) bool {
		d, ok := in.(*dynamodb.DeleteItemInput)
		return ok && str(d.Key, "PK") == pk
	}
}

func isTransaction(call string, _ any) bool { return call == "TransactWriteItems" }

// Every interleaving of a move with the calls of a check, a lift or a new
// suppression of the same identity (another function instance runs between
// two DynamoDB calls; HookDB makes it deterministic): a check never misses
// the entry, a lift stays lifted and says it lifted, a new suppression is
// kept, and the legacy partition ends empty.
func TestMigrateSuppressions_InterleavedWithChecksLiftsAndSuppressions(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name string
		// run is the operation of the other instance; match picks the call
		// before which the move runs, among run's calls, or, with inMove,
		// the call of the move before which run runs.
		run    func(t *testing.T, st *store.Store, tid string, id identity)
		match  func(st *store.Store, tid string, id identity) func(string, any) bool
		inMove bool
		want   bool // suppressed at the end
	}
	check := func(t *testing.T, st *store.Store, tid string, id identity) { wantSuppressed(t, st, tid, id, true) }
	lift := func(t *testing.T, st *store.Store, tid string, id identity) {
		if ok, err := st.LiftSuppression(ctx, tid, id.kind, id.value); err != nil || !ok {
			t.Errorf("lift: %v %v, want lifted", ok, err)
		}
	}
	suppress := func(t *testing.T, st *store.Store, tid string, id identity) {
		if err := st.Suppress(ctx, tid, id.kind, id.value, "r-new"); err != nil {
			t.Fatal(err)
		}
	}
	legacyGet := func(_ *store.Store, tid string, _ identity) func(string, any) bool {
		return getOf(store.LegacySuppressPK(tid))
	}
	legacyDelete := func(_ *store.Store, tid string, _ identity) func(string, any) bool {
		return deleteOf(store.LegacySuppressPK(tid))
	}
	shardDelete := func(st *store.Store, tid string, id identity) func(string, any) bool {
		return deleteOf(store.SuppressPK(tid, mustHash(st, tid, id)))
	}
	moveTx := func(*store.Store, string, identity) func(string, any) bool { return isTransaction }
	for _, s := range []step{
		// The legacy read finds the entry, or the move has put it in its
		// shard already (a check reading the shard first would miss it here).
		{name: "check: move before the legacy read", run: check, match: legacyGet, want: true},
		{name: "lift: move before the legacy delete", run: lift, match: legacyDelete, want: false},
		{name: "lift: move between the legacy and the shard delete", run: lift, match: shardDelete, want: false},
		{name: "lift: between the move's query and its transaction", run: lift, match: moveTx, inMove: true, want: false},
		{name: "suppress: between the move's query and its transaction", run: suppress, match: moveTx, inMove: true, want: true},
		{name: "suppress: move first", run: suppress, match: func(*store.Store, string, identity) func(string, any) bool {
			return func(call string, _ any) bool { return call == "PutItem" }
		}, want: true},
	} {
		t.Run(s.name, func(t *testing.T) {
			tt := testaws.NewTables(t)
			hook := &testaws.HookDB{Client: tt.DB}
			st := store.New(hook, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
			plain := tt.Store() // the other instance: no hook
			tid := ids.New(ids.Tenant)
			id := identity{chat.SuppressContact, ids.New(ids.Contact)}
			putLegacy(t, tt, st, tid, id)
			moved := 0
			move := func() {
				n, err := plain.MigrateSuppressions(ctx, tid)
				if err != nil {
					t.Error(err)
				}
				moved += n
			}
			ran := false
			if s.inMove {
				hook.Hook = moveBefore(s.match(st, tid, id), func() { ran = true; s.run(t, plain, tid, id) })
				n, err := st.MigrateSuppressions(ctx, tid)
				if err != nil {
					t.Fatal(err)
				}
				moved += n
			} else {
				hook.Hook = moveBefore(s.match(st, tid, id), func() { ran = true; move() })
				s.run(t, st, tid, id)
			}
			if !ran {
				t.Fatal("the interleaving did not happen")
			}
			hook.Hook = nil
			move() // whatever is left
			if left := legacyLeft(t, tt, tid); left != 0 {
				t.Errorf("%d entries left in the legacy partition", left)
			}
			if moved > 1 {
				t.Errorf("the entry was moved %d times", moved)
			}
			markSharded(t, plain) // plain now reads the shard only
			wantSuppressed(t, plain, tid, id, s.want)
		})
	}
}

// A move whose answer was lost after DynamoDB applied it, sent again by the
// SDK (DynamoDB answers that retry from the request's idempotency token; moto
// finds both conditions failed): the entry counts as moved, once.
func TestMigrateSuppressions_ARetriedMoveCountsOnce(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	hook := &testaws.HookDB{Client: tt.DB}
	st := store.New(hook, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	tid := ids.New(ids.Tenant)
	entries := []identity{{chat.SuppressContact, ids.New(ids.Contact)}, {chat.SuppressContact, ids.New(ids.Contact)}}
	for _, id := range entries {
		putLegacy(t, tt, st, tid, id)
	}
	applied := 0
	hook.Hook = func(ctx context.Context, call string, in any) error {
		if tx, ok := in.(*dynamodb.TransactWriteItemsInput); ok && applied == 0 {
			applied++
			if _, err := tt.DB.TransactWriteItems(ctx, tx); err != nil { // the first attempt, answer lost
				t.Fatal(err)
			}
		}
		return nil
	}
	moved, err := st.MigrateSuppressions(ctx, tid)
	if err != nil || moved != 2 || applied != 1 {
		t.Fatalf("moved %d, %v (retried %d); want 2", moved, err, applied)
	}
	markSharded(t, st)
	for _, id := range entries {
		wantSuppressed(t, st, tid, id, true)
	}
}

func mustHash(st *store.Store, tid string, id identity) string {
	h, err := st.SubjectHash(tid, id.kind, id.value)
	if err != nil {
		panic(err)
	}
	return h
}

// Moves running at once (two sweeps) with new suppressions, checks and lifts
// from other instances, each DynamoDB call applied atomically (HookDB
// serializes them: moto is not thread-safe) but the callers interleaving
// freely: nothing is lost, nothing lifted comes back, every legacy entry is
// moved exactly once, and no check of an erased identity ever answers no.
func TestMigrateSuppressions_ConcurrentWithSuppressionsLosesNothing(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	db := &testaws.HookDB{Client: tt.DB, Serialize: true}
	instance := func() *store.Store { return store.New(db, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey) }
	tid := ids.New(ids.Tenant)
	const n = 60
	var old, fresh, lifted []identity
	for i := range n {
		id := identity{chat.SuppressContact, ids.New(ids.Contact)}
		if i%3 == 1 {
			id = identity{chat.SuppressEmail, fmt.Sprintf("old%d@example.com", i)}
		}
		putLegacy(t, tt, instance(), tid, id)
		if i%10 == 0 {
			lifted = append(lifted, id)
		} else {
			old = append(old, id)
		}
		fresh = append(fresh, identity{chat.SuppressContact, ids.New(ids.Contact)})
	}
	var wg sync.WaitGroup
	movers := make([]int, 2)
	for i := range movers {
		wg.Go(func() {
			k, err := instance().MigrateSuppressions(ctx, tid)
			if err != nil {
				t.Error(err)
			}
			movers[i] = k
		})
	}
	wg.Go(func() { // an erasure of new identities, and of some old ones again
		st := instance()
		for i, id := range fresh {
			if err := st.Suppress(ctx, tid, id.kind, id.value, "r-new"); err != nil {
				t.Error(err)
			}
			if i%4 == 0 {
				if err := st.Suppress(ctx, tid, old[i%len(old)].kind, old[i%len(old)].value, "r-again"); err != nil {
					t.Error(err)
				}
			}
		}
	})
	wg.Go(func() { // the owner lifts some
		st := instance()
		for _, id := range lifted {
			if ok, err := st.LiftSuppression(ctx, tid, id.kind, id.value); err != nil || !ok {
				t.Errorf("lift %s: %v %v", id, ok, err)
			}
		}
	})
	wg.Go(func() { // connections of erased visitors keep coming
		st := instance()
		for range 2 {
			for _, id := range old {
				if ok, err := st.IsSuppressed(ctx, tid, id.kind, id.value); err != nil || !ok {
					t.Errorf("check of %s during the move: %v %v", id, ok, err)
				}
			}
		}
	})
	wg.Wait()
	// Every entry not lifted was moved, by one mover or both (an identical
	// copy found in the shard counts for both).
	moved := movers[0] + movers[1]
	if moved < len(old) || movers[0] > n || movers[1] > n {
		t.Errorf("moved %v entries, want at least %d together, at most %d each", movers, len(old), n)
	}
	if left := legacyLeft(t, tt, tid); left != 0 {
		t.Errorf("%d entries left in the legacy partition", left)
	}
	st := instance()
	markSharded(t, st)
	for _, id := range append(old, fresh...) {
		wantSuppressed(t, st, tid, id, true)
	}
	for _, id := range lifted {
		wantSuppressed(t, st, tid, id, false)
	}
	t.Logf("%d legacy entries (%d lifted meanwhile), %v moved, %d new", n, len(lifted), movers, len(fresh))
}
