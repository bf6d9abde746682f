package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// messageItems returns the message items of a conversation's partition as
// stored (no live filter, consistent), so a test sees every copy.
func messageItems(t *testing.T, tt *testaws.Tables, tenantID, convID string) []map[string]types.AttributeValue {
	t.Helper()
	return rawPrefix(t, tt, store.ConversationPK(tenantID, convID), "MSG#")
}

// rawPrefix returns the Data items of partition pk whose sort key starts with
// prefix, as stored (no live filter, consistent).
func rawPrefix(t *testing.T, tt *testaws.Tables, pk, prefix string) []map[string]types.AttributeValue {
	t.Helper()
	res, err := tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(tt.Data), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":p":  &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// markerKey returns the message key a dedupe marker names.
func markerKey(t *testing.T, tt *testaws.Tables, tenantID, convID, cmid string) string {
	t.Helper()
	it := rawItem(t, tt, tt.Data, store.ConversationPK(tenantID, convID), "CMID#"+cmid)
	sk, ok := it["messageSk"].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("no dedupe marker for %s: %v", cmid, it)
	}
	return sk.Value
}

func str(it map[string]types.AttributeValue, k string) string {
	v, _ := it[k].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func newConversation(t *testing.T, st *store.Store) (tenantID, contactID, convID string) {
	t.Helper()
	tenantID, contactID = ids.New(ids.Tenant), ids.New(ids.Contact)
	_, convID, err := st.OpenConversation(context.Background(), tenantID, contactID, chat.ChannelWidget, retention.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	return tenantID, contactID, convID
}

func visitorMessage(tenantID, contactID, convID, cmid string) *chat.Message {
	return &chat.Message{TenantID: tenantID, ConversationID: convID, ContactID: contactID,
		Author: chat.Author{Kind: chat.AuthorVisitor}, Text: "where is my order?", Channel: chat.ChannelWidget, ClientMessageID: cmid}
}

// TestPutMessage_ResendAfterHalfWriteCompletesTheSameMessage plays a Lambda
// timeout between the two writes of an ingest: the dedupe marker is written,
// the message is not. Each resend must complete that one message, at the key
// and with the id and time the marker names, never store another.
func TestPutMessage_ResendAfterHalfWriteCompletesTheSameMessage(t *testing.T) {
	tt := testaws.NewTables(t)
	hook := &testaws.HookDB{Client: tt.DB, Hook: testaws.FailFirstMessagePut()}
	st := store.New(hook, tt.Data, tt.Archive)
	ctx := context.Background()
	tid, vid, cv := newConversation(t, st)
	if _, _, err := st.PutMessage(ctx, visitorMessage(tid, vid, cv, "c1"), retention.Defaults); !errors.Is(err, testaws.ErrInjectedTimeout) {
		t.Fatalf("first attempt: %v, want the injected timeout", err)
	}
	want := markerKey(t, tt, tid, cv, "c1")
	var created int
	for i := range 3 {
		m, c, err := st.PutMessage(ctx, visitorMessage(tid, vid, cv, "c1"), retention.Defaults)
		if err != nil {
			t.Fatalf("resend %d: %v", i, err)
		}
		if got := store.MessageSK(m.CreatedAt, m.ID); got != want {
			t.Errorf("resend %d returned the message at %s, want the marker's %s", i, got, want)
		}
		if c {
			created++
		}
	}
	items := messageItems(t, tt, tid, cv)
	var keys []string
	for _, it := range items {
		keys = append(keys, str(it, "SK"))
	}
	if len(items) != 1 || keys[0] != want {
		t.Fatalf("stored messages %v, want exactly the marker's %s", keys, want)
	}
	if created != 1 {
		t.Fatalf("%d resends reported the message created, want the one that wrote it", created)
	}
}

// gate holds the first call its match accepts until it is released: one
// caller waits between two of its DynamoDB calls while another runs. Only one
// caller talks to moto at a time.
type gate struct {
	match            func(call string, in any) bool
	once             sync.Once
	reached, release chan struct{}
}

func newGate(match func(call string, in any) bool) *gate {
	return &gate{match: match, reached: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) hook(_ context.Context, call string, in any) error {
	if g.match(call, in) {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.reached)
			<-g.release
		}
	}
	return nil
}

type putResult struct {
	m       *chat.Message
	created bool
	err     error
}

// TestPutMessage_RacingSendsWriteOneMessage plays two Lambda instances with the
// same clientMessageId at every point where they can overlap: a resend that
// completes the message while the first attempt waits to write it, and the
// first attempt writing while a resend waits to complete it. Exactly one
// message is stored (the stream sees one INSERT), both callers get it, and
// exactly one reports it created.
func TestPutMessage_RacingSendsWriteOneMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		// firstWaits: the first attempt waits before its message write while
		// the resend runs to the end. Otherwise the resend waits before its
		// completing write while the first attempt finishes.
		firstWaits bool
	}{
		{"resend completes while the first attempt waits", true},
		{"first attempt writes while the resend waits", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := testaws.NewTables(t)
			ctx := context.Background()
			tid, vid, cv := newConversation(t, tt.Store())
			gA, gB := newGate(testaws.IsMessagePut), newGate(testaws.IsMessagePut)
			a := store.New(&testaws.HookDB{Client: tt.DB, Hook: gA.hook}, tt.Data, tt.Archive)
			b := store.New(&testaws.HookDB{Client: tt.DB, Hook: gB.hook}, tt.Data, tt.Archive)
			// The resend comes on another connection (the widget reconnected).
			run := func(st *store.Store, conn string) chan putResult {
				out := make(chan putResult, 1)
				go func() {
					m := visitorMessage(tid, vid, cv, "same")
					m.OriginConnectionID = conn
					m, c, err := st.PutMessage(ctx, m, retention.Defaults)
					out <- putResult{m, c, err}
				}()
				return out
			}
			resA := run(a, "connA")
			<-gA.reached // A wrote the marker and waits to write its message
			var ra, rb putResult
			if tc.firstWaits {
				close(gB.release) // B does not wait
				rb = <-run(b, "connB")
				close(gA.release)
				ra = <-resA
			} else {
				resB := run(b, "connB")
				select {
				case <-gB.reached: // B found the marker, no message, and waits to write it
				case rb = <-resB:
					t.Fatalf("the resend finished without writing the message: %+v", rb)
				}
				close(gA.release)
				ra = <-resA
				close(gB.release)
				rb = <-resB
			}
			if ra.err != nil || rb.err != nil {
				t.Fatalf("first attempt: %v; resend: %v", ra.err, rb.err)
			}
			want := markerKey(t, tt, tid, cv, "same")
			items := messageItems(t, tt, tid, cv)
			if len(items) != 1 || str(items[0], "SK") != want {
				var keys []string
				for _, it := range items {
					keys = append(keys, str(it, "SK"))
				}
				t.Fatalf("stored messages %v, want exactly the marker's %s", keys, want)
			}
			if ra.m.ID != rb.m.ID || store.MessageSK(ra.m.CreatedAt, ra.m.ID) != want || !ra.m.CreatedAt.Equal(rb.m.CreatedAt) {
				t.Fatalf("callers got %s@%v and %s@%v, want both the marker's %s", ra.m.ID, ra.m.CreatedAt, rb.m.ID, rb.m.CreatedAt, want)
			}
			if ra.created == rb.created {
				t.Fatalf("created: first attempt %v, resend %v; want exactly one", ra.created, rb.created)
			}
		})
	}
}

// TestPutMessage_ExpiredClaimIsRefused: a marker whose message was never
// written and would already be past its retention (a resend long after the
// first attempt, under a communication period shorter than the technical one)
// is not completed into an expired message; the sender gets a clear error.
func TestPutMessage_ExpiredClaimIsRefused(t *testing.T) {
	tt := testaws.NewTables(t)
	now := t0
	hook := &testaws.HookDB{Client: tt.DB, Hook: testaws.FailFirstMessagePut()}
	st := store.New(hook, tt.Data, tt.Archive).WithClock(clock(&now))
	ctx := context.Background()
	p := retention.Merge(retention.Periods{CommunicationDays: 1, TechnicalDays: 30})
	tid, vid, cv := newConversation(t, st)
	if _, _, err := st.PutMessage(ctx, visitorMessage(tid, vid, cv, "old"), p); !errors.Is(err, testaws.ErrInjectedTimeout) {
		t.Fatalf("first attempt: %v", err)
	}
	now = t0.Add(3 * day)
	if _, _, err := st.PutMessage(ctx, visitorMessage(tid, vid, cv, "old"), p); chat.ErrorCode(err) != chat.EConflict {
		t.Fatalf("late resend: %v, want a conflict", err)
	}
	if items := messageItems(t, tt, tid, cv); len(items) != 0 {
		t.Fatalf("stored %d messages, want none", len(items))
	}
}

// TestPutMessage_CostPerMessage measures the DynamoDB units of an ingest with a
// client message id (computed from item sizes by testaws.Meter): a first send
// must stay at or under 2 write units.
func TestPutMessage_CostPerMessage(t *testing.T) {
	tt := testaws.NewTables(t)
	m := testaws.NewMeter()
	hook := &testaws.HookDB{Client: m.Client(testaws.Config(t))}
	st := store.New(hook, tt.Data, tt.Archive)
	ctx := context.Background()
	tid, vid, cv := newConversation(t, st)
	measure := func(what, cmid string) float64 {
		m.Reset()
		_, _, err := st.PutMessage(ctx, visitorMessage(tid, vid, cv, cmid), retention.Defaults)
		if err != nil && !errors.Is(err, testaws.ErrInjectedTimeout) {
			t.Fatal(err)
		}
		calls, read, write := m.Snapshot()
		var names []string
		for k, v := range calls {
			names = append(names, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(names)
		t.Logf("%-38s %-22s read units %.1f  write units %.1f", what, strings.Join(names, " "), read, write)
		return write
	}
	if w := measure("first send", "c1"); w > 2 {
		t.Errorf("first send cost %.1f write units, want at most 2", w)
	}
	measure("resend of a stored message", "c1")
	hook.Hook = testaws.FailFirstMessagePut()
	measure("first attempt, message write fails", "c2")
	if w := measure("resend completing the message", "c2"); w > 2 {
		t.Errorf("completing resend cost %.1f write units, want at most 2", w)
	}
	if !strings.HasPrefix(markerKey(t, tt, tid, cv, "c2"), "MSG#") {
		t.Fatal("no marker")
	}
}
