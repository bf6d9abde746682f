package wsmessage_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/usage"
)

// TestTemplate_PolicyAllowsEveryCall drives every frame (the first message of
// a conversation and a later one, typing, history, identify, a page view,
// ping, and a frame over the limit) through a metered client and checks that
// WsMessageFunction's policy allows each DynamoDB action on the Data table
// they need.
func TestTemplate_PolicyAllowsEveryCall(t *testing.T) {
	h := newHarness(t)
	h.Msg.PageView = usage.Hook(h.st, h.Msg.Tenants.(*store.TenantCache)) // as functions/ws-message wires it
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	a := h.Connect(t, tn.ID, v, "c1")
	h.Connect(t, tn.ID, v, "c2")
	h.meter.Reset()
	for i := range 2 {
		h.Frame(t, "ws-send-message.json", a, "c1", fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"p%d","text":"hi"}`, i))
	}
	for _, ev := range []string{"ws-typing.json", "ws-history.json", "ws-identify.json", "ws-page-view.json", "ws-ping.json"} {
		h.Frame(t, ev, a, "c1", "")
	}
	for range 30 {
		h.Frame(t, "ws-identify.json", a, "c1", "")
	}
	limited := 0
	for _, f := range h.Frames(t, "c1") {
		if f["code"] == "rate_limited" {
			limited++
		} else if f["type"] == "error" {
			t.Fatalf("frame failed: %v", f)
		}
	}
	if limited == 0 {
		t.Fatal("no frame was over the limit")
	}
	allowed := testaws.Template(t).Allowed("WsMessageFunction", "DataTable.Arn", "dynamodb")
	var missing []string
	for a := range h.meter.Actions() {
		if !slices.Contains(allowed, a) {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("ws-message calls %v, which its policy does not allow", missing)
	}
}
