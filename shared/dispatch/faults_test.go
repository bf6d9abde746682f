package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// TestDispatchFaults_EveryMessageReachesEveryLiveTab delivers the stream's new
// messages while a quarter of dispatch's DynamoDB calls are throttled or time
// out (half after DynamoDB applied them), with the stream redelivering failed
// records as the event source mapping does; then the faults stop and the
// stream catches up. Every message reaches each live connection of the
// visitor but its sender (none lost; repeats are allowed, delivery is at least
// once, and counted), the gone connection is removed and the live ones kept,
// and the conversation's activity is that of its newest message.
func TestDispatchFaults_EveryMessageReachesEveryLiveTab(t *testing.T) {
	const n = 30
	ctx := context.Background()
	tt := testaws.NewTables(t)
	cfg := testaws.Config(t)
	clock := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	setup := tt.Store().WithClock(func() time.Time { return clock })
	faults := testaws.NewFaults(21)
	st := store.New(faults.Client(cfg), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	mgmt := pushertest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := dispatch.New(dispatch.Deps{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Log: log,
		Deliverers: []dispatch.Deliverer{&dispatch.Widget{Store: st, Pusher: mgmt.Pusher(), Log: log}}})

	tn := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Shop", Status: "active", CreatedAt: clock}
	if err := setup.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	v := ids.New(ids.Contact)
	for _, id := range []string{"sender", "tab2", "tab3", "gone"} {
		if err := setup.PutConnection(ctx, &chat.Connection{ID: id, TenantID: tn.ID, ContactID: v, ConnectedAt: clock}); err != nil {
			t.Fatal(err)
		}
	}
	mgmt.Gone("gone")
	_, convID, err := setup.OpenConversation(ctx, tn.ID, v, chat.ChannelWidget, tn.Periods())
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{} // message id -> origin connection ("" for an agent's)
	var newest time.Time
	for i := range n {
		clock = clock.Add(2 * time.Minute) // each message moves the activity (TouchStep is a minute)
		m := &chat.Message{TenantID: tn.ID, ConversationID: convID, ContactID: v, Channel: chat.ChannelWidget,
			Author: chat.Author{Kind: chat.AuthorVisitor}, Text: fmt.Sprintf("message %d", i),
			ClientMessageID: fmt.Sprintf("cm-%d", i), OriginConnectionID: "sender"}
		if i%3 == 2 { // an agent's reply goes to every tab
			m.Author, m.ClientMessageID, m.OriginConnectionID = chat.Author{Kind: chat.AuthorAgent, Name: "Ann"}, "", ""
		}
		if _, _, err := setup.PutMessage(ctx, m, tn.Periods()); err != nil {
			t.Fatal(err)
		}
		sent[m.ID], newest = m.OriginConnectionID, m.CreatedAt
	}
	recs := messageInserts(t, cfg, tt.StreamArn)
	if len(recs) != n {
		t.Fatalf("stream holds %d message inserts, want %d", len(recs), n)
	}

	src := &testaws.EventSource{BatchSize: 10, Handle: h.Batch}
	faults.Set(testaws.FaultSpec{Rate: 0.25, After: 0.5, Timeout: 0.3})
	left, err := src.Run(ctx, recs, 8)
	if err != nil {
		t.Fatal(err)
	}
	faults.Off()
	t.Logf("with faults: %s", faults.Summary())
	leftWithFaults, maxDeliveries := len(left), 0
	for _, d := range src.Deliveries {
		maxDeliveries = max(maxDeliveries, d)
	}
	if left, err = src.Run(ctx, left, 100); err != nil || len(left) != 0 {
		t.Fatalf("%d records still failing with the faults off: %v", len(left), err)
	}
	redelivered := 0
	for _, d := range src.Deliveries {
		redelivered += d - 1
	}

	lost, repeats, due := 0, 0, 0
	for _, tab := range []string{"sender", "tab2", "tab3"} {
		got := map[string]int{}
		for _, f := range mgmt.Frames(tab) {
			var fr struct {
				Type    string        `json:"type"`
				Message *chat.Message `json:"message"`
			}
			if err := json.Unmarshal([]byte(f), &fr); err != nil || fr.Type != "message" || fr.Message == nil {
				t.Fatalf("%s got %q", tab, f)
			}
			got[fr.Message.ID]++
		}
		for id, origin := range sent {
			c := got[id]
			if origin == tab {
				if c > 0 {
					t.Errorf("%s got its own message %s back", tab, id)
				}
				continue
			}
			due++
			if c == 0 {
				lost++
				t.Errorf("%s never got message %s", tab, id)
			}
			if c > 1 {
				repeats += c - 1
			}
		}
	}
	conns, err := setup.Connections(ctx, tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	var left2 []string
	for _, c := range conns {
		left2 = append(left2, c.ID)
	}
	if strings.Join(left2, ",") != "sender,tab2,tab3" {
		t.Errorf("connections left %v, want the three live ones", left2)
	}
	cv, err := setup.Conversation(ctx, tn.ID, convID)
	if err != nil {
		t.Fatal(err)
	}
	if !cv.LastActivityAt.Equal(newest) {
		t.Errorf("conversation activity %v, want the newest message's %v", cv.LastActivityAt, newest)
	}
	t.Logf("dispatch: messages %d, deliveries due %d, lost %d, repeated frames %d; invocations %d, record redeliveries %d, records still failing when the faults stopped %d, most deliveries of one record while faulty %d",
		n, due, lost, repeats, src.Invocations, redelivered, leftWithFaults, maxDeliveries)
}

// messageInserts reads the Data stream's records that the dispatch event
// source's filter passes: INSERTs of MSG# items.
func messageInserts(t *testing.T, cfg aws.Config, streamArn string) []events.DynamoDBEventRecord {
	t.Helper()
	r := &streamevent.Reader{Client: dynamodbstreams.NewFromConfig(cfg), StreamArn: streamArn}
	all, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []events.DynamoDBEventRecord
	for _, rec := range all {
		if m, _ := store.InsertedMessage(rec); m != nil {
			out = append(out, rec)
		}
	}
	return out
}
