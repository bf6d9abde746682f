package wsmessage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/wstest"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
)

// widgetClient plays the widget's side of sendMessage: it sends a frame and
// reads the answer to it from the frames its connection received.
type widgetClient struct {
	w       *wstest.Widget
	auth    map[string]any
	conn    string
	visitor string
	seen    int // frames of the connection already read
}

// send sends one sendMessage frame and returns the id of the acked message, or
// "" when the answer was an error frame.
func (c *widgetClient) send(t *testing.T, cmid, text string) string {
	t.Helper()
	c.w.Frame(t, "ws-send-message.json", c.auth, c.conn,
		fmt.Sprintf(`{"action":"sendMessage","clientMessageId":%q,"text":%q}`, cmid, text))
	frames := c.w.Frames(t, c.conn)
	got := frames[c.seen:]
	c.seen = len(frames)
	if len(got) != 1 || got[0]["clientMessageId"] != cmid {
		t.Fatalf("%s: answers %v, want one for %s", c.conn, got, cmid)
	}
	switch got[0]["type"] {
	case "ack":
		return got[0]["message"].(map[string]any)["id"].(string)
	case "error":
		if got[0]["code"] != "internal" {
			t.Fatalf("%s: a fault gave %v, want an internal error", cmid, got[0])
		}
		return ""
	}
	t.Fatalf("%s: unexpected answer %v", cmid, got[0])
	return ""
}

func s(v types.AttributeValue) string {
	if x, ok := v.(*types.AttributeValueMemberS); ok {
		return x.Value
	}
	return ""
}

// TestIngestFaults_ResentMessagesStoredExactlyOnce sends messages through
// ws-message while a quarter of its DynamoDB calls are throttled or time out
// (half of them after DynamoDB applied the call), with the widget resending an
// unacknowledged message under the same clientMessageId as the contract says.
// Once the faults stop, every message is acked, and a reconnecting widget that
// resends everything gets the original messages back. Counting the stored
// messages per clientMessageId: none lost, none stored twice.
func TestIngestFaults_ResentMessagesStoredExactlyOnce(t *testing.T) {
	const visitors, perVisitor, triesWithFaults = 3, 20, 3
	tt := testaws.NewTables(t)
	cfg := testaws.Config(t)
	faults := testaws.NewFaults(11)
	st := store.New(faults.Client(cfg), tt.Data, tt.Archive).WithSubjectKey(testaws.SubjectKey)
	w := wstest.New(t, cfg, st, tt.StreamArn, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	tn := wstest.Tenant(t, st, "Shop")
	// The widget here resends far faster than a person types: lift the
	// tenant's sendMessage limit (the limiter's own writes still see faults).
	lift := chat.RateLimit{Burst: ratelimit.MaxBurst, PerMinute: ratelimit.MaxPerMinute}
	if _, err := st.UpdateTenantSettings(context.Background(), tn.ID, chat.TenantSettings{RateLimits: &chat.RateLimits{SendMessage: lift}}); err != nil {
		t.Fatal(err)
	}
	var clients []*widgetClient
	for i := range visitors {
		v := ids.New(ids.Contact)
		conn := fmt.Sprintf("conn%d", i)
		clients = append(clients, &widgetClient{w: w, auth: w.Connect(t, tn.ID, v, conn), conn: conn, visitor: v})
	}
	cmid := func(v, i int) string { return fmt.Sprintf("v%d-m%02d", v, i) }
	acked := map[string]string{} // clientMessageId -> message id of its first ack
	var mismatched []string
	ack := func(id, msgID string) {
		if prev, ok := acked[id]; ok && prev != msgID {
			mismatched = append(mismatched, fmt.Sprintf("%s acked as %s, earlier as %s", id, msgID, prev))
		}
		if _, ok := acked[id]; !ok {
			acked[id] = msgID
		}
	}

	count := func() (map[string]int, int) {
		copies, stored := map[string]int{}, 0
		for _, it := range tt.ScanAll(t, tt.Data) {
			if s(it["entity"]) == "message" && s(it["tenantId"]) == tn.ID {
				copies[s(it["clientMessageId"])]++
				stored++
			}
		}
		return copies, stored
	}

	faults.Set(testaws.FaultSpec{Rate: 0.25, After: 0.5, Timeout: 0.3})
	for i := range perVisitor {
		for v, c := range clients {
			for range triesWithFaults {
				if id := c.send(t, cmid(v, i), fmt.Sprintf("message %d of visitor %d", i, v)); id != "" {
					ack(cmid(v, i), id)
					break
				}
			}
		}
	}
	unackedWithFaults := visitors*perVisitor - len(acked)
	faults.Off()
	t.Logf("with faults: %s", faults.Summary())
	// The widget resends what is still unacknowledged, then, after a
	// reconnect, everything once more (it cannot tell a lost ack from a lost
	// message).
	storedBeforeResendAll := 0
	for _, resendAll := range []bool{false, true} {
		if resendAll {
			_, storedBeforeResendAll = count()
		}
		for i := range perVisitor {
			for v, c := range clients {
				if _, done := acked[cmid(v, i)]; done && !resendAll {
					continue
				}
				id := c.send(t, cmid(v, i), fmt.Sprintf("message %d of visitor %d", i, v))
				if id == "" {
					t.Fatalf("%s failed with the faults off", cmid(v, i))
				}
				ack(cmid(v, i), id)
			}
		}
	}

	copies, stored := count()
	sent, lost, doubled := visitors*perVisitor, 0, 0
	for v := range visitors {
		for i := range perVisitor {
			switch n := copies[cmid(v, i)]; {
			case n == 0:
				lost++
			case n > 1:
				doubled += n - 1
			}
		}
	}
	t.Logf("ingest: sent %d, unacked while faulty %d, stored %d (%d before the widget resent everything), lost %d, duplicated %d, resends acked with another copy %d",
		sent, unackedWithFaults, stored, storedBeforeResendAll, lost, doubled, len(mismatched))
	if lost > 0 || doubled > 0 || stored != sent {
		t.Errorf("stored %d messages for %d sent: %d lost, %d extra copies", stored, sent, lost, doubled)
	}
	if len(mismatched) > 0 {
		t.Errorf("%d resends were acked with another message than the original (contract: same id and createdAt), e.g. %s",
			len(mismatched), mismatched[0])
	}
}
