package wsmessage_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

const secret = wstest.TokenSecret

// harness is the widget side of the stack over moto, with every DynamoDB call
// counted and every log line kept.
type harness struct {
	*wstest.Widget
	st    *store.Store
	meter *testaws.Meter
	logs  *wstest.Logs
}

func newHarness(tb testing.TB) *harness { return newHarnessAt(tb, time.Now) }

// newHarnessAt is newHarness with the store (and so the handlers) reading
// the time from now.
func newHarnessAt(tb testing.TB, now func() time.Time) *harness {
	tb.Helper()
	tt := testaws.NewTables(tb)
	cfg := testaws.Config(tb)
	meter := testaws.NewMeter()
	st := store.New(meter.Client(cfg), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey).WithClock(now)
	logs := &wstest.Logs{}
	w := wstest.New(tb, cfg, st, tt.StreamArn, slog.New(slog.NewJSONHandler(logs, nil)))
	return &harness{Widget: w, st: st, meter: meter, logs: logs}
}

func (h *harness) tenant(tb testing.TB, origins ...string) *chat.Tenant {
	return wstest.Tenant(tb, h.st, "Shop", origins...)
}

func (h *harness) history(tb testing.TB, tenantID, visitorID string) []*chat.Message {
	tb.Helper()
	c, err := h.st.Contact(context.Background(), tenantID, visitorID)
	if errors.Is(err, chat.ErrNotFound) || (err == nil && c.OpenConversationID == "") {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	msgs, _, err := h.st.History(context.Background(), tenantID, c.OpenConversationID, "", 100)
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}
