package store_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// A history cursor is taken only in its exact form and only by the conversation
// that minted it: anything else is invalid and reads nothing. Before cursors
// were checked, one ending in byte 0 wrapped round and returned newer messages,
// and "MSG#" or an over-long key built a query DynamoDB rejects (internal).
func TestHistory_BadCursorsAreInvalid(t *testing.T) {
	st := testaws.NewTables(t).Store()
	ctx := context.Background()
	tid := ids.New(ids.Tenant)
	conv := func() string {
		_, cv, err := st.OpenConversation(ctx, tid, ids.New(ids.Contact), chat.ChannelWidget, retention.Defaults)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, _, err := st.PutMessage(ctx, &chat.Message{TenantID: tid, ConversationID: cv, ContactID: "c",
				Author: chat.Author{Kind: chat.AuthorVisitor}, Text: string(rune('a' + i)), Channel: chat.ChannelWidget}, retention.Defaults); err != nil {
				t.Fatal(err)
			}
		}
		return cv
	}
	cvA, cvB := conv(), conv()
	// B's own cursor: a well-formed cursor, of another conversation.
	_, cursorB, err := st.History(ctx, tid, cvB, "", 1)
	if err != nil || cursorB == "" {
		t.Fatalf("B's first page: %q %v", cursorB, err)
	}
	msgs, _, err := st.History(ctx, tid, cvA, "", 3)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("A's history: %d %v", len(msgs), err)
	}
	oldestSK := store.MessageSK(msgs[0].CreatedAt, msgs[0].ID)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"ends in byte 0":          enc(oldestSK[:len(oldestSK)-1] + "\x00"),
		"bare prefix":             enc("MSG#"),
		"over 1 KB":               enc("MSG#" + strings.Repeat("z", 1100)),
		"another conversation's":  cursorB,
		"not base64url":           "!!!",
		"time not fixed width":    enc("MSG#2026-01-01T00:00:00Z#" + msgs[0].ID),
		"id of another kind":      enc(store.MessageSK(msgs[0].CreatedAt, ids.New(ids.Contact))),
		"trailing bytes":          enc(oldestSK + "#x"),
		"another key of the conv": enc("CMID#c1"),
	}
	for name, cursor := range cases {
		t.Run(name, func(t *testing.T) {
			for _, read := range []func() ([]*chat.Message, string, error){
				func() ([]*chat.Message, string, error) { return st.History(ctx, tid, cvA, cursor, 10) },
				func() ([]*chat.Message, string, error) { return st.ArchivedHistory(ctx, tid, cvA, cursor, 10) },
			} {
				got, next, err := read()
				if chat.ErrorCode(err) != chat.EInvalid || len(got) != 0 || next != "" {
					t.Fatalf("got %d messages, next %q, err %v; want invalid and nothing read", len(got), next, err)
				}
			}
		})
	}
}
