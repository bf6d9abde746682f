package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// A message with a client message id and a sentAt is one conditional write:
// no dedupe marker, and every resend (from any connection, at any time,
// racing or not) finds the one message stored at the key sentAt names.
func TestPutMessage_SentAtKeysTheMessageWithOneWrite(t *testing.T) {
	tt := testaws.NewTables(t)
	meter := testaws.NewMeter()
	now := t0
	st := store.New(&testaws.HookDB{Client: meter.Client(testaws.Config(t))}, tt.Data, tt.Archive).WithClock(clock(&now))
	ctx := context.Background()
	tid, vid, cv := newConversation(t, st)
	sent := t0.Add(-3 * time.Second).Add(123 * time.Millisecond)
	msg := func(conn string) *chat.Message {
		m := visitorMessage(tid, vid, cv, "k1")
		m.SentAt, m.OriginConnectionID = sent, conn
		return m
	}
	meter.Reset()
	first, created, err := st.PutMessage(ctx, msg("connA"), retention.Defaults)
	if err != nil || !created {
		t.Fatalf("first send: created %v, %v", created, err)
	}
	if calls, _, write := meter.Snapshot(); calls["PutItem"] != 1 || len(calls) != 1 || write != 1 {
		t.Errorf("first send made %v for %.1f write units; want one PutItem of 1 unit", calls, write)
	}
	if !first.CreatedAt.Equal(sent) || !ids.Valid(ids.Message, first.ID) {
		t.Errorf("stored %s at %v; want a message id at the sentAt %v", first.ID, first.CreatedAt, sent)
	}
	// Resends: later, from other connections, and eight at once.
	now = t0.Add(10 * time.Minute)
	var wg sync.WaitGroup
	got := make([]*chat.Message, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() { got[i], _, errs[i] = st.PutMessage(ctx, msg("connB"), retention.Defaults) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].ID != first.ID || !got[i].CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("resend %d: %+v, %v; want the first message %s", i, got[i], errs[i], first.ID)
		}
	}
	items := messageItems(t, tt, tid, cv)
	if len(items) != 1 || str(items[0], "SK") != store.MessageSK(sent, first.ID) {
		t.Fatalf("stored %d messages, want the one at its sentAt key", len(items))
	}
	if rawItem(t, tt, tt.Data, store.ConversationPK(tid, cv), "CMID#k1") != nil {
		t.Error("a dedupe marker was written")
	}
	// The same client id at another sentAt is another message (the client
	// resends a message with its first sentAt).
	other := msg("connA")
	other.SentAt = sent.Add(time.Second)
	if m, created, err := st.PutMessage(ctx, other, retention.Defaults); err != nil || !created || m.ID == first.ID {
		t.Fatalf("another sentAt: %+v created %v, %v", m, created, err)
	}
}

// A sentAt ahead of the server's clock by more than MaxSentAhead, or older
// than MaxSentAge, is refused with a clear error and stores nothing.
func TestPutMessage_SentAtOutOfBoundsIsRefused(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(clock(&now))
	ctx := context.Background()
	tid, vid, cv := newConversation(t, st)
	for _, at := range []time.Time{t0.Add(store.MaxSentAhead + time.Second), t0.Add(-store.MaxSentAge - time.Second)} {
		m := visitorMessage(tid, vid, cv, "k2")
		m.SentAt = at
		if _, _, err := st.PutMessage(ctx, m, retention.Defaults); chat.ErrorCode(err) != chat.EInvalid {
			t.Errorf("sentAt %v: %v, want invalid", at.Sub(t0), err)
		}
	}
	for _, at := range []time.Time{t0.Add(store.MaxSentAhead), t0.Add(-store.MaxSentAge)} {
		m := visitorMessage(tid, vid, cv, "k3"+at.String())
		m.SentAt = at
		if _, _, err := st.PutMessage(ctx, m, retention.Defaults); err != nil {
			t.Errorf("sentAt %v (at the bound): %v", at.Sub(t0), err)
		}
	}
	// A tenant keeping messages a day: one sent a day ago would be gone at once.
	short := retention.Merge(retention.Periods{CommunicationDays: 1})
	m := visitorMessage(tid, vid, cv, "k4")
	m.SentAt = t0.Add(-store.MaxSentAge)
	if _, _, err := st.PutMessage(ctx, m, short); chat.ErrorCode(err) != chat.EInvalid {
		t.Errorf("a sentAt past the tenant's retention: %v, want invalid", err)
	}
	if n := len(messageItems(t, tt, tid, cv)); n != 2 {
		t.Errorf("stored %d messages, want the 2 within bounds", n)
	}
}
