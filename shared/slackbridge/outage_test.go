package slackbridge_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/ids"
)

// TestDispatch_SlackOutageDoesNotTouchWidgetDelivery: while Slack answers 503 to
// every call, the visitor's other tab still gets each message exactly once, and
// no stream record fails because of Slack. The deliveries wait parked; once
// Slack is back the retry run posts the thread and both messages once, in
// order, and neither another run nor the batch handed over again (as Lambda
// does after a crash) posts anything twice.
func TestDispatch_SlackOutageDoesNotTouchWidgetDelivery(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	vid := ids.New(ids.Contact)
	auth := h.Connect(t, ten.ID, vid, "tab-A")
	h.Connect(t, ten.ID, vid, "tab-B")
	h.slack.SetDown(true)
	h.frame(t, "ws-send-message.json", auth, "tab-A", map[string]any{"action": "sendMessage", "clientMessageId": "cm-1", "text": "first"})
	h.frame(t, "ws-send-message.json", auth, "tab-A", map[string]any{"action": "sendMessage", "clientMessageId": "cm-2", "text": "second"})
	recs, err := h.Stream.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := recs
	// The event source mapping: retry from the first failed record, as Lambda does.
	for try := 0; try < 4 && len(recs) > 0; try++ {
		res, err := h.Dispatch.Batch(ctx, events.DynamoDBEvent{Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if try == 0 && len(res.BatchItemFailures) != 0 {
			t.Errorf("Slack's 429s failed stream records %v", res.BatchItemFailures)
		}
		first := len(recs)
		for _, f := range res.BatchItemFailures {
			if i := slices.IndexFunc(recs, func(r events.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier }); i >= 0 && i < first {
				first = i
			}
		}
		recs = recs[first:]
	}
	var texts []string
	for _, f := range h.Frames(t, "tab-B") {
		if f["type"] == "message" {
			texts = append(texts, f["message"].(map[string]any)["text"].(string))
		}
	}
	if slices.Compare(texts, []string{"first", "second"}) != 0 {
		t.Errorf("the other tab got %v, want first and second once each", texts)
	}
	if n := len(h.slack.Live()); n != 0 {
		t.Errorf("Slack has %d posts during the outage", n)
	}
	attempts := len(h.slack.Calls("chat.postMessage"))
	if attempts != 1 {
		t.Errorf("%d posts tried during the outage, want 1 (the rest parked behind it)", attempts)
	}

	h.slack.SetDown(false)
	if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 2 || sum.Failed != 0 {
		t.Fatalf("retry run: %+v %v", sum, err)
	}
	if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered+sum.Failed+sum.Dropped+sum.Left != 0 {
		t.Fatalf("second retry run: %+v %v", sum, err)
	}
	replayed, err := h.Dispatch.Batch(ctx, events.DynamoDBEvent{Records: all})
	if err != nil || len(replayed.BatchItemFailures) != 0 {
		t.Fatalf("replayed batch: %+v %v", replayed.BatchItemFailures, err)
	}
	live := h.slack.Live()
	if len(live) != 3 || live[1].Text != "*Visitor*: first" || live[2].Text != "*Visitor*: second" ||
		live[1].ThreadTS != live[0].TS || live[2].ThreadTS != live[0].TS {
		t.Fatalf("slack has %+v, want the header, first and second in one thread", live)
	}
	if n := len(h.slack.Messages()); n != 3 {
		t.Errorf("%d messages were ever posted, want 3", n)
	}
}
