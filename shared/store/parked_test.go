package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Parked deliveries: parking twice keeps the first; the tenant's partition
// answers whether any are parked; the index lists every tenant's, each
// tenant's together in conversation and message order; the message is read
// back by its key, and unparking removes it.
func TestParkedDeliveries(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clock := t0
	st = st.WithClock(func() time.Time { return clock })
	tenantA, tenantB := "t0000000000000000000000000a", "t0000000000000000000000000b"
	put := func(tenant, text string) *chat.Message {
		t.Helper()
		_, cv, err := st.OpenConversation(ctx, tenant, "c1", chat.ChannelWidget, retention.Defaults)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := st.PutMessage(ctx, &chat.Message{TenantID: tenant, ConversationID: cv, ContactID: "c1",
			Author: chat.Author{Kind: chat.AuthorVisitor}, Text: text, Channel: chat.ChannelWidget}, retention.Defaults)
		if err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
		return m
	}
	b1, a1, a2 := put(tenantB, "b1"), put(tenantA, "a1"), put(tenantA, "a2")
	firstParked := clock
	for _, m := range []*chat.Message{b1, a2, a1} {
		if err := st.ParkDelivery(ctx, "slack", m, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(time.Hour)
	if err := st.ParkDelivery(ctx, "slack", a1, retention.Defaults); err != nil { // again
		t.Fatal(err)
	}
	if has, err := st.HasParkedDeliveries(ctx, tenantA, "slack"); !has || err != nil {
		t.Fatalf("tenant A has parked: %v %v", has, err)
	}
	if has, _ := st.HasParkedDeliveries(ctx, tenantA, "email"); has {
		t.Fatal("another destination has parked deliveries")
	}
	var got []chat.ParkedDelivery
	if err := st.ParkedDeliveries(ctx, "slack", func(d chat.ParkedDelivery) bool { got = append(got, d); return true }); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, d := range got {
		m, err := st.ParkedMessage(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, m.Text)
		if m.Text == "a1" && !d.ParkedAt.Equal(firstParked) {
			t.Errorf("a1 parked at %v, want its first parking %v", d.ParkedAt, firstParked)
		}
	}
	// Each tenant's together and in order (tenants in the order of their
	// index shards).
	if got := strings.Join(texts, " "); got != "a1 a2 b1" && got != "b1 a1 a2" {
		t.Fatalf("listed %v, want a1 a2 (tenant A, in order) and b1", texts)
	}
	var forged chat.ParkedDelivery
	for _, d := range got {
		if d.TenantID == tenantB {
			forged = d
			continue
		}
		if err := st.UnparkDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if has, _ := st.HasParkedDeliveries(ctx, tenantA, "slack"); has {
		t.Error("tenant A still has parked deliveries")
	}
	if has, _ := st.HasParkedDeliveries(ctx, tenantB, "slack"); !has {
		t.Error("tenant B's parked delivery went too")
	}
	forged.MessageSK = "MSG#"
	if _, err := st.ParkedMessage(ctx, forged); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("a malformed message key: %v, want not found", err)
	}
}

// TestParkedDeliveries_IndexShardsAndTheOldLayout: tenants' parked deliveries
// spread over the index's shards (a tenant's all in the shard of its id), and
// a delivery parked before the index was sharded (its one partition) is still
// listed.
func TestParkedDeliveries_IndexShardsAndTheOldLayout(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	st := tt.Store()
	shards := map[string]bool{}
	var tenants []string
	for range 40 {
		tid := ids.New(ids.Tenant)
		tenants = append(tenants, tid)
		shards[store.ParkedIndexKey("slack", tid)] = true
	}
	if len(shards) < 30 {
		t.Fatalf("40 tenants in %d index shards: the shards do not spread", len(shards))
	}
	for _, tid := range tenants[:3] {
		m := &chat.Message{ID: ids.New(ids.Message), TenantID: tid, ConversationID: ids.New(ids.Conversation), CreatedAt: time.Now().UTC()}
		if err := st.ParkDelivery(ctx, "slack", m, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
	// As the build before sharding parked it: the index's one partition.
	old := tenants[3]
	item, err := attributevalue.MarshalMap(map[string]any{"PK": store.ParkedPK(old, "slack"), "SK": "cv1#MSG#x",
		"GSI1PK": store.TenantPrefix(store.PlatformID) + "PARKED#slack", "GSI1SK": old + "#cv1#MSG#x",
		"destination": "slack", "tenantId": old, "conversationId": "cv1", "messageSk": "MSG#x", "parkedAt": time.Now().UTC(),
		"dataClass": "technical", "entity": "parkedDelivery"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	if err := st.ParkedDeliveries(ctx, "slack", func(d chat.ParkedDelivery) bool { listed[d.TenantID]++; return true }); err != nil {
		t.Fatal(err)
	}
	for _, tid := range tenants[:4] {
		if listed[tid] != 1 {
			t.Errorf("tenant %s listed %d times, want once", tid, listed[tid])
		}
	}
	if len(listed) != 4 {
		t.Errorf("listed %d tenants, want 4", len(listed))
	}
}
