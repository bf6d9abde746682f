package sweep_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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
	"github.com/livesupportbot/backend/shared/sweep"
)

// putLegacySuppression writes a suppression entry as the code before sharding
// did (T#t#SUPPRESS) and returns the visitor id it suppresses.
func (w *world) putLegacySuppression(t *testing.T, tenantID string) string {
	t.Helper()
	c := ids.New(ids.Contact)
	h, err := w.st.SubjectHash(tenantID, chat.SuppressContact, c)
	if err != nil {
		t.Fatal(err)
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{
		"PK": s(store.LegacySuppressPK(tenantID)), "SK": s(chat.SuppressContact + "#" + h),
		"dataClass": s(string(retention.Personal)), "entity": s("suppression"),
		"expiresAt": &types.AttributeValueMemberN{Value: fmt.Sprint(retention.ExpiresAt(retention.Maximums, retention.Personal, *w.now))},
		"kind":      s(chat.SuppressContact), "hash": s(h), "requestId": s("r-old"), "createdAt": s(store.TimeKey(*w.now)),
	}
	if _, err := w.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &w.tt.Data, Item: item}); err != nil {
		t.Fatal(err)
	}
	return c
}

// legacyLeft counts the items of the tenant's legacy suppression partition.
func (w *world) legacyLeft(t *testing.T, tenantID string) int {
	t.Helper()
	res, err := w.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &w.tt.Data, KeyConditionExpression: aws.String("PK = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.LegacySuppressPK(tenantID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

// The daily sweep moves every tenant's legacy suppression entries to their
// shards: active, held and closed accounts alike (a closed one's before its
// profile goes). It records the move as done only after a pass that visited
// every tenant and started at least an hour after the first pass (old code
// may still write legacy entries while the deployment finishes: such an
// entry is moved by a later pass), so a run that skips a leased tenant does
// not. Then stores read the shard only, and runs move nothing and read no
// legacy partition.
func TestSweep_MovesLegacySuppressionsAndRecordsTheMoveAfterASettledCompletePass(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	active := w.tenant(t, retention.Periods{})
	held := w.tenant(t, retention.Periods{})
	if err := w.st.SetTenantHold(ctx, held.ID, true); err != nil {
		t.Fatal(err)
	}
	closed := w.tenant(t, retention.Periods{ClosedGraceDays: 30})
	*w.now = t0.Add(-60 * day)
	if err := w.st.CloseTenant(ctx, closed.ID); err != nil {
		t.Fatal(err)
	}
	*w.now = t0
	erased := map[string][]string{}
	for _, ten := range []*chat.Tenant{active, held, closed} {
		for range 3 {
			erased[ten.ID] = append(erased[ten.ID], w.putLegacySuppression(t, ten.ID))
		}
	}
	run := func(at time.Time, owner string) *sweep.Summary {
		t.Helper()
		*w.now = at
		sum, err := w.sweeper(sweep.Options{Owner: owner}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	checkAll := func(st *store.Store) {
		t.Helper()
		for tid, cs := range erased {
			for _, c := range cs {
				if ok, err := st.IsSuppressed(ctx, tid, chat.SuppressContact, c); err != nil || !ok {
					t.Errorf("%s of %s: suppressed %v %v, want true", c, tid, ok, err)
				}
			}
		}
	}

	sum := run(t0, "first")
	if sum.SuppressionsMoved != 9 || sum.SuppressionsSharded {
		t.Fatalf("first pass: moved %d, sharded %v; want 9 moved, not recorded; log:\n%s", sum.SuppressionsMoved, sum.SuppressionsSharded, w.log)
	}
	for tid := range erased {
		if n := w.legacyLeft(t, tid); n != 0 {
			t.Errorf("%s: %d legacy entries left", tid, n)
		}
	}
	if _, err := w.st.TenantRecord(ctx, closed.ID); err == nil {
		t.Error("the closed account was not deleted (the test wants its entries moved first)")
	}
	checkAll(w.tt.Store().WithClock(func() time.Time { return *w.now }))

	// An old instance, still running while the deployment finishes, erases one more.
	*w.now = t0.Add(10 * time.Minute)
	erased[active.ID] = append(erased[active.ID], w.putLegacySuppression(t, active.ID))
	sum = run(t0.Add(30*time.Minute), "retry")
	if sum.SuppressionsMoved != 1 || sum.SuppressionsSharded {
		t.Fatalf("a pass within the hour: moved %d, sharded %v; want 1, not recorded", sum.SuppressionsMoved, sum.SuppressionsSharded)
	}

	// The next day, but another run holds a tenant's lease: not recorded.
	if st, err := w.st.AcquireSweep(ctx, active.ID, "other", t0.Add(day+10*time.Minute)); err != nil || st == nil {
		t.Fatalf("lease: %v %v", st, err)
	}
	if sum = run(t0.Add(day), "second"); sum.Skipped != 1 || sum.SuppressionsSharded {
		t.Fatalf("a pass that skipped a tenant: skipped %d, sharded %v", sum.Skipped, sum.SuppressionsSharded)
	}
	if sum = run(t0.Add(day+11*time.Minute), "third"); !sum.SuppressionsSharded || sum.SuppressionsMoved != 0 {
		t.Fatalf("a complete pass a day later: moved %d, sharded %v; want recorded", sum.SuppressionsMoved, sum.SuppressionsSharded)
	}

	// Now: a new function instance reads the marker once, then only shards;
	// a run reads no legacy partition.
	m := testaws.NewMeter()
	metered := store.New(m.Client(testaws.Config(t)), w.tt.Data, w.tt.Archive).WithSubjectKey(testaws.SubjectKey).
		WithClock(func() time.Time { return *w.now })
	checkAll(metered)
	for k := range m.ByPartition() {
		if strings.HasSuffix(k.Key, "#SUPPRESS") {
			t.Errorf("a check after the move read %s", k)
		}
	}
	m.Reset()
	*w.now = t0.Add(2 * day)
	sum, err := sweep.New(sweep.Deps{Store: metered, Log: slog.New(slog.NewJSONHandler(w.log, nil)), Options: sweep.Options{Owner: "fourth"}}).Run(ctx)
	if err != nil || !sum.SuppressionsSharded || sum.SuppressionsMoved != 0 {
		t.Fatalf("a run after the move: %+v %v", sum, err)
	}
	for k := range m.ByPartition() {
		if strings.HasSuffix(k.Key, "#SUPPRESS") {
			t.Errorf("a run after the move read %s", k)
		}
	}
}
