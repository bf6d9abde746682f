package wsmessage_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/livesupportbot/backend/shared/ids"
)

// A history frame with a cursor that is not one this conversation minted gets
// an error frame "invalid" and no messages; a good cursor still pages.
func TestHistory_BadCursorGetsInvalid(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c1")
	for i := range 3 {
		h.Frame(t, "ws-send-message.json", a, "c1", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"m%d","text":"n%d"}`, i, i))
	}
	c, err := h.st.Contact(context.Background(), tn.ID, v)
	if err != nil {
		t.Fatal(err)
	}
	msgs, good, err := h.st.History(context.Background(), tn.ID, c.OpenConversationID, "", 1)
	if err != nil || good == "" || len(msgs) != 1 {
		t.Fatalf("first page: %v %q %v", msgs, good, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	wrapped := base64.RawURLEncoding.EncodeToString(append(raw[:len(raw)-1], 0)) // ends in byte 0

	for _, tc := range []struct{ name, cursor string }{
		{"ends in byte 0", wrapped},
		{"bare prefix", base64.RawURLEncoding.EncodeToString([]byte("MSG#"))},
	} {
		h.Frame(t, "ws-history.json", a, "c1", fmt.Sprintf(`{"action":"history","before":%q}`, tc.cursor))
		got := h.Frames(t, "c1")
		last := got[len(got)-1]
		if last["type"] != "error" || last["code"] != "invalid" {
			t.Fatalf("%s: answered %v, want error invalid", tc.name, last)
		}
	}
	h.Frame(t, "ws-history.json", a, "c1", fmt.Sprintf(`{"action":"history","before":%q}`, good))
	got := h.Frames(t, "c1")
	last := got[len(got)-1]
	if last["type"] != "history" || len(last["messages"].([]any)) != 2 {
		t.Fatalf("good cursor answered %v, want the two older messages", last)
	}
}
