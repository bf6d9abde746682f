package slackbridge_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// pumpOK hands the new stream records to dispatch and fails on a failed record.
func (h *harness) pumpOK(tb testing.TB) {
	tb.Helper()
	recs, err := h.Stream.Read(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	res, err := h.Dispatch.Batch(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil || len(res.BatchItemFailures) != 0 {
		tb.Fatalf("dispatch: %+v %v", res.BatchItemFailures, err)
	}
}

// TestTemplate_DispatchPolicyIsWhatItUses: the DynamoDB actions dispatch calls
// (stream batches with the widget and Slack, a gone connection, a parked
// delivery, the retry run) are exactly those DispatchFunction's role allows on
// the Data table, and the retry run's index Query is allowed on GSI1 only; the
// retry run is scheduled.
func TestTemplate_DispatchPolicyIsWhatItUses(t *testing.T) {
	m := testaws.NewMeter()
	h := newMeteredHarness(t, m)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	vid := ids.New(ids.Contact)
	h.Connect(t, ten.ID, vid, "live")
	h.Connect(t, ten.ID, vid, "stale")
	h.Mgmt.Gone("stale")
	ctx := context.Background()
	h.storeVisitorMessage(t, ten.ID, vid, "first")
	m.Reset()
	h.pumpOK(t) // widget, touch, Slack thread and post, a gone connection removed
	h.slack.SetDown(true)
	m2 := h.storeVisitorMessage(t, ten.ID, vid, "second")
	h.pumpOK(t) // parked
	h.slack.SetDown(false)
	if sum, err := h.Dispatch.Retry(ctx); err != nil || sum.Delivered != 1 {
		t.Fatalf("retry: %+v %v", sum, err)
	}
	if _, err := h.st.SlackPost(ctx, ten.ID, m2.ConversationID, m2.ID); err != nil {
		t.Fatalf("parked message not posted: %v", err)
	}
	fn, ok := testaws.Template(t).Resources["DispatchFunction"]
	if !ok {
		t.Fatal("template.yaml has no DispatchFunction")
	}
	tpl := testaws.Template(t)
	var used []string
	for a := range m.Actions() {
		used = append(used, a)
	}
	sort.Strings(used)
	if table := tpl.Allowed("DispatchFunction", "DataTable.Arn", "dynamodb"); fmt.Sprint(table) != fmt.Sprint(used) {
		t.Errorf("the role allows %v on the Data table; dispatch calls %v", table, used)
	}
	if gsi := tpl.Allowed("DispatchFunction", "${DataTable.Arn}/index/GSI1", "dynamodb"); fmt.Sprint(gsi) != "[Query]" {
		t.Errorf("GSI1 statement allows %v, want Query", gsi)
	}
	evs, _ := fn.Properties["Events"].(map[string]any)
	sched, _ := evs["RetryParked"].(map[string]any)
	props, _ := sched["Properties"].(map[string]any)
	if sched["Type"] != "Schedule" || props["Schedule"] != "rate(1 minute)" {
		t.Errorf("RetryParked event %v, want a schedule of rate(1 minute)", sched)
	}
}

// BenchmarkDispatch measures the DynamoDB cost of dispatching one visitor
// message (stream side: widget connections, activity, Slack) in the cases that
// matter, and of the retry run. The stream side pays one strongly consistent
// Query per tenant and batch for the parked check (1 RCU); parking is one
// PutItem with its index entry; a retry lists the index, reads the message and
// deletes the parked item (DeleteItem of an item in GSI1: 1 WCU for the table
// and 1 for the index entry's delete).
func BenchmarkDispatch(b *testing.B) {
	for _, tc := range []struct {
		name   string
		slack  bool // the tenant has Slack installed
		down   bool // Slack answers 503
		author string
	}{
		{"agent_reply", true, false, chat.AuthorAgent},
		{"visitor_no_slack", false, false, chat.AuthorVisitor},
		{"visitor_slack_up", true, false, chat.AuthorVisitor},
		{"visitor_slack_down_parked", true, true, chat.AuthorVisitor},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := testaws.NewMeter()
			h := newMeteredHarness(b, m)
			ten := h.tenant(b)
			if tc.slack {
				h.install(b, ten.ID)
			}
			vid := ids.New(ids.Contact)
			h.Connect(b, ten.ID, vid, "tab")
			h.storeVisitorMessage(b, ten.ID, vid, "first") // opens the thread
			h.pumpOK(b)
			h.slack.SetDown(tc.down)
			var used testaws.Usage
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				msg := h.storeVisitorMessage(b, ten.ID, vid, "again")
				if tc.author != chat.AuthorVisitor {
					if _, _, err := h.st.PutMessage(context.Background(), &chat.Message{TenantID: ten.ID, ConversationID: msg.ConversationID,
						ContactID: vid, Author: chat.Author{Kind: tc.author, Name: "Grace"}, Text: "reply", Channel: chat.ChannelWidget}, ten.Periods()); err != nil {
						b.Fatal(err)
					}
				}
				recs, err := h.Stream.Read(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if tc.author != chat.AuthorVisitor {
					recs = recs[len(recs)-1:] // only the reply's record
				}
				from := m.Usage()
				b.StartTimer()
				res, err := h.Dispatch.Batch(context.Background(), events.DynamoDBEvent{Records: recs})
				b.StopTimer()
				if err != nil || len(res.BatchItemFailures) != 0 {
					b.Fatalf("dispatch: %+v %v", res.BatchItemFailures, err)
				}
				used.AddSince(m, from)
				b.StartTimer()
			}
			used.Report(b)
		})
	}
	b.Run("retry_run_per_parked_delivery", func(b *testing.B) {
		m := testaws.NewMeter()
		h := newMeteredHarness(b, m)
		ten := h.tenant(b)
		h.install(b, ten.ID)
		vid := ids.New(ids.Contact)
		h.storeVisitorMessage(b, ten.ID, vid, "first")
		h.pumpOK(b)
		h.slack.SetDown(true)
		for range b.N {
			h.storeVisitorMessage(b, ten.ID, vid, "again")
		}
		h.pumpOK(b)
		h.slack.SetDown(false)
		m.Reset()
		b.ResetTimer()
		sum, err := h.Dispatch.Retry(context.Background())
		b.StopTimer()
		if err != nil || sum.Delivered != b.N {
			b.Fatalf("retry: %+v %v", sum, err)
		}
		m.Usage().Report(b)
	})
	b.Run("retry_run_idle", func(b *testing.B) {
		m := testaws.NewMeter()
		h := newMeteredHarness(b, m)
		m.Reset()
		for range b.N {
			if _, err := h.Dispatch.Retry(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		m.Usage().Report(b)
	})
}
