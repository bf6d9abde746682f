package archive_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// subjectKey hashes erased subjects' identifiers in the suppression list.
var subjectKey = []byte("subject-hash-key-for-tests-0123456789")

type env struct {
	tt      *testaws.Tables
	st      *store.Store
	now     *time.Time
	tenant  *chat.Tenant
	contact string
	conv    *chat.Conversation
	log     *bytes.Buffer
}

func setup(t *testing.T) *env {
	t.Helper()
	tt := testaws.NewTables(t)
	now := t0
	st := tt.Store().WithClock(func() time.Time { return now }).WithSubjectKey(subjectKey)
	ctx := context.Background()
	e := &env{tt: tt, st: st, now: &now, contact: ids.New(ids.Contact), log: &bytes.Buffer{}}
	e.tenant = &chat.Tenant{ID: ids.New(ids.Tenant), Status: "active", CreatedAt: now,
		Retention: retention.Periods{CommunicationDays: 10, ArchiveDays: 30}}
	if err := st.PutTenant(ctx, e.tenant); err != nil {
		t.Fatal(err)
	}
	_, cvID, err := st.OpenConversation(ctx, e.tenant.ID, e.contact, chat.ChannelWidget, e.tenant.Periods())
	if err != nil {
		t.Fatal(err)
	}
	e.conv = &chat.Conversation{ID: cvID}
	return e
}

func (e *env) message(t *testing.T, text string) map[string]types.AttributeValue {
	t.Helper()
	m, _, err := e.st.PutMessage(context.Background(), &chat.Message{TenantID: e.tenant.ID, ConversationID: e.conv.ID,
		ContactID: e.contact, Author: chat.Author{Kind: chat.AuthorVisitor}, Text: text, Channel: chat.ChannelWidget}, e.tenant.Periods())
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.tt.Data),
		Key: testaws.Key(store.ConversationPK(e.tenant.ID, e.conv.ID), store.MessageSK(m.CreatedAt, m.ID))})
	if err != nil || res.Item == nil {
		t.Fatalf("read message: %v", err)
	}
	return res.Item
}

func (e *env) handler() *archive.Handler {
	return archive.New(archive.Deps{Store: e.st, Suppressions: e.st, Log: slog.New(slog.NewJSONHandler(e.log, nil))})
}

func (e *env) archived(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	return e.tt.ScanAll(t, e.tt.Archive)
}

func TestHandle_TTLRemovalOfMessageLandsInArchiveUserDeleteDoesNot(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ttlMsg := e.message(t, "expired by ttl")
	userMsg := e.message(t, "deleted by a user")
	*e.now = t0.Add(11 * 24 * time.Hour)
	res, err := e.handler().Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		testaws.RemoveRecord(ttlMsg, true, *e.now),
		testaws.RemoveRecord(userMsg, false, *e.now),
	}})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %+v", err, res)
	}
	got := e.archived(t)
	if len(got) != 1 {
		t.Fatalf("archive holds %d items, want 1 (only the TTL removal)", len(got))
	}
	if got[0]["SK"].(*types.AttributeValueMemberS).Value != ttlMsg["SK"].(*types.AttributeValueMemberS).Value {
		t.Fatal("archived the wrong message")
	}
	// Its new expiresAt is the archive period counted from when it left the hot table.
	hot := ttlMsg["expiresAt"].(*types.AttributeValueMemberN).Value
	want := store.ArchiveExpiry(e.tenant.Periods(), mustInt(hot))
	if exp := got[0]["expiresAt"].(*types.AttributeValueMemberN).Value; mustInt(exp) != want {
		t.Fatalf("archive expiresAt %s, want %d", exp, want)
	}
	// It stays readable, marked archived, until the archive period ends.
	msgs, _, err := e.st.ArchivedHistory(ctx, e.tenant.ID, e.conv.ID, "", 10)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "expired by ttl" {
		t.Fatalf("archived history: %v %v", msgs, err)
	}
}

func TestHandle_RedeliveredBatchArchivesOnce(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	m1, m2 := e.message(t, "one"), e.message(t, "two")
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		testaws.RemoveRecord(m1, true, t0), testaws.RemoveRecord(m2, true, t0)}}
	for i := range 3 {
		res, err := e.handler().Handle(ctx, batch)
		if err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %v %+v", i, err, res)
		}
	}
	if n := len(e.archived(t)); n != 2 {
		t.Fatalf("archive holds %d items after 3 deliveries, want 2", n)
	}
	if !bytes.Contains(e.log.Bytes(), []byte(`"duplicate":2`)) {
		t.Fatalf("redeliveries not reported as duplicates: %s", e.log)
	}
}

func TestHandle_SkipsWhatIsNotArchived(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	msg := e.message(t, "a message")
	contact := rawItem(t, e, store.ContactPK(e.tenant.ID, e.contact), store.SKProfile)
	insert := testaws.RemoveRecord(msg, true, t0)
	insert.EventName = "INSERT"
	for _, tc := range []struct {
		name string
		rec  events.DynamoDBEventRecord
	}{
		{"personal data (contact profile)", testaws.RemoveRecord(contact, true, t0)},
		{"an insert", insert},
		{"a remove by another service", func() events.DynamoDBEventRecord {
			r := testaws.RemoveRecord(msg, true, t0)
			r.UserIdentity.PrincipalID = "lambda.amazonaws.com"
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.handler().Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{tc.rec}})
			if err != nil || len(res.BatchItemFailures) != 0 {
				t.Fatalf("handle: %v %+v", err, res)
			}
			if n := len(e.archived(t)); n != 0 {
				t.Fatalf("archived %d items, want none", n)
			}
		})
	}
}

func TestHandle_ReportsFailedRecordsAsBatchItemFailures(t *testing.T) {
	e := setup(t)
	msg := e.message(t, "x")
	broken := store.New(e.tt.DB, e.tt.Data, "no-such-table").WithClock(func() time.Time { return *e.now }).WithSubjectKey(subjectKey)
	rec := testaws.RemoveRecord(msg, true, t0)
	res, err := archive.New(archive.Deps{Store: broken, Suppressions: broken, Log: slog.New(slog.NewJSONHandler(e.log, nil))}).Handle(context.Background(),
		events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{testaws.RemoveRecord(rawItem(t, e, store.TenantPK(e.tenant.ID), store.SKProfile), false, t0), rec}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != rec.Change.SequenceNumber {
		t.Fatalf("failures %+v, want the one record whose archive write failed", res.BatchItemFailures)
	}
}

func TestHandle_HeldSubjectsItemIsPutBackNotArchived(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	msg := e.message(t, "under hold")
	if _, err := e.st.SetContactHold(ctx, e.tenant.ID, e.contact, true); err != nil {
		t.Fatal(err)
	}
	// TTL removed the message (it was written before the hold reached it).
	pk, sk := msg["PK"].(*types.AttributeValueMemberS).Value, msg["SK"].(*types.AttributeValueMemberS).Value
	if _, err := e.tt.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.tt.Data), Key: testaws.Key(pk, sk)}); err != nil {
		t.Fatal(err)
	}
	res, err := e.handler().Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{testaws.RemoveRecord(msg, true, t0)}})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %+v", err, res)
	}
	back := rawItem(t, e, pk, sk)
	if back == nil || back["expiresAt"] != nil {
		t.Fatalf("held message not restored without expiresAt: %v", back)
	}
	if n := len(e.archived(t)); n != 0 {
		t.Fatalf("held message archived (%d items)", n)
	}
}

func rawItem(t *testing.T, e *env, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	res, err := e.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.tt.Data), Key: testaws.Key(pk, sk)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item
}

func mustInt(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestHandle_SampleEvent(t *testing.T) {
	e := setup(t)
	var ev events.DynamoDBEvent
	testaws.LoadEvent(t, "archive.json", &ev)
	res, err := e.handler().Handle(context.Background(), ev)
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %+v", err, res)
	}
	got := e.archived(t)
	if len(got) != 1 || got[0]["SK"].(*types.AttributeValueMemberS).Value != "MSG#2025-11-28T10:00:01.000000Z#m0000000000000000000000000" {
		t.Fatalf("archived %v, want only the TTL removal of the sample", got)
	}
	if _, ok := got[0]["GSI1PK"]; ok {
		t.Fatal("archived item keeps the hot table's index attributes")
	}
	pk := got[0]["PK"].(*types.AttributeValueMemberS).Value
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if g, _ := got[0]["GSI2PK"].(*types.AttributeValueMemberS); g == nil ||
		!strings.HasPrefix(g.Value, "T#t0000000000000000000000000#RET#archive#2026-11") ||
		g.Value != store.RetentionKey("t0000000000000000000000000", store.ArchiveClass, month, pk) {
		t.Fatalf("archived item not in the archive's retention index by the month it left the hot table: %v", got[0]["GSI2PK"])
	}
}

func TestHandle_ErasedSubjectIsNotArchived(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	msg := e.message(t, "erased person's message")
	// privacy-erase recorded the subject in the suppression list (hashed).
	if err := e.st.Suppress(ctx, e.tenant.ID, chat.SuppressContact, e.contact, "r1"); err != nil {
		t.Fatal(err)
	}
	res, err := e.handler().Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{testaws.RemoveRecord(msg, true, t0)}})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %+v", err, res)
	}
	if n := len(e.archived(t)); n != 0 {
		t.Fatalf("archived %d items of an erased subject", n)
	}
	// Another visitor's message is archived as usual.
	other := e.message(t, "x")
	other["contactId"] = &types.AttributeValueMemberS{Value: ids.New(ids.Contact)}
	if _, err := e.handler().Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{testaws.RemoveRecord(other, true, t0)}}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.archived(t)); n != 1 {
		t.Fatalf("archived %d items, want the other subject's message", n)
	}
}
