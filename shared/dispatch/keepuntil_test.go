package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestDispatch_ConversationIsKeptAsLongAsItsMessage: dispatch moves the
// conversation's retention end to the delivered message's (from the stream
// image), reading no tenant; so a change of the tenant's periods after the
// message was written does not make the two differ (it used to: dispatch read
// the tenant again).
func TestDispatch_ConversationIsKeptAsLongAsItsMessage(t *testing.T) {
	ctx := context.Background()
	tt := testaws.NewTables(t)
	var mu sync.Mutex
	now := time.Now()
	st := tt.Store().WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	w := wstest.New(t, testaws.Config(t), st, tt.StreamArn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tn := wstest.Tenant(t, st, "Shop")
	set := func(days int) {
		p := retention.Defaults
		p.CommunicationDays = days
		if _, err := st.UpdateTenantSettings(ctx, tn.ID, chat.TenantSettings{Retention: &p}); err != nil {
			t.Fatal(err)
		}
	}
	set(30)
	v := ids.New(ids.Contact)
	a := w.Connect(t, tn.ID, v, "connA")
	w.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"k1","text":"hello"}`)
	w.Pump(t)
	mu.Lock()
	now = now.Add(2 * dispatch.TouchStep) // activity worth recording
	mu.Unlock()
	w.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"k2","text":"still there?"}`)
	set(90) // after the message was written, before it is dispatched
	if res := w.Pump(t); len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch: %v", res)
	}
	c, err := st.Contact(ctx, tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	pk := "T#" + tn.ID + "#CONV#" + c.OpenConversationID
	expires := func(it map[string]types.AttributeValue) int64 {
		n, _ := strconv.ParseInt(it["expiresAt"].(*types.AttributeValueMemberN).Value, 10, 64)
		return n
	}
	msgs, err := tt.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tt.Data), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :m)"),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1), // the last message
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":m": &types.AttributeValueMemberS{Value: "MSG#"}}})
	if err != nil || len(msgs.Items) != 1 {
		t.Fatalf("messages: %v %v", msgs, err)
	}
	out, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.Data), ConsistentRead: aws.Bool(true), Key: testaws.Key(pk, "META")})
	if err != nil || out.Item == nil {
		t.Fatalf("conversation: %v", err)
	}
	// The message's, rounded up to the end of its day (moved once a day).
	if got, want := expires(out.Item), store.DayEnd(time.Unix(expires(msgs.Items[0]), 0)).Unix(); got != want {
		t.Fatalf("conversation expiresAt %d, want the end of the message's expiry day %d (%d days later)", got, want, (got-want)/86400)
	}
}
