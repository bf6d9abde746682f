package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// visitorState is what a test checks of a contact after its writes: the
// profile as stored and its conversations (through the pointers).
type visitorState struct {
	item          map[string]types.AttributeValue
	contact       chat.Contact
	conversations []string // ids of the contact's conversations whose status is open
	// the contact's name and email as its (last) open conversation keeps them
	convName, convEmail string
}

func readVisitor(t *testing.T, tt *testaws.Tables, tenantID, contactID string) visitorState {
	t.Helper()
	var s visitorState
	s.item = rawItem(t, tt, tt.Data, store.ContactPK(tenantID, contactID), store.SKProfile)
	if s.item == nil {
		t.Fatal("no contact")
	}
	if err := attributevalue.UnmarshalMap(s.item, &s.contact); err != nil {
		t.Fatal(err)
	}
	for _, p := range rawPrefix(t, tt, store.ContactPK(tenantID, contactID), "CONV#") {
		id := str(p, "conversationId")
		meta := rawItem(t, tt, tt.Data, store.ConversationPK(tenantID, id), store.SKMeta)
		if str(meta, "Status") == chat.StatusOpen {
			s.conversations = append(s.conversations, id)
			s.convName, s.convEmail = str(meta, "ContactName"), str(meta, "ContactEmail")
		}
	}
	return s
}

// checkVisitor checks that a visitor who gave name and email and opened
// conversation convID kept all of it, with exactly one open conversation, and
// that the profile's index and retention attributes follow its email and its
// last-seen time under periods p.
func checkVisitor(t *testing.T, s visitorState, tenantID, name, email, convID string, p retention.Periods) {
	t.Helper()
	c := s.contact
	if c.Name != name || c.Email != email {
		t.Errorf("contact has name %q email %q, want %q %q", c.Name, c.Email, name, email)
	}
	if len(s.conversations) != 1 || s.conversations[0] != convID || c.OpenConversationID != convID {
		t.Errorf("open conversations %v, contact names %q; want exactly %s", s.conversations, c.OpenConversationID, convID)
	}
	// The inbox shows the conversation under the visitor's name.
	if s.convName != name || s.convEmail != email {
		t.Errorf("the conversation names %q %q, want %q %q", s.convName, s.convEmail, name, email)
	}
	pk := store.ContactPK(tenantID, c.ID)
	if got, want := str(s.item, "GSI1PK"), store.EmailKey(tenantID, email); got != want {
		t.Errorf("GSI1PK %q, want %q", got, want)
	}
	if got, want := str(s.item, "GSI2PK")+" "+str(s.item, "GSI2SK"),
		store.RetentionKey(tenantID, string(retention.Personal), c.LastSeenAt, pk)+" "+store.RetentionSort(c.LastSeenAt, pk); got != want {
		t.Errorf("retention index %q, want %q (last seen %v)", got, want, c.LastSeenAt)
	}
	want := retention.ExpiresAt(p, retention.Personal, c.LastSeenAt)
	if c.LegalHold {
		want = 0
	}
	if got := expiresAt(s.item); got != want {
		t.Errorf("expiresAt %d, want %d", got, want)
	}
	if str(s.item, "entity") != "contact" || str(s.item, "dataClass") != "personal" || c.CreatedAt.IsZero() {
		t.Errorf("contact item lost its identity: %v", s.item)
	}
}

// op is one writer of a visitor's contact, as a frame runs it.
type op struct {
	name string
	run  func(st *store.Store, tenantID, contactID string) (convID string, err error)
}

var (
	identifyOp = op{"identify", func(st *store.Store, tid, cid string) (string, error) {
		_, err := st.Identify(context.Background(), tid, cid, "Ada Lovelace", "ada@example.com", retention.Defaults)
		return "", err
	}}
	openOp = op{"open conversation", func(st *store.Store, tid, cid string) (string, error) {
		_, id, err := st.OpenConversation(context.Background(), tid, cid, chat.ChannelWidget, retention.Defaults)
		return id, err
	}}
)

// TestContactWriters_EveryInterleaving plays a visitor's first message (which
// opens a conversation) and its pre-chat form (identify), and two first
// messages, as two Lambda instances run them: one waits before each of its
// DynamoDB calls in turn while the other runs completely, and once after its
// last. In every interleaving the visitor keeps its name and email and has
// exactly one open conversation, which its contact names and which shows the
// visitor's name and email in the inbox.
func TestContactWriters_EveryInterleaving(t *testing.T) {
	tt := testaws.NewTables(t)
	plain := tt.Store()
	for _, pair := range [][2]op{{identifyOp, openOp}, {openOp, identifyOp}, {openOp, openOp}} {
		waits, other := pair[0], pair[1]
		for k := 0; ; k++ {
			name := fmt.Sprintf("%s waits before call %d, %s runs", waits.name, k, other.name)
			tid, cid := ids.New(ids.Tenant), ids.New(ids.Contact)
			calls, ran := 0, false
			var otherConv string
			var otherErr error
			hook := &testaws.HookDB{Client: tt.DB, Hook: func(context.Context, string, any) error {
				if calls == k && !ran {
					ran = true
					otherConv, otherErr = other.run(plain, tid, cid)
				}
				calls++
				return nil
			}}
			conv, err := waits.run(store.New(hook, tt.Data, tt.Archive), tid, cid)
			if !ran {
				name = fmt.Sprintf("%s then %s", waits.name, other.name)
				otherConv, otherErr = other.run(plain, tid, cid)
			}
			t.Run(name, func(t *testing.T) {
				if err != nil || otherErr != nil {
					t.Fatalf("%s: %v; %s: %v", waits.name, err, other.name, otherErr)
				}
				if conv != "" && otherConv != "" && conv != otherConv {
					t.Fatalf("two openers got conversations %s and %s", conv, otherConv)
				}
				if conv == "" {
					conv = otherConv
				}
				// The pair without identify identifies afterwards.
				if waits.name != identifyOp.name && other.name != identifyOp.name {
					if _, err := identifyOp.run(plain, tid, cid); err != nil {
						t.Fatal(err)
					}
				}
				checkVisitor(t, readVisitor(t, tt, tid, cid), tid, "Ada Lovelace", "ada@example.com", conv, retention.Defaults)
			})
			if !ran {
				break
			}
		}
	}
}

// TestIdentify_KeepsLegalHoldAndOtherFields: identify updates only the name,
// the email and what follows from them and from the visit; a contact on legal
// hold stays held (no expiresAt), and its other fields stay.
func TestIdentify_KeepsLegalHoldAndOtherFields(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ctx := context.Background()
	tid, cid, conv := newConversation(t, st)
	phone, optOut := "+15550100", true
	if _, err := st.UpdateContactFields(ctx, tid, cid, chat.ContactFields{Phone: &phone, MarketingOptOut: &optOut}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetContactHold(ctx, tid, cid, true); err != nil {
		t.Fatal(err)
	}
	c, err := st.Identify(ctx, tid, cid, "Ada Lovelace", "ada@example.com", retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Ada Lovelace" || c.Email != "ada@example.com" || c.ID != cid {
		t.Fatalf("identify returned %+v", c)
	}
	s := readVisitor(t, tt, tid, cid)
	checkVisitor(t, s, tid, "Ada Lovelace", "ada@example.com", conv, retention.Defaults)
	if !s.contact.LegalHold || s.contact.Phone != phone || !s.contact.MarketingOptOut {
		t.Fatalf("identify changed other fields: %+v", s.contact)
	}
	// A new email moves the email index entry.
	if _, err := st.Identify(ctx, tid, cid, "Ada L.", "ada@example.org", retention.Defaults); err != nil {
		t.Fatal(err)
	}
	checkVisitor(t, readVisitor(t, tt, tid, cid), tid, "Ada L.", "ada@example.org", conv, retention.Defaults)
	// Under a tenant-wide hold, identify stamps no expiresAt.
	held := retention.Defaults
	held.Held = true
	tid2, cid2, conv2 := newConversation(t, st)
	if _, err := st.Identify(ctx, tid2, cid2, "Bo", "bo@example.com", held); err != nil {
		t.Fatal(err)
	}
	if got := expiresAt(readVisitor(t, tt, tid2, cid2).item); got != 0 {
		t.Fatalf("identify under a tenant hold stamped expiresAt %d", got)
	}
	if _, _, err := st.OpenConversation(ctx, tid2, cid2, chat.ChannelWidget, held); err != nil {
		t.Fatal(err)
	}
	if s := readVisitor(t, tt, tid2, cid2); expiresAt(s.item) != 0 || len(s.conversations) != 1 || s.conversations[0] != conv2 {
		t.Fatalf("after opening under a tenant hold: expiresAt %d, conversations %v", expiresAt(s.item), s.conversations)
	}
}

// TestContactWriters_ExpiredContactStartsAfresh: a contact past its expiresAt
// that TTL has not removed yet is gone for every read, so writes must not
// bring its old fields back: identify and a first message start a new one.
func TestContactWriters_ExpiredContactStartsAfresh(t *testing.T) {
	for _, first := range []op{identifyOp, openOp} {
		t.Run(first.name, func(t *testing.T) {
			tt := testaws.NewTables(t)
			now := t0
			st := tt.Store().WithClock(clock(&now))
			ctx := context.Background()
			tid, cid, old := newConversation(t, st)
			phone := "+15550100"
			if _, err := st.UpdateContactFields(ctx, tid, cid, chat.ContactFields{Phone: &phone}); err != nil {
				t.Fatal(err)
			}
			now = t0.Add(time.Duration(retention.Defaults.PersonalDays+1) * day)
			conv, err := first.run(st, tid, cid)
			if err != nil {
				t.Fatal(err)
			}
			if first.name == identifyOp.name {
				if conv, err = openOp.run(st, tid, cid); err != nil {
					t.Fatal(err)
				}
			} else if _, err := identifyOp.run(st, tid, cid); err != nil {
				t.Fatal(err)
			}
			if conv == old {
				t.Fatalf("the expired contact's conversation %s came back", old)
			}
			s := readVisitor(t, tt, tid, cid)
			if s.contact.Phone != "" || !s.contact.CreatedAt.Equal(now) {
				t.Fatalf("the expired contact's fields came back: %+v", s.contact)
			}
			if s.contact.OpenConversationID != conv {
				t.Fatalf("contact names %s, want %s", s.contact.OpenConversationID, conv)
			}
		})
	}
}

// TestContactWriters_TryAgainAfterATransactionConflict: DynamoDB refuses a
// write to an item that a transaction is writing (TransactionConflict) rather
// than wait, as when identify meets the transaction of a first message. The
// refused write changed nothing; both writers try again and succeed.
func TestContactWriters_TryAgainAfterATransactionConflict(t *testing.T) {
	tt := testaws.NewTables(t)
	failed := map[string]bool{}
	hook := &testaws.HookDB{Client: tt.DB, Hook: func(_ context.Context, call string, _ any) error {
		if failed[call] {
			return nil
		}
		failed[call] = true
		switch call {
		case "UpdateItem":
			return &types.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item")}
		case "TransactWriteItems":
			return &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"),
				CancellationReasons: []types.CancellationReason{{Code: aws.String("TransactionConflict")}, {Code: aws.String("None")}, {Code: aws.String("None")}}}
		}
		return nil
	}}
	st := store.New(hook, tt.Data, tt.Archive)
	tid, cid := ids.New(ids.Tenant), ids.New(ids.Contact)
	conv, err := openOp.run(st, tid, cid)
	if err != nil {
		t.Fatalf("open conversation: %v", err)
	}
	if _, err := identifyOp.run(st, tid, cid); err != nil {
		t.Fatalf("identify: %v", err)
	}
	if !failed["UpdateItem"] || !failed["TransactWriteItems"] {
		t.Fatalf("conflicts injected: %v", failed)
	}
	checkVisitor(t, readVisitor(t, tt, tid, cid), tid, "Ada Lovelace", "ada@example.com", conv, retention.Defaults)
}
