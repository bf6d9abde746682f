package wsmessage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

func TestTwoConnections_AckedOnSenderDeliveredOnOther(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "connA")
	h.Connect(t, tn.ID, v, "connB")

	h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"cm-1","text":"Hello there"}`)
	got := h.Frames(t, "connA")
	if len(got) != 1 || got[0]["type"] != "ack" || got[0]["clientMessageId"] != "cm-1" {
		t.Fatalf("sender got %v, want one ack for cm-1", got)
	}
	ack := got[0]["message"].(map[string]any)
	if res := h.Pump(t); len(res.BatchItemFailures) != 0 {
		t.Fatalf("dispatch failures: %v", res.BatchItemFailures)
	}
	other := h.Frames(t, "connB")
	if len(other) != 1 || other[0]["type"] != "message" {
		t.Fatalf("other connection got %v, want one message frame", other)
	}
	m := other[0]["message"].(map[string]any)
	if m["id"] != ack["id"] || m["text"] != "Hello there" || m["author"].(map[string]any)["kind"] != "visitor" {
		t.Fatalf("delivered %v, want the acked message %v", m, ack)
	}
	if n := len(h.Frames(t, "connA")); n != 1 {
		t.Fatalf("sender got %d frames, want only its ack (no echo)", n)
	}
}

func TestSendMessage_DuplicateClientIDStoresOnce(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "connA")
	for range 3 {
		h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"same","text":"once"}`)
	}
	acks := h.Frames(t, "connA")
	if len(acks) != 3 {
		t.Fatalf("got %d acks, want 3", len(acks))
	}
	first := acks[0]["message"].(map[string]any)["id"]
	for _, f := range acks {
		if f["type"] != "ack" || f["message"].(map[string]any)["id"] != first {
			t.Fatalf("resend acked %v, want the original %v", f, first)
		}
	}
	if msgs := h.history(t, tn.ID, v); len(msgs) != 1 {
		t.Fatalf("stored %d messages, want 1", len(msgs))
	}
}

func TestBadFrames_ErrorFrameAndNothingStored(t *testing.T) {
	long := strings.Repeat("é", 4001)
	cases := []struct {
		name, event, body, code string
	}{
		{"malformed JSON", "ws-default.json", `{not json`, "invalid"},
		{"trailing data", "ws-default.json", `{"action":"ping"} {}`, "invalid"},
		{"unknown action", "ws-default.json", `{"action":"dance"}`, "invalid"},
		{"text too long", "ws-send-message.json", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"x","text":%q}`, long), "too_large"},
		{"frame too large", "ws-send-message.json", `{"action":"sendMessage","clientMessageId":"x","text":"` + strings.Repeat("a", 70000) + `"}`, "too_large"},
		{"missing text", "ws-send-message.json", `{"action":"sendMessage","clientMessageId":"x"}`, "invalid"},
		{"blank text", "ws-send-message.json", `{"action":"sendMessage","clientMessageId":"x","text":"  "}`, "invalid"},
		{"missing client id", "ws-send-message.json", `{"action":"sendMessage","text":"hi"}`, "invalid"},
		{"text wrong type", "ws-send-message.json", `{"action":"sendMessage","clientMessageId":"x","text":5}`, "invalid"},
		{"bad typing state", "ws-typing.json", `{"action":"typing","state":"maybe"}`, "invalid"},
		{"bad identify email", "ws-identify.json", `{"action":"identify","name":"A","email":"nope"}`, "invalid"},
	}
	h := newHarness(t)
	tn := h.tenant(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := ids.New(ids.Contact)
			a := h.Connect(t, tn.ID, v, "conn-"+v)
			h.Frame(t, c.event, a, "conn-"+v, c.body)
			got := h.Frames(t, "conn-"+v)
			if len(got) != 1 || got[0]["type"] != "error" || got[0]["code"] != c.code {
				t.Fatalf("got %v, want one error frame %q", got, c.code)
			}
			if msgs := h.history(t, tn.ID, v); len(msgs) != 0 {
				t.Fatalf("stored %d messages, want none", len(msgs))
			}
			// The connection stays usable: a ping still answers.
			h.Frame(t, "ws-ping.json", a, "conn-"+v, "")
			if got := h.Frames(t, "conn-"+v); got[len(got)-1]["type"] != "pong" {
				t.Fatalf("after error got %v, want pong", got[len(got)-1])
			}
		})
	}
}

func TestHistoryAndIdentify(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c1")
	h.Frame(t, "ws-identify.json", a, "c1", "")
	for i := range 3 {
		h.Frame(t, "ws-send-message.json", a, "c1", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"m%d","text":"n%d"}`, i, i))
	}
	h.Frame(t, "ws-history.json", a, "c1", "")
	got := h.Frames(t, "c1")
	if got[0]["type"] != "identified" || got[0]["name"] != "Ada Visitor" {
		t.Fatalf("identify answered %v", got[0])
	}
	hist := got[len(got)-1]
	msgs := hist["messages"].([]any)
	if hist["type"] != "history" || len(msgs) != 3 {
		t.Fatalf("history %v, want 3 messages", hist)
	}
	for i, m := range msgs {
		mm := m.(map[string]any)
		if mm["text"] != fmt.Sprintf("n%d", i) || mm["author"].(map[string]any)["name"] != "Ada Visitor" {
			t.Fatalf("message %d = %v, want n%d by Ada Visitor (oldest first)", i, mm, i)
		}
	}
}

func TestVisitorOfTenantA_CannotReachTenantB(t *testing.T) {
	h := newHarness(t)
	ta, tb := h.tenant(t), h.tenant(t)
	v := ids.New(ids.Contact)
	// The same visitor id has a conversation at B.
	b := h.Connect(t, tb.ID, v, "connB")
	h.Frame(t, "ws-send-message.json", b, "connB", `{"action":"sendMessage","clientMessageId":"b1","text":"secret of B"}`)

	a := h.Connect(t, ta.ID, v, "connA")
	h.Frame(t, "ws-history.json", a, "connA", "")
	got := h.Frames(t, "connA")
	if len(got) != 1 || len(got[0]["messages"].([]any)) != 0 {
		t.Fatalf("tenant A visitor read %v, want an empty history", got)
	}
	h.Frame(t, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"b1","text":"from A"}`)
	if msgs := h.history(t, tb.ID, v); len(msgs) != 1 || msgs[0].Text != "secret of B" {
		t.Fatalf("B's conversation changed: %v", msgs)
	}
	h.Pump(t)
	if n := len(h.Frames(t, "connB")); n != 1 {
		t.Fatalf("B's connection got %d frames, want only its own ack", n)
	}
}

func TestLogs_CarryNoTextTokensOrEmails(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c1")
	h.Frame(t, "ws-identify.json", a, "c1", `{"action":"identify","name":"Ada Visitor","email":"ada@example.com"}`)
	h.Frame(t, "ws-send-message.json", a, "c1", `{"action":"sendMessage","clientMessageId":"x","text":"my card is 4111"}`)
	h.Frame(t, "ws-send-message.json", a, "c1", `{"action":"sendMessage","clientMessageId":"y","text":"`+strings.Repeat("z", 5000)+`"}`)
	h.Frame(t, "ws-default.json", a, "c1", `{"text":"my card is 4111"`)
	h.Mgmt.Gone("c1")
	h.Frame(t, "ws-send-message.json", a, "c1", `{"action":"sendMessage","clientMessageId":"w","text":"my card is 4111"}`)
	logs := h.logs.String()
	for _, leak := range []string{"4111", "ada@example.com", "Ada Visitor", "zzzz", secret} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}

func TestErasedVisitor_RefusedNotRecreated(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	ctx := context.Background()
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c1")
	if err := h.st.Suppress(ctx, tn.ID, chat.SuppressContact, v, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Suppress(ctx, tn.ID, chat.SuppressEmail, "erased@example.com", "r2"); err != nil {
		t.Fatal(err)
	}
	h.Frame(t, "ws-send-message.json", a, "c1", `{"action":"sendMessage","clientMessageId":"x","text":"I am back"}`)
	h.Frame(t, "ws-identify.json", a, "c1", `{"action":"identify","name":"E","email":"Erased@example.com"}`)
	got := h.Frames(t, "c1")
	if len(got) != 2 || got[0]["code"] != "unauthorized" || got[1]["type"] != "error" {
		t.Fatalf("erased visitor got %v, want two error frames", got)
	}
	if _, err := h.st.Contact(ctx, tn.ID, v); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("erased contact re-created: %v", err)
	}
	// A new visitor may not take the erased email either.
	w := ids.New(ids.Contact)
	b := h.Connect(t, tn.ID, w, "c2")
	h.Frame(t, "ws-identify.json", b, "c2", `{"action":"identify","name":"E","email":"erased@example.com"}`)
	if got := h.Frames(t, "c2"); len(got) != 1 || got[0]["type"] != "error" {
		t.Fatalf("erased email accepted: %v", got)
	}
}

func TestTyping_ShownOnTheVisitorsOtherConnections(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "tabA")
	h.Connect(t, tn.ID, v, "tabB")
	h.Connect(t, tn.ID, ids.New(ids.Contact), "someoneElse")
	h.Frame(t, "ws-typing.json", a, "tabA", `{"action":"typing","state":"start"}`)
	got := h.Frames(t, "tabB")
	if len(got) != 1 || got[0]["type"] != "typing" || got[0]["state"] != "start" || got[0]["author"].(map[string]any)["kind"] != "visitor" {
		t.Fatalf("other tab got %v, want one typing start frame", got)
	}
	if n := len(h.Frames(t, "tabA")) + len(h.Frames(t, "someoneElse")); n != 0 {
		t.Fatalf("sender or another visitor got %d frames, want none", n)
	}
}
