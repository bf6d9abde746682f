package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/store"
)

// interleaved returns message records of conversations convs, n each, taken
// in turn (a1 b1 a2 b2 ...), their texts "<conv>:<i>" and their sequence
// numbers rising in stream order.
func interleaved(t *testing.T, convs []string, n int) []events.DynamoDBEventRecord {
	t.Helper()
	var ev events.DynamoDBEvent
	testaws.LoadEvent(t, "dispatch.json", &ev)
	base := ev.Records[0]
	var out []events.DynamoDBEventRecord
	for i := 1; i <= n; i++ {
		for c, conv := range convs {
			convID := fmt.Sprintf("cv%026d", c+1)
			pk := events.NewStringAttribute(store.ConversationPK(tenantID, convID))
			id := fmt.Sprintf("m%025d%d", i, c)
			sk := events.NewStringAttribute(fmt.Sprintf("MSG#2026-11-28T10:00:%02d.000000Z#%s", i, id))
			img := map[string]events.DynamoDBAttributeValue{}
			for k, v := range base.Change.NewImage {
				img[k] = v
			}
			img["PK"], img["SK"], img["id"] = pk, sk, events.NewStringAttribute(id)
			img["conversationId"], img["text"] = events.NewStringAttribute(convID), events.NewStringAttribute(fmt.Sprintf("%s:%d", conv, i))
			r := base
			r.EventID = fmt.Sprint(len(out))
			r.Change.NewImage = img
			r.Change.Keys = map[string]events.DynamoDBAttributeValue{"PK": pk, "SK": sk}
			r.Change.SequenceNumber = fmt.Sprintf("1%020d", len(out))
			out = append(out, r)
		}
	}
	return out
}

// recorder is a stream deliverer that records every call per conversation
// and how many ran at once; before runs first and may fail the call.
type recorder struct {
	mu       sync.Mutex
	calls    []string            // every call, in the order they started
	byConv   map[string][]string // texts per conversation, in call order
	inFlight int
	maxAtOne int
	before   func(ctx context.Context, text string) error
}

func (r *recorder) Deliver(ctx context.Context, m *chat.Message) error {
	conv, _, _ := strings.Cut(m.Text, ":")
	r.mu.Lock()
	if r.byConv == nil {
		r.byConv = map[string][]string{}
	}
	r.calls = append(r.calls, m.Text)
	r.byConv[conv] = append(r.byConv[conv], m.Text)
	r.inFlight++
	r.maxAtOne = max(r.maxAtOne, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	if r.before != nil {
		return r.before(ctx, m.Text)
	}
	return nil
}

func (r *recorder) conv(c string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.byConv[c]...)
}

// posts is an outbound destination that records what it is given.
type posts struct {
	mu   sync.Mutex
	list []string
}

func (p *posts) Deliver(_ context.Context, m *chat.Message) error {
	p.mu.Lock()
	p.list = append(p.list, m.Text)
	p.mu.Unlock()
	return nil
}

func concurrentHandler(t *testing.T, r *recorder, out *posts) *dispatch.Handler {
	st := testaws.NewTables(t).Store()
	d := dispatch.Deps{Store: st, Tenants: store.NewTenantCache(st, time.Minute), Workers: 8,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Deliverers: []dispatch.Deliverer{r}}
	if out != nil {
		d.Outbound = []dispatch.Destination{{Name: "slack", Deliverer: out}}
	}
	return dispatch.New(d)
}

// TestDispatch_ConversationsRunInParallelEachInOrder: the records of
// different conversations are delivered at the same time, and each
// conversation's records one after another in stream order.
func TestDispatch_ConversationsRunInParallelEachInOrder(t *testing.T) {
	convs := []string{"a", "b", "c", "d"}
	r := &recorder{before: func(context.Context, string) error { time.Sleep(20 * time.Millisecond); return nil }}
	h := concurrentHandler(t, r, nil)
	res, err := h.Batch(context.Background(), events.DynamoDBEvent{Records: interleaved(t, convs, 5)})
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("batch: %v %v", res, err)
	}
	for _, c := range convs {
		want := []string{c + ":1", c + ":2", c + ":3", c + ":4", c + ":5"}
		if got := r.conv(c); !slices.Equal(got, want) {
			t.Errorf("conversation %s delivered %v, want %v", c, got, want)
		}
	}
	if r.maxAtOne < 2 || r.maxAtOne > len(convs) {
		t.Errorf("at most %d deliveries ran at once, want 2..%d (one per conversation)", r.maxAtOne, len(convs))
	}
}

// TestDispatch_FailingConversationHoldsBackAndLosesNoOther: conversation a is
// slow, then fails on its second record; b is delivered meanwhile. The batch
// reports a's failed record (the first failure in stream order), a's third
// record waits for the retry, and the outbound destination gets only the
// records before the failure. Replaying the stream from the reported record
// on delivers everything: no record before it runs twice, each conversation
// stays in order, and Slack gets each message once, in stream order.
func TestDispatch_FailingConversationHoldsBackAndLosesNoOther(t *testing.T) {
	bDone := make(chan struct{})
	var once sync.Once
	var failedOnce bool
	var mu sync.Mutex
	r := &recorder{}
	r.before = func(_ context.Context, text string) error {
		switch text {
		case "a:1": // slow: b's records must not wait for it
			select {
			case <-bDone:
			case <-time.After(5 * time.Second):
				return errors.New("b was held back by a")
			}
		case "a:2":
			mu.Lock()
			defer mu.Unlock()
			if !failedOnce {
				failedOnce = true
				return errors.New("execute-api: 500")
			}
		case "b:3":
			once.Do(func() { close(bDone) })
		}
		return nil
	}
	out := &posts{}
	h := concurrentHandler(t, r, out)
	recs := interleaved(t, []string{"a", "b"}, 3) // a:1 b:1 a:2 b:2 a:3 b:3
	first := stream(t, h, recs, 3)
	if len(first) != 1 || first[0].ItemIdentifier != recs[2].Change.SequenceNumber {
		t.Fatalf("first attempt reported %v, want a:2's record %s", first, recs[2].Change.SequenceNumber)
	}
	// a: a:1, a:2 (failed), then the retry from a:2 on.
	if got := r.conv("a"); !slices.Equal(got, []string{"a:1", "a:2", "a:2", "a:3"}) {
		t.Errorf("conversation a delivered %v, want a:1 a:2 (failed) a:2 a:3", got)
	}
	// b ran to its end during the first attempt (a:1 waited for b:3); the
	// retry from a:2 delivers b:2 and b:3 again (the widget drops repeats),
	// never b:1.
	if got := r.conv("b"); !slices.Equal(got, []string{"b:1", "b:2", "b:3", "b:2", "b:3"}) {
		t.Errorf("conversation b delivered %v, want b:1 b:2 b:3, then b:2 b:3 again", got)
	}
	if want := []string{"a:1", "b:1", "a:2", "b:2", "a:3", "b:3"}; !slices.Equal(out.list, want) {
		t.Errorf("outbound got %v, want %v (each once, in stream order)", out.list, want)
	}
}

// TestDispatch_ReportsTheFirstFailureInStreamOrder: when two conversations
// fail, the record reported is the earlier in the stream, whichever failed
// first in time, and nothing after it reaches the outbound destination.
func TestDispatch_ReportsTheFirstFailureInStreamOrder(t *testing.T) {
	r := &recorder{before: func(_ context.Context, text string) error {
		switch text {
		case "b:1":
			time.Sleep(100 * time.Millisecond) // fails after a:2 has
			return errors.New("b down")
		case "a:2":
			return errors.New("a down")
		}
		return nil
	}}
	out := &posts{}
	h := concurrentHandler(t, r, out)
	recs := interleaved(t, []string{"a", "b"}, 2) // a:1 b:1 a:2 b:2
	res, err := h.Batch(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != recs[1].Change.SequenceNumber {
		t.Fatalf("reported %v, want b:1's record %s", res.BatchItemFailures, recs[1].Change.SequenceNumber)
	}
	if !slices.Equal(out.list, []string{"a:1"}) {
		t.Errorf("outbound got %v, want only a:1 (the records before the failure)", out.list)
	}
	if got := r.conv("b"); !slices.Equal(got, []string{"b:1"}) {
		t.Errorf("conversation b delivered %v, want only b:1 (it stops at its failure)", got)
	}
}
