package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

func TestPutMessage_DuplicateClientIDStoresOnce(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	_, cvID, err := st.OpenConversation(ctx, tid, vid, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	send := func() (*chat.Message, bool) {
		m, created, err := st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: cvID, ContactID: vid,
			Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "hello", Channel: chat.ChannelWidget, ClientMessageID: "c1"}, retention.Defaults)
		if err != nil {
			t.Fatal(err)
		}
		return m, created
	}
	first, created := send()
	if !created {
		t.Fatal("first send not created")
	}
	again, created := send()
	if created || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("resend: created=%v id=%s want %s", created, again.ID, first.ID)
	}
	msgs, _, err := st.History(ctx, tid, cvID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("history has %d messages, want 1", len(msgs))
	}
}

func TestTouchConversation_MovesActivityAndExpiryForward(t *testing.T) {
	tt, st, tid, cvID, t0 := openedConversation(t)
	ctx := context.Background()
	later := t0.Add(48 * time.Hour)
	for _, at := range []time.Time{later, t0.Add(time.Hour)} { // the older touch must not win
		if _, err := st.TouchConversation(ctx, tid, cvID, at, time.Unix(retention.ExpiresAt(retention.Defaults, retention.Communication, at), 0), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	cv, err := st.Conversation(ctx, tid, cvID)
	if err != nil {
		t.Fatal(err)
	}
	if !cv.LastActivityAt.Equal(later) {
		t.Fatalf("lastActivityAt %v, want %v", cv.LastActivityAt, later)
	}
	res, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &tt.Data, Key: testaws.Key(store.ConversationPK(tid, cvID), store.SKMeta)})
	if err != nil {
		t.Fatal(err)
	}
	var it store.Base
	attributevalue.UnmarshalMap(res.Item, &it)
	// Rounded up to the end of the day: moved once a day, never early.
	if want := retention.ExpiresAt(retention.Defaults, retention.Communication, store.DayEnd(later)); it.ExpiresAt != want {
		t.Fatalf("expiresAt %d, want %d", it.ExpiresAt, want)
	}
	if it.GSI2PK != store.RetentionKey(tid, "communication", store.DayEnd(later), store.ConversationPK(tid, cvID)) || it.GSI2SK != store.RetentionSort(store.DayEnd(later), store.ConversationPK(tid, cvID)) {
		t.Fatalf("retention index key %s not moved", it.GSI2PK)
	}
}

// TestOpenConversation_RacingFirstMessagesOpenOne plays n first messages of a
// visitor in n Lambda instances that all read the contact before any of them
// writes: each opener, about to write, waits while the next one runs (moto
// cannot run transactions concurrently: a failed one restores a copy of the
// whole table taken before it began). The last writes first; every other
// opener's condition fails, and it returns that conversation.
func TestOpenConversation_RacingFirstMessagesOpenOne(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	const n = 4
	got := make([]string, n)
	var open func(i int)
	open = func(i int) {
		next := i+1 < n
		hook := &testaws.HookDB{Client: tt.DB, Hook: func(_ context.Context, call string, _ any) error {
			if call == "TransactWriteItems" && next {
				next = false
				open(i + 1)
			}
			return nil
		}}
		_, id, err := store.New(hook, tt.Data, tt.Archive).OpenConversation(ctx, tid, vid, chat.ChannelWidget, retention.Defaults)
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
		got[i] = id
	}
	open(0)
	for i := range got {
		if got[i] != got[n-1] {
			t.Fatalf("racing openers got conversations %v, want one", got)
		}
	}
	if s := readVisitor(t, tt, tid, vid); len(s.conversations) != 1 || s.contact.OpenConversationID != got[0] {
		t.Fatalf("open conversations %v, contact names %s", s.conversations, s.contact.OpenConversationID)
	}
}

func TestPutTenant_RetriedCreateIsNoConflictButATakenIDIs(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	id := ids.New(ids.Tenant)
	tn := &chat.Tenant{ID: id, Name: "A", WidgetKey: "wk_" + id + "_x", Status: "active", CreatedAt: time.Now().UTC()}
	if err := st.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	// The same write again, as an SDK retry after a lost answer sends it.
	if err := st.PutTenant(ctx, tn); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	other := *tn
	other.Name, other.WidgetKey = "B", "wk_"+id+"_y"
	if err := st.PutTenant(ctx, &other); chat.ErrorCode(err) != chat.EConflict {
		t.Fatalf("taken id: %v, want conflict", err)
	}
	got, _ := st.Tenant(ctx, id)
	if got.Name != "A" {
		t.Fatalf("tenant overwritten: %+v", got)
	}
}

func TestHistory_PagesBackwardsWithoutGapsOrRepeats(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	_, cvID, err := st.OpenConversation(ctx, tid, vid, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, _, err := st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: cvID, ContactID: vid,
			Author: chat.Author{Kind: chat.AuthorVisitor}, Text: string(rune('a' + i)), Channel: chat.ChannelWidget}, retention.Defaults); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		msgs, next, err := st.History(ctx, tid, cvID, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range msgs {
			texts = append(texts, m.Text)
		}
		got = append(texts, got...) // each page is older than the last
		if next == "" || page > 5 {
			break
		}
		cursor = next
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("paged history %v, want a..e once each, oldest first", got)
	}
	if _, _, err := st.History(ctx, tid, cvID, "bm90LWEtbWVzc2FnZQ", 2); chat.ErrorCode(err) != chat.EInvalid {
		t.Fatalf("foreign cursor: %v, want invalid", err)
	}
}

// A message written under a tenant-wide legal hold has no retention end; its
// conversation is touched all the same (the inbox moves) and kept without one.
func TestTouchConversation_WithoutAnEndKeepsTheConversation(t *testing.T) {
	tt, st, tid, cvID, t0 := openedConversation(t)
	ctx := context.Background()
	later := t0.Add(time.Hour)
	recorded, err := st.TouchConversation(ctx, tid, cvID, later, time.Time{}, time.Minute)
	if err != nil || !recorded.Equal(later) {
		t.Fatalf("touch: %v %v, want %v recorded", recorded, err, later)
	}
	res, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &tt.Data, Key: testaws.Key(store.ConversationPK(tid, cvID), store.SKMeta)})
	if err != nil {
		t.Fatal(err)
	}
	var it store.Base
	attributevalue.UnmarshalMap(res.Item, &it)
	if it.ExpiresAt != 0 || it.GSI2PK != store.RetentionKey(tid, "communication", later, store.ConversationPK(tid, cvID)) {
		t.Fatalf("expiresAt %d (want none), retention key %s", it.ExpiresAt, it.GSI2PK)
	}
	// A touch within the step is refused and reports what is recorded.
	if recorded, err := st.TouchConversation(ctx, tid, cvID, later.Add(time.Second), time.Time{}, time.Minute); err != nil || !recorded.Equal(later) {
		t.Fatalf("touch within the step: %v %v", recorded, err)
	}
}

// A touch refused for being within the step reports the activity recorded,
// read from the refused write's old image (no read of its own).
func TestTouchConversation_RefusedReportsTheRecordedActivity(t *testing.T) {
	_, st, tid, cvID, t0 := openedConversation(t)
	ctx := context.Background()
	keep := func(at time.Time) time.Time {
		return time.Unix(retention.ExpiresAt(retention.Defaults, retention.Communication, at), 0)
	}
	moved := t0.Add(time.Hour).Add(123456 * time.Microsecond)
	if got, err := st.TouchConversation(ctx, tid, cvID, moved, keep(moved), time.Minute); err != nil || !got.Equal(moved) {
		t.Fatalf("touch: %v %v", got, err)
	}
	soon := moved.Add(30 * time.Second)
	if got, err := st.TouchConversation(ctx, tid, cvID, soon, keep(soon), time.Minute); err != nil || !got.Equal(moved) {
		t.Fatalf("touch within the step reported %v (%v), want %v", got, err, moved)
	}
}

// openedConversation opens a widget conversation at t0 (2026-01-01) in fresh
// tables, with the store's clock stopped there.
func openedConversation(t *testing.T) (*testaws.Tables, *store.Store, string, string, time.Time) {
	t.Helper()
	tt := testaws.NewTables(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := tt.Store().WithClock(func() time.Time { return t0 })
	tid, vid := ids.New(ids.Tenant), ids.New(ids.Contact)
	_, cvID, err := st.OpenConversation(context.Background(), tid, vid, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	return tt, st, tid, cvID, t0
}
