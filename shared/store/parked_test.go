package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Parked deliveries: parking twice keeps the first; the tenant's partition
// answers whether any are parked; the index lists every tenant's in tenant,
// conversation and message order; the message is read back by its key, and
// unparking removes it.
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
	if len(texts) != 3 || texts[0] != "a1" || texts[1] != "a2" || texts[2] != "b1" {
		t.Fatalf("listed %v, want a1 a2 (tenant A, in order) then b1", texts)
	}
	for _, d := range got[:2] {
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
	forged := got[2]
	forged.MessageSK = "MSG#"
	if _, err := st.ParkedMessage(ctx, forged); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("a malformed message key: %v, want not found", err)
	}
}
