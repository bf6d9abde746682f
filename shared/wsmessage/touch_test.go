package wsmessage_test

import (
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/dispatch"
	"github.com/livesupportbot/backend/shared/ids"
)

// Dispatch remembers the activity a conversation records, so a message less
// than dispatch.TouchStep after it costs no write (it used to cost a failed
// conditional UpdateItem), and one a step later moves the conversation.
func TestDispatch_SkipsTouchesThatWouldNotBeWritten(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	h := newHarnessAt(t, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "connA")
	updates := func(cmid string) int {
		h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"`+cmid+`","text":"hello"}`)
		h.meter.Reset()
		h.Pump(t)
		calls, _, _ := h.meter.Snapshot()
		return calls["UpdateItem"] - 1 // every message updates its conversation's summary once
	}
	updates("open")
	advance(2 * dispatch.TouchStep)
	if n := updates("later"); n != 1 {
		t.Fatalf("a message a step later made %d updates, want 1 (the touch)", n)
	}
	advance(dispatch.TouchStep / 2)
	if n := updates("soon"); n != 0 {
		t.Fatalf("a message half a step later made %d updates, want none", n)
	}
	advance(dispatch.TouchStep)
	if n := updates("after"); n != 1 {
		t.Fatalf("a message a step after the touch made %d updates, want 1", n)
	}
}
