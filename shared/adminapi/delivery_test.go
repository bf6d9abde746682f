package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// TestReply_ReachesVisitorConnectionThroughDispatch follows an agent reply from
// the admin API through the Data table's real (moto) stream into dispatch, which
// posts {"type":"message",...} to the visitor's open WebSocket connection.
func TestReply_ReachesVisitorConnectionThroughDispatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	f := e.newFixture("Deliver")
	if err := e.store.PutConnection(ctx, &chat.Connection{ID: "visitor-conn", TenantID: f.ID, ContactID: f.ContactID, ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reader := &streamevent.Reader{Client: dynamodbstreams.NewFromConfig(testaws.Config(t)), StreamArn: e.tt.StreamArn}
	if _, err := reader.Read(ctx); err != nil { // skip the fixture's records
		t.Fatal(err)
	}
	res := e.call(http.MethodPost, "/v1/conversations/"+f.ConvID+"/messages", f.AgentKey, `{"text":"We are on it","agentName":"Ana"}`)
	wantStatus(t, "reply", res, http.StatusCreated)
	replyID := res.json(t)["id"].(string)

	recs, err := reader.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the event source mapping's filter passes on: inserts of messages.
	var ev events.DynamoDBEvent
	for _, r := range recs {
		if m, _ := store.InsertedMessage(r); m != nil {
			ev.Records = append(ev.Records, r)
		}
	}
	if len(ev.Records) != 1 {
		t.Fatalf("%d message inserts on the stream, want 1", len(ev.Records))
	}
	w := wstest.New(t, testaws.Config(t), e.store, e.tt.StreamArn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mgmt := w.Mgmt
	out, err := w.Dispatch.Batch(ctx, ev)
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("dispatch: %v %v", out, err)
	}
	frames := mgmt.Frames("visitor-conn")
	if len(frames) != 1 {
		t.Fatalf("visitor got %d frames, want 1", len(frames))
	}
	var frame struct {
		Type    string
		Message chat.Message
	}
	if err := json.Unmarshal([]byte(frames[0]), &frame); err != nil {
		t.Fatal(err)
	}
	if frame.Type != "message" || frame.Message.ID != replyID || frame.Message.Author.Kind != chat.AuthorAgent ||
		frame.Message.Author.Name != "Ana" || frame.Message.Text != "We are on it" || frame.Message.ConversationID != f.ConvID {
		t.Fatalf("frame %s", frames[0])
	}
	if strings.Contains(frames[0], f.ID) {
		t.Fatalf("frame leaks the tenant id: %s", frames[0])
	}
}
