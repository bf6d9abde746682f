package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/pushertest"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

func TestDispatch_GoneConnectionRemovedOthersUntouched(t *testing.T) {
	ctx := context.Background()
	st := testaws.NewTables(t).Store()
	mgmt := pushertest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := dispatch.New(dispatch.Deps{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Log: log,
		Deliverers: []dispatch.Deliverer{&dispatch.Widget{Store: st, Pusher: mgmt.Pusher(), Log: log}}})
	tid, vid := "t0000000000000000000000000", "c0000000000000000000000000"
	for _, id := range []string{"live1", "stale", "live2"} {
		if err := st.PutConnection(ctx, &chat.Connection{ID: id, TenantID: tid, ContactID: vid, ConnectedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// Another visitor's connection must not be touched either.
	if err := st.PutConnection(ctx, &chat.Connection{ID: "elsewhere", TenantID: tid, ContactID: ids.New(ids.Contact), ConnectedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mgmt.Gone("stale")
	var ev events.DynamoDBEvent
	testaws.LoadEvent(t, "dispatch.json", &ev)
	res, err := h.Batch(ctx, ev)
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %v", res, err)
	}
	conns, _ := st.Connections(ctx, tid, vid)
	var left []string
	for _, c := range conns {
		left = append(left, c.ID)
	}
	if len(left) != 2 || left[0] != "live1" || left[1] != "live2" {
		t.Fatalf("connections left %v, want [live1 live2]", left)
	}
	for _, id := range []string{"live1", "live2"} {
		if f := mgmt.Frames(id); len(f) != 1 {
			t.Fatalf("%s got %d frames, want 1", id, len(f))
		}
	}
	if f := mgmt.Frames("elsewhere"); len(f) != 0 {
		t.Fatalf("another visitor's connection got %v", f)
	}
}

// TestDispatch_BatchStopsAtTheFailedRecord: Lambda retries a batch from its
// first failed record on, so the handler reports that record and leaves the
// ones after it alone (running them now would run them twice).
func TestDispatch_BatchStopsAtTheFailedRecord(t *testing.T) {
	ctx := context.Background()
	st := testaws.NewTables(t).Store()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var texts []string
	h := dispatch.New(dispatch.Deps{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Log: log,
		Deliverers: []dispatch.Deliverer{dispatch.DelivererFunc(func(_ context.Context, m *chat.Message) error {
			texts = append(texts, m.Text)
			if m.Text == "bad" {
				return chat.Errorf(chat.EInternal, "boom")
			}
			return nil
		})}})
	var ev events.DynamoDBEvent
	testaws.LoadEvent(t, "dispatch.json", &ev)
	good := ev.Records[0]
	bad := good
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range good.Change.NewImage {
		img[k] = v
	}
	img["text"] = events.NewStringAttribute("bad")
	bad.Change.NewImage, bad.Change.SequenceNumber = img, "200"
	notMsg := good
	notMsg.Change.Keys = map[string]events.DynamoDBAttributeValue{"PK": good.Change.Keys["PK"], "SK": events.NewStringAttribute("META")}
	ev.Records = []events.DynamoDBEventRecord{notMsg, good, bad, good}
	res, _ := h.Batch(ctx, ev)
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != "200" {
		t.Fatalf("failures %v, want only sequence 200", res.BatchItemFailures)
	}
	if strings.Join(texts, ",") != "Hi! How can I help?,bad" {
		t.Fatalf("delivered %q, want the good record and the failed one (non-message records skipped, none after the failure)", texts)
	}
}
