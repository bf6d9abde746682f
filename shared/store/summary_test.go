package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

func summaryMessage(tenantID, convID, kind, text string, at time.Time) *chat.Message {
	return &chat.Message{ID: ids.New(ids.Message), TenantID: tenantID, ConversationID: convID, Author: chat.Author{Kind: kind},
		Text: text, CreatedAt: at, KeepUntil: at.Add(365 * 24 * time.Hour)}
}

// TestRecordLastMessage_ConcurrentAndRepeatedDeliveriesCountOnce: stream
// retries and parallel instances record the same messages many times, in any
// order: the summary ends with the newest message and counts each visitor
// message once; an older message never replaces a newer one; an agent's
// reply sets the count back to 0; a long text is cut to its preview.
func TestRecordLastMessage_ConcurrentAndRepeatedDeliveriesCountOnce(t *testing.T) {
	ctx := context.Background()
	st := testaws.NewTables(t).Store()
	tid, cv := ids.New(ids.Tenant), ids.New(ids.Conversation)
	t0 := time.Now().UTC()
	m1 := summaryMessage(tid, cv, chat.AuthorVisitor, "first", t0)
	m2 := summaryMessage(tid, cv, chat.AuthorVisitor, strings.Repeat("long ", 60), t0.Add(time.Second))
	var wg sync.WaitGroup
	for range 4 {
		for _, m := range []*chat.Message{m2, m1} { // the newer one first, too
			wg.Go(func() {
				if _, err := st.RecordLastMessage(ctx, m); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	got := []chat.Conversation{{ID: cv}}
	if err := st.WithSummaries(ctx, tid, got); err != nil {
		t.Fatal(err)
	}
	lm := got[0].LastMessage
	if lm == nil || lm.ID != m2.ID || len([]rune(lm.Text)) != chat.PreviewChars || !strings.HasSuffix(lm.Text, "…") {
		t.Fatalf("last message %+v, want m2's preview", lm)
	}
	// m1 before m2 counts 2; m2 first, then m1 (older: not recorded) counts 1.
	// Both orders happen above; each message counts at most once.
	if got[0].Unread < 1 || got[0].Unread > 2 {
		t.Fatalf("unread %d, want 1 or 2 (each visitor message at most once)", got[0].Unread)
	}
	sum, err := st.RecordLastMessage(ctx, summaryMessage(tid, cv, chat.AuthorAgent, "On it", t0.Add(2*time.Second)))
	if err != nil || sum.Unread != 0 || sum.LastMessage.AuthorKind != chat.AuthorAgent {
		t.Fatalf("after the reply: %+v %v", sum, err)
	}
	m3 := summaryMessage(tid, cv, chat.AuthorVisitor, "thanks", t0.Add(3*time.Second))
	for range 3 {
		if sum, err = st.RecordLastMessage(ctx, m3); err != nil || sum.Unread != 1 {
			t.Fatalf("a repeated visitor message: %+v %v", sum, err)
		}
	}
	if err := st.MarkConversationRead(ctx, tid, cv); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkConversationRead(ctx, tid, ids.New(ids.Conversation)); err != nil {
		t.Fatalf("marking a conversation without summary: %v", err)
	}
	got = []chat.Conversation{{ID: cv}, {ID: ids.New(ids.Conversation)}}
	if err := st.WithSummaries(ctx, tid, got); err != nil || got[0].Unread != 0 || got[0].LastMessage.ID != m3.ID || got[1].LastMessage != nil {
		t.Fatalf("after read: %+v %v", got, err)
	}
	// Another tenant's summaries are not found under this tenant.
	foreign := []chat.Conversation{{ID: cv}}
	if err := st.WithSummaries(ctx, ids.New(ids.Tenant), foreign); err != nil || foreign[0].LastMessage != nil {
		t.Fatalf("a foreign tenant read %+v %v", foreign[0], err)
	}
}

// TestRecordLastMessage_HeldSummaryStaysHeld: a summary without expiresAt
// (under legal hold) records newer messages and stays without one; others
// expire with their last message.
func TestRecordLastMessage_HeldSummaryStaysHeld(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	st := tt.Store()
	tid, cv := ids.New(ids.Tenant), ids.New(ids.Conversation)
	t0 := time.Now().UTC()
	m1 := summaryMessage(tid, cv, chat.AuthorVisitor, "one", t0)
	if _, err := st.RecordLastMessage(ctx, m1); err != nil {
		t.Fatal(err)
	}
	expiry := func() (string, bool) {
		res, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &tt.Data, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: store.ConversationPK(tid, cv)},
				"SK": &types.AttributeValueMemberS{Value: store.SKSummary}}})
		if err != nil {
			t.Fatal(err)
		}
		e, ok := res.Item["expiresAt"].(*types.AttributeValueMemberN)
		if !ok {
			return "", false
		}
		return e.Value, true
	}
	if e, ok := expiry(); !ok || e != strconv.FormatInt(m1.KeepUntil.Unix(), 10) {
		t.Fatalf("expiresAt %q %v, want the message's", e, ok)
	}
	// A hold removes it (as legal holds do to every item of the partition).
	if _, err := tt.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &tt.Data, UpdateExpression: aws.String("REMOVE expiresAt"),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: store.ConversationPK(tid, cv)},
			"SK": &types.AttributeValueMemberS{Value: store.SKSummary}}}); err != nil {
		t.Fatal(err)
	}
	m2 := summaryMessage(tid, cv, chat.AuthorVisitor, "two", t0.Add(time.Second))
	sum, err := st.RecordLastMessage(ctx, m2)
	if err != nil || sum.LastMessage.ID != m2.ID || sum.Unread != 2 {
		t.Fatalf("held summary: %+v %v", sum, err)
	}
	if e, ok := expiry(); ok {
		t.Fatalf("a held summary got expiresAt %s", e)
	}
	if sum, err = st.RecordLastMessage(ctx, m2); err != nil || sum.Unread != 2 {
		t.Fatalf("a repeated message on a held summary: %+v %v", sum, err)
	}
}

// TestChangedConversation_TellsWhatAgentsSeeOnly: a conversation's stream
// records are an inbox event when it opens or its status, assignee or
// visitor's name changes; a touch (activity alone, once a minute with every
// busy conversation) and other items' records are not.
func TestChangedConversation_TellsWhatAgentsSeeOnly(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	now := time.Now().UTC()
	st := tt.Store().WithClock(func() time.Time { return now })
	tid, v := ids.New(ids.Tenant), ids.New(ids.Contact)
	_, convID, err := st.OpenConversation(ctx, tid, v, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	pk := store.ConversationPK(tid, convID)
	meta := func() map[string]types.AttributeValue { return rawItem(t, tt, tt.Data, pk, store.SKMeta) }
	record := func(name string, old, nw map[string]types.AttributeValue) events.DynamoDBEventRecord {
		var r events.DynamoDBEventRecord
		r.EventName = name
		r.Change.Keys = streamevent.Image(testaws.Key(pk, store.SKMeta))
		r.Change.OldImage, r.Change.NewImage = streamevent.Image(old), streamevent.Image(nw)
		return r
	}
	opened := meta()
	if cv, err := store.ChangedConversation(record("INSERT", nil, opened)); err != nil || cv == nil || cv.ID != convID || cv.TenantID != tid {
		t.Fatalf("an opening: %+v %v", cv, err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := st.TouchConversation(ctx, tid, convID, now, now.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	touched := meta()
	if touched["GSI1SK"].(*types.AttributeValueMemberS).Value == opened["GSI1SK"].(*types.AttributeValueMemberS).Value {
		t.Fatal("the touch did not move the conversation")
	}
	if cv, err := store.ChangedConversation(record("MODIFY", opened, touched)); err != nil || cv != nil {
		t.Fatalf("a touch: %+v %v", cv, err)
	}
	if _, err := st.AssignConversation(ctx, tid, convID, "key1"); err != nil {
		t.Fatal(err)
	}
	assigned := meta()
	if cv, err := store.ChangedConversation(record("MODIFY", touched, assigned)); err != nil || cv == nil || cv.AssigneeID != "key1" {
		t.Fatalf("an assignment: %+v %v", cv, err)
	}
	if cv, err := store.ChangedConversation(record("REMOVE", assigned, nil)); err != nil || cv != nil {
		t.Fatalf("a removal: %+v %v", cv, err)
	}
}
