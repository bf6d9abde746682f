package wsmessage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

type waitKey struct{}

const (
	sendFrame     = `{"action":"sendMessage","clientMessageId":"first","text":"Hello, anyone there?"}`
	identifyFrame = `{"action":"identify","name":"Ada Visitor","email":"ada@example.com"}`
)

// checkVisitor checks that a visitor who sent a first message and gave name
// and email kept both and has exactly one open conversation: the one its ack
// named, which its contact names.
func (h *hookedHarness) checkVisitor(t *testing.T, tenantID, visitorID, connID string) {
	t.Helper()
	var conv string
	for _, f := range h.Frames(t, connID) {
		switch f["type"] {
		case "ack":
			conv, _ = f["message"].(map[string]any)["conversationId"].(string)
		case "error":
			t.Errorf("error frame %v", f)
		}
	}
	c, err := h.st.Contact(context.Background(), tenantID, visitorID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Ada Visitor" || c.Email != "ada@example.com" {
		t.Errorf("contact has name %q email %q: identify was lost", c.Name, c.Email)
	}
	var open []string
	for _, p := range h.rawPartition(t, store.ContactPK(tenantID, visitorID), "CONV#") {
		cv, err := h.st.Conversation(context.Background(), tenantID, sval(p, "conversationId"))
		if err != nil {
			t.Fatal(err)
		}
		if cv.Status == chat.StatusOpen {
			open = append(open, cv.ID)
		}
	}
	if len(open) != 1 || open[0] != conv || c.OpenConversationID != conv {
		t.Errorf("open conversations %v, contact names %q, ack named %q; want exactly one", open, c.OpenConversationID, conv)
	}
}

// TestFirstMessageAndIdentify_EveryInterleaving runs a visitor's first
// sendMessage and its identify as two ws-message instances would: one frame
// waits before each of its DynamoDB calls in turn while the other frame runs
// completely (and once after its last call). The visitor always keeps its name
// and email and has exactly one open conversation.
func TestFirstMessageAndIdentify_EveryInterleaving(t *testing.T) {
	h := newHookedHarness(t)
	tn := h.tenant(t)
	frames := []struct{ name, event, body string }{
		{"sendMessage", "ws-send-message.json", sendFrame},
		{"identify", "ws-identify.json", identifyFrame},
	}
	for i, waits := range frames {
		other := frames[1-i]
		for k := 0; ; k++ {
			v := ids.New(ids.Contact)
			conn := "conn-" + v
			auth := h.Connect(t, tn.ID, v, conn)
			calls, ran := 0, false
			h.hook.Hook = func(ctx context.Context, call string, in any) error {
				if ctx.Value(waitKey{}) == nil {
					return nil
				}
				if calls == k && !ran {
					ran = true
					h.frameCtx(t, context.Background(), other.event, auth, conn, other.body)
				}
				calls++
				return nil
			}
			h.frameCtx(t, context.WithValue(context.Background(), waitKey{}, true), waits.event, auth, conn, waits.body)
			h.hook.Hook = nil
			name := fmt.Sprintf("%s waits before call %d, %s runs", waits.name, k, other.name)
			if !ran {
				name = waits.name + " then " + other.name
				h.frameCtx(t, context.Background(), other.event, auth, conn, other.body)
			}
			t.Run(name, func(t *testing.T) { h.checkVisitor(t, tn.ID, v, conn) })
			if !ran {
				break
			}
		}
	}
}

// TestFirstMessageAndIdentify_Concurrent sends a first sendMessage and an
// identify at the same moment, as two ws-message instances, for many visitors.
// Each DynamoDB request is applied on its own, as DynamoDB applies it (moto
// alone can lose writes of concurrent requests); the two frames interleave
// between their requests as the scheduler has it.
func TestFirstMessageAndIdentify_Concurrent(t *testing.T) {
	h := newHookedHarness(t)
	h.hook.Serialize = true
	tn := h.tenant(t)
	for i := range 20 {
		v := ids.New(ids.Contact)
		conn := "conn-" + v
		auth := h.Connect(t, tn.ID, v, conn)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, f := range []struct{ event, body string }{
			{"ws-send-message.json", sendFrame}, {"ws-identify.json", identifyFrame},
		} {
			wg.Go(func() {
				<-start
				h.frameCtx(t, context.Background(), f.event, auth, conn, f.body)
			})
		}
		close(start)
		wg.Wait()
		t.Run(fmt.Sprintf("visitor %d", i), func(t *testing.T) { h.checkVisitor(t, tn.ID, v, conn) })
	}
}
