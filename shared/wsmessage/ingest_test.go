package wsmessage_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// hookedHarness is the widget side of the stack over moto with a HookDB under
// the store, so a test can fail or pause any DynamoDB call of the handlers.
type hookedHarness struct {
	*harness
	tt   *testaws.Tables
	hook *testaws.HookDB
}

func newHookedHarness(tb testing.TB) *hookedHarness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	meter := testaws.NewMeter()
	hook := &testaws.HookDB{Client: meter.Client(cfg)}
	st := store.New(hook, tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	logs := &wstest.Logs{}
	w := wstest.New(tb, cfg, st, tt.StreamArn, slog.New(slog.NewJSONHandler(logs, nil)))
	return &hookedHarness{harness: &harness{Widget: w, st: st, meter: meter, logs: logs}, tt: tt, hook: hook}
}

// frameCtx sends a frame as Frame does, with the given context (which the
// store's calls, and so the hook, see).
func (h *hookedHarness) frameCtx(tb testing.TB, ctx context.Context, event string, auth map[string]any, connID, body string) {
	tb.Helper()
	var req events.APIGatewayWebsocketProxyRequest
	testaws.LoadEvent(tb, event, &req)
	req.RequestContext.ConnectionID, req.RequestContext.Authorizer = connID, auth
	req.Body = body
	out, err := h.Msg.Handle(ctx, req)
	if err != nil || out.StatusCode != 200 {
		tb.Errorf("frame: %d %v", out.StatusCode, err)
	}
}

// rawPartition returns the items of a partition whose sort key starts with prefix.
func (h *hookedHarness) rawPartition(tb testing.TB, pk, prefix string) []map[string]types.AttributeValue {
	tb.Helper()
	res, err := h.tt.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(h.tt.Data), KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Items
}

func sval(it map[string]types.AttributeValue, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// TestSendMessage_ResendAfterHalfWriteStoresOne plays a ws-message instance
// that times out between the dedupe marker and the message (the message write
// fails after the marker succeeded). The widget resends the frame three times:
// every ack carries the one message the marker names, one message is stored,
// and dispatch delivers it once to the visitor's other tab.
func TestSendMessage_ResendAfterHalfWriteStoresOne(t *testing.T) {
	h := newHookedHarness(t)
	h.hook.Hook = testaws.FailFirstMessagePut()
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "connA")
	h.Connect(t, tn.ID, v, "connB")
	send := `{"action":"sendMessage","clientMessageId":"cm-half","text":"Is this in stock?"}`
	h.Frame(t, "ws-send-message.json", a, "connA", send)
	if got := h.Frames(t, "connA"); len(got) != 1 || got[0]["type"] != "error" || got[0]["code"] != "internal" {
		t.Fatalf("first attempt answered %v, want an internal error frame", got)
	}
	for range 3 {
		h.Frame(t, "ws-send-message.json", a, "connA", send)
	}
	c, err := h.st.Contact(context.Background(), tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	convPK := store.ConversationPK(tn.ID, c.OpenConversationID)
	markers := h.rawPartition(t, convPK, "CMID#")
	if len(markers) != 1 {
		t.Fatalf("%d dedupe markers, want 1", len(markers))
	}
	want := sval(markers[0], "messageSk")
	var keys []string
	for _, it := range h.rawPartition(t, convPK, "MSG#") {
		keys = append(keys, sval(it, "SK"))
	}
	if len(keys) != 1 || keys[0] != want {
		t.Errorf("stored messages %v, want exactly the marker's %s", keys, want)
	}
	acks := h.Frames(t, "connA")[1:]
	for i, f := range acks {
		m, _ := f["message"].(map[string]any)
		if f["type"] != "ack" || m == nil || want != fmt.Sprintf("MSG#%s#%s", keyTime(t, m["createdAt"]), m["id"]) {
			t.Errorf("resend %d answered %v, want an ack of the message at %s", i, f, want)
		}
	}
	if res := h.Pump(t); len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch failures: %v", res.BatchItemFailures)
	}
	if got := h.Frames(t, "connB"); len(got) != 1 {
		t.Fatalf("the other tab got %d frames, want the message once: %v", len(got), got)
	}
}

// keyTime turns an ack's createdAt into the time part of a message key.
func keyTime(t *testing.T, v any) string {
	t.Helper()
	m := &chat.Message{}
	if err := m.CreatedAt.UnmarshalText([]byte(fmt.Sprint(v))); err != nil {
		t.Fatalf("createdAt %v: %v", v, err)
	}
	return store.TimeKey(m.CreatedAt)
}

// TestSendMessage_SentAtStoresOnceWithoutMarker: a frame with sentAt is stored
// at the key its sentAt and client id name, in one write with no dedupe
// marker; resent (after a reconnect, on another connection), it is acked with
// the same message and stored once; a bad sentAt gets an error frame and
// stores nothing.
func TestSendMessage_SentAtStoresOnceWithoutMarker(t *testing.T) {
	h := newHookedHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "connA")
	b := h.Connect(t, tn.ID, v, "connB")
	h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"open","text":"Hello"}`)
	sent := time.Now().Add(-2 * time.Second).UnixMilli()
	send := fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"cm-s","text":"Is this in stock?","sentAt":%d}`, sent)
	h.meter.Reset()
	h.Frame(t, "ws-send-message.json", a, "connA", send)
	if calls, _, _ := h.meter.Snapshot(); calls["PutItem"] != 1 {
		t.Errorf("the send made %d PutItem calls, want 1 (no marker)", calls["PutItem"])
	}
	h.Frame(t, "ws-send-message.json", b, "connB", send) // the resend, after a reconnect
	for _, bad := range []string{`-5`, `"soon"`, fmt.Sprint(time.Now().Add(time.Hour).UnixMilli())} {
		h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"cm-bad","text":"x","sentAt":`+bad+`}`)
	}
	c, err := h.st.Contact(context.Background(), tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	convPK := store.ConversationPK(tn.ID, c.OpenConversationID)
	if m := h.rawPartition(t, convPK, "CMID#cm-"); len(m) != 0 {
		t.Errorf("%d dedupe markers for sentAt frames, want none", len(m))
	}
	var keys []string
	for _, it := range h.rawPartition(t, convPK, "MSG#") {
		if sval(it, "clientMessageId") != "open" {
			keys = append(keys, sval(it, "SK"))
		}
	}
	if len(keys) != 1 || keys[0][:len("MSG#")+len(store.TimeKey(time.Time{}))] != "MSG#"+store.TimeKey(time.UnixMilli(sent)) {
		t.Fatalf("stored %v, want one message keyed at its sentAt", keys)
	}
	acks := append(h.Frames(t, "connA")[1:2], h.Frames(t, "connB")[0])
	for i, f := range acks {
		m, _ := f["message"].(map[string]any)
		if f["type"] != "ack" || m == nil || keys[0] != fmt.Sprintf("MSG#%s#%s", keyTime(t, m["createdAt"]), m["id"]) {
			t.Errorf("send %d answered %v, want an ack of the message at %s", i, f, keys[0])
		}
	}
	for i, f := range h.Frames(t, "connA")[2:] {
		if f["type"] != "error" || f["code"] != "invalid" {
			t.Errorf("bad sentAt %d answered %v, want an invalid error frame", i, f)
		}
	}
}
