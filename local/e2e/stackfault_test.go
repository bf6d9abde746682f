package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/stack"
	"github.com/livesupportbot/backend/shared/store"
)

// outgoing is one message a widget sends, with what became of it.
type outgoing struct {
	cmid, text string
	sends      int
	lastSent   time.Time
	ackIDs     []string // message id of each ack
}

// resendingWidget plays the widget's contract: it sends messages in order at
// a pace, and resends a message not acked within resendAfter with the same
// clientMessageId, at most maxResends times, or without a limit once final.
// One goroutine writes, one reads.
type resendingWidget struct {
	v           *visitor
	pace        time.Duration
	resendAfter time.Duration
	maxResends  int

	mu        sync.Mutex
	msgs      []*outgoing
	queue     []*outgoing // not sent yet
	lastNew   time.Time
	final     bool
	frames    int // frames written, resends included
	internal  int // "Internal server error" answers (failed invocations)
	errFrames []string
	conv      string
	writeErr  error
}

func newResendingWidget(v *visitor) *resendingWidget {
	return &resendingWidget{v: v, pace: 250 * time.Millisecond, resendAfter: 3 * time.Second, maxResends: 2}
}

// add queues n messages whose clientMessageIds start with prefix.
func (w *resendingWidget) add(prefix string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range n {
		cmid := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), i)
		m := &outgoing{cmid: cmid, text: "question " + cmid}
		w.msgs = append(w.msgs, m)
		w.queue = append(w.queue, m)
	}
}

func (w *resendingWidget) run(stop <-chan struct{}) {
	go w.read()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var due []*outgoing
		now := time.Now()
		w.mu.Lock()
		if len(w.queue) > 0 && now.Sub(w.lastNew) >= w.pace {
			due = append(due, w.queue[0])
			w.queue, w.lastNew = w.queue[1:], now
		}
		for _, m := range w.msgs {
			if m.sends > 0 && len(m.ackIDs) == 0 && now.Sub(m.lastSent) >= w.resendAfter && (w.final || m.sends <= w.maxResends) {
				due = append(due, m)
			}
		}
		for _, m := range due {
			m.sends++
			m.lastSent = now
			w.frames++
		}
		w.mu.Unlock()
		for _, m := range due {
			b, _ := json.Marshal(map[string]any{"action": "sendMessage", "clientMessageId": m.cmid, "text": m.text})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := w.v.conn.Write(ctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				w.mu.Lock()
				w.writeErr = err
				w.mu.Unlock()
				return
			}
		}
	}
}

func (w *resendingWidget) read() {
	for f := range w.v.frames {
		w.mu.Lock()
		switch {
		case f["type"] == "ack":
			msg, _ := f["message"].(map[string]any)
			id, _ := msg["id"].(string)
			w.conv, _ = msg["conversationId"].(string)
			for _, m := range w.msgs {
				if m.cmid == f["clientMessageId"] {
					m.ackIDs = append(m.ackIDs, id)
				}
			}
		case f["message"] == "Internal server error":
			w.internal++
		case f["type"] == "error":
			w.errFrames = append(w.errFrames, fmt.Sprintf("%v %v", f["code"], f["clientMessageId"]))
		}
		w.mu.Unlock()
	}
}

// conversation returns the conversation the acks named.
func (w *resendingWidget) conversation() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conv
}

// unacked returns how many sent or queued messages have no ack yet.
func (w *resendingWidget) unacked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if len(m.ackIDs) == 0 {
			n++
		}
	}
	return n
}

// awaitAcks waits up to d for every message to be acked and reports whether
// they were.
func awaitAcks(ws []*resendingWidget, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n := 0
		for _, w := range ws {
			n += w.unacked()
		}
		if n == 0 {
			return true
		}
	}
	return false
}

// halfWritten counts, straight from the table, the dedupe markers of a
// conversation that name no stored message: ingests that stopped between
// their two writes.
func halfWritten(tb testing.TB, s *stack.Stack, ten tenant, conv string) int {
	tb.Helper()
	db := dynamodb.NewFromConfig(s.AWS)
	markers, messages := map[string]bool{}, map[string]bool{}
	var start map[string]types.AttributeValue
	for {
		out, err := db.Query(context.Background(), &dynamodb.QueryInput{
			TableName:                 aws.String(s.Tables["DataTable"]),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.ConversationPK(ten.ID, conv)}},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			tb.Fatalf("query conversation %s: %v", conv, err)
		}
		for _, it := range out.Items {
			sk, _ := it["SK"].(*types.AttributeValueMemberS)
			switch {
			case sk != nil && strings.HasPrefix(sk.Value, "CMID#"):
				if ms, ok := it["messageSk"].(*types.AttributeValueMemberS); ok {
					markers[ms.Value] = true
				} else {
					tb.Fatalf("marker %s has no messageSk: %v", sk.Value, it)
				}
			case sk != nil && strings.HasPrefix(sk.Value, "MSG#"):
				messages[sk.Value] = true
			}
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	n := 0
	for k := range markers {
		if !messages[k] {
			n++
		}
	}
	return n
}

// TestStackFault_StalledMotoAndKilledInstancesLoseAndDuplicateNothing chats
// through faults of the running stack: two visitors' widgets send messages in
// order and resend unacked ones with the same clientMessageId. Mid-chat,
// moto withholds its PutItem answers for longer than ws-message's timeout (the
// writes land, their callers time out half-way through an ingest), and then
// the ws-message instances busy with an ingest are killed. Every message sent
// must be stored exactly once, and every ack of a message name the same
// stored message.
func TestStackFault_StalledMotoAndKilledInstancesLoseAndDuplicateNothing(t *testing.T) {
	// A stack of its own: the stall and the kills must not disturb the
	// shared stack's other tests.
	s := ownStack(t, "stackfault")
	pool := s.Functions["WsMessageFunction"]
	if pool == nil {
		t.Fatal("the stack runs no WsMessageFunction")
	}
	// Leave the shared stack as found, whatever happens: no stall left.
	t.Cleanup(func() { s.StallMoto(0) })
	ten := newTenant(t, s)
	raiseLimits(t, s, ten)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	var ws []*resendingWidget
	for range 2 {
		w := newResendingWidget(newVisitor(t, s, ten.WidgetKey))
		ws = append(ws, w)
		wg.Go(func() { w.run(stop) })
	}
	// Each visitor's first message opens its conversation before the faults.
	for _, w := range ws {
		w.add("open", 1)
	}
	if !awaitAcks(ws, 20*time.Second) {
		t.Fatal("the first messages were not acked")
	}
	report := func(what string) {
		n := 0
		for _, w := range ws {
			n += halfWritten(t, s, ten, w.conversation())
		}
		t.Logf("%s: %d ingests half-written at that moment (a marker, no message yet)", what, n)
	}

	// Fault 1: moto withholds PutItem answers for 12 s, longer than
	// ws-message's 10 s timeout, while the visitors send.
	const stall = 12 * time.Second
	start := time.Now()
	for _, w := range ws {
		w.add("stall", 10)
	}
	time.Sleep(time.Second)
	s.StallMoto(stall, "PutItem")
	time.Sleep(stall)
	report(fmt.Sprintf("moto stall of %v over", stall))

	// Fault 2: the ws-message instances busy with an ingest are killed: first
	// while PutItem answers are held (after the marker landed), then wherever
	// they are.
	for _, w := range ws {
		w.add("kill", 10)
	}
	time.Sleep(500 * time.Millisecond)
	s.StallMoto(2*time.Second, "PutItem")
	time.Sleep(time.Second)
	killed := pool.KillBusy()
	time.Sleep(1500 * time.Millisecond)
	killed += pool.KillBusy()
	report("kills over")

	// After the faults the widgets resend every unacked message until acked.
	for _, w := range ws {
		w.mu.Lock()
		w.final = true
		w.mu.Unlock()
	}
	allAcked := awaitAcks(ws, 30*time.Second)
	elapsed := time.Since(start)

	var sent, frames, internal, resent, lost, dup, stored, ackMismatch int
	var errFrames []string
	for _, w := range ws {
		w.mu.Lock()
		if w.writeErr != nil {
			t.Errorf("widget write: %v", w.writeErr)
		}
		got := storedMessages(t, s, ten.APIKey, w.conv) // under w.mu
		frames += w.frames
		internal += w.internal
		errFrames = append(errFrames, w.errFrames...)
		for _, ids := range got {
			stored += len(ids)
		}
		for _, m := range w.msgs {
			sent++
			if m.sends > 1 {
				resent++
			}
			ids := got[m.text]
			switch {
			case len(ids) == 0:
				lost++
				t.Errorf("%s: sent %d times, acked %d times, not stored", m.cmid, m.sends, len(m.ackIDs))
			case len(ids) > 1:
				dup++
				t.Errorf("%s: stored %d times: %v", m.cmid, len(ids), ids)
			}
			for _, id := range m.ackIDs {
				if len(ids) != 1 || id != ids[0] {
					ackMismatch++
					t.Errorf("%s: an ack names %s, the store holds %v", m.cmid, id, ids)
				}
			}
			if len(m.ackIDs) == 0 {
				t.Errorf("%s: never acked after %d sends", m.cmid, m.sends)
			}
		}
		w.mu.Unlock()
	}
	writeFigures(t, "stackfault.txt", []string{
		fmt.Sprintf("moto PutItem answers held %v (ws-message timeout 10 s), then busy ws-message instances killed twice", stall),
		fmt.Sprintf("sent %d messages in %d frames (%d messages resent), %d invocations failed with \"Internal server error\" (%d killed, %d timed out), error frames %v",
			sent, frames, resent, internal, killed, internal-killed, errFrames),
		fmt.Sprintf("stored %d: %d lost, %d duplicated, %d acks naming another message; all acked: %v, %v after the first fault",
			stored, lost, dup, ackMismatch, allAcked, elapsed.Round(time.Millisecond)),
	})
	// The faults must have bitten, or the test proves nothing.
	if killed == 0 {
		t.Error("KillBusy found no busy ws-message instance")
	}
	if internal <= killed {
		t.Errorf("%d failed invocations with %d killed: no invocation timed out in the stall", internal, killed)
	}
	if resent == 0 {
		t.Error("no message needed a resend")
	}

	// The stack is left healthy: no stall, and ws-message answers at once.
	s.StallMoto(0)
	v := newVisitor(t, s, ten.WidgetKey)
	v.send(t, map[string]any{"action": "ping"})
	v.next(t, "pong", typeIs("pong"))
}
