package privacy_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// The record of who asked for an erasure, and when it was done, lasts at
// least as long as the erasure's tombstone (1,095 days from the request's
// receipt), whatever the tenant's technical period; the rest of the audit
// trail (reads) stays technical data. The steps of a request take time, so
// the test makes them seconds apart.
func TestAudit_PrivacyTrailLastsAsLongAsTheTombstone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.tenant.Retention = retention.Periods{TechnicalDays: 7}
	p := f.seed(f.tenant, "ann."+strings.ToLower(ids.Secret(4))+"@example.com", 2)
	// Each reading of the clock is a second later: receipt, start and
	// completion fall on different seconds, as they do in production.
	var mu sync.Mutex
	tick := time.Now()
	f.st = f.st.WithClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Second)
		return tick
	})
	f.svc.Store, f.eraser.Store = f.st, f.st
	r, err := f.create(chat.PrivacyErase, chat.PrivacySubject{ContactID: p.contactID})
	if err != nil || r.Status != chat.PrivacyCompleted {
		t.Fatalf("erase: %+v %v", r, err)
	}
	tomb := f.expiresAt(store.PrivacyPK(f.tenant.ID), "TOMB#"+r.ID)
	if want := r.ReceivedAt.Add(1095 * 24 * time.Hour).Unix(); tomb != want {
		t.Fatalf("tombstone expires %d, want %d", tomb, want)
	}
	actions := map[string]bool{}
	for _, pk := range store.AuditPartitions(f.tenant.ID) {
		res, err := f.tt.DB.Query(ctx, &dynamodb.QueryInput{TableName: &f.tt.Data, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			action, exp := str(it["action"]), num(it["expiresAt"])
			actions[action] = true
			if exp < tomb {
				t.Errorf("audit event %s expires %s, before the tombstone (%s)", action,
					time.Unix(exp, 0).UTC().Format(time.DateOnly), time.Unix(tomb, 0).UTC().Format(time.DateOnly))
			}
		}
	}
	for _, a := range []string{"privacy.erase.receive", "privacy.erase.start", "privacy.erase.complete"} {
		if !actions[a] {
			t.Errorf("no audit event %s (have %v)", a, actions)
		}
	}
	// A read of the audit trail, by contrast, is technical data.
	ev := &chat.AuditEvent{ID: ids.New(ids.Event), TenantID: f.tenant.ID, At: time.Now().UTC(), Action: "conversation.read"}
	if err := f.st.PutAuditEvent(ctx, ev, f.tenant.Periods()); err != nil {
		t.Fatal(err)
	}
	if got, want := f.expiresAt(store.AuditPK(f.tenant.ID, ev.ID), "EVT#"+store.TimeKey(ev.At)+"#"+ev.ID), ev.At.Add(7*24*time.Hour).Unix(); got != want {
		t.Fatalf("a read's audit event expires %d, want %d (technical, 7 days)", got, want)
	}
}

func (f *fixture) expiresAt(pk, sk string) int64 {
	f.t.Helper()
	res, err := f.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &f.tt.Data,
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil || res.Item == nil {
		f.t.Fatalf("item %s/%s: %v", pk, sk, err)
	}
	return num(res.Item["expiresAt"])
}

func num(v types.AttributeValue) int64 {
	n, _ := v.(*types.AttributeValueMemberN)
	if n == nil {
		return 0
	}
	x, _ := strconv.ParseInt(n.Value, 10, 64)
	return x
}
