package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/testaws"
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
	_ = time.Now
}
