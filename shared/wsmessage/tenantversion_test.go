package wsmessage_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// ws-message keeps a tenant for minutes (store.FrameTenantCacheTTL) and reads
// no tenant for a frame its cache answers; a frame whose session saw a newer
// tenant version (a settings change since) reads the tenant again at once.
func TestFrame_NewerTenantVersionReadsTheTenantAgain(t *testing.T) {
	h := newHarness(t)
	tn := h.tenant(t)
	v := ids.New(ids.Contact)
	auth := h.Connect(t, tn.ID, v, "connA")
	send := func(cmid string) {
		h.Frame(t, "ws-send-message.json", auth, "connA", `{"action":"sendMessage","clientMessageId":"`+cmid+`","text":"hello"}`)
	}
	tenantReads := func(f func()) int {
		h.meter.Reset()
		f()
		calls, _, _ := h.meter.Snapshot()
		return calls["GetItem"] - 1 // the contact
	}
	send("warm")
	if n := tenantReads(func() { send("cached") }); n != 0 {
		t.Fatalf("a frame at the cached version read the tenant %d times", n)
	}
	name := "Shop, renamed"
	up, err := h.st.UpdateTenantSettings(context.Background(), tn.ID, chat.TenantSettings{Name: &name})
	if err != nil || up.Version <= tn.Version {
		t.Fatalf("settings change: version %d -> %+v %v", tn.Version, up, err)
	}
	if n := tenantReads(func() { send("old-session") }); n != 0 {
		t.Fatalf("a frame of the old session read the tenant %d times (it waits for the cache)", n)
	}
	auth["tenantVersion"] = strconv.FormatInt(up.Version, 10) // a new session's token
	if n := tenantReads(func() { send("new-session") }); n != 1 {
		t.Fatalf("a frame of a session that saw version %d read the tenant %d times, want 1", up.Version, n)
	}
}
