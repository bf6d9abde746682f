package wsmessage_test

import (
	"fmt"
	"testing"

	"github.com/livesupportbot/backend/shared/ids"
)

// BenchmarkSendMessage reports the DynamoDB requests and units of one
// sendMessage in an open conversation (the first message, which opens the
// conversation, is not counted), and of dispatching it to one other connection.
func BenchmarkSendMessage(b *testing.B) {
	h := newHarness(b)
	tn := h.tenant(b)
	v := ids.New(ids.Contact)
	a := h.Connect(b, tn.ID, v, "connA")
	h.Connect(b, tn.ID, v, "connB")
	h.Frame(b, "ws-send-message.json", a, "connA", `{"action":"sendMessage","clientMessageId":"warm","text":"warm up"}`)
	h.Pump(b)
	h.meter.Reset()
	b.ResetTimer()
	for i := range b.N {
		h.Frame(b, "ws-send-message.json", a, "connA",
			fmt.Sprintf(`{"action":"sendMessage","clientMessageId":"b%d","text":"How do I change my delivery address?"}`, i))
	}
	b.StopTimer()
	calls, read, write := h.meter.Snapshot()
	n := float64(b.N)
	b.ReportMetric(read/n, "RCU/send")
	b.ReportMetric(write/n, "WCU/send")
	b.ReportMetric(float64(sum(calls))/n, "requests/send")
	h.meter.Reset()
	h.Pump(b)
	calls, read, write = h.meter.Snapshot()
	b.ReportMetric(read/n, "RCU/deliver")
	b.ReportMetric(write/n, "WCU/deliver")
	b.ReportMetric(float64(sum(calls))/n, "requests/deliver")
	if got := len(h.Mgmt.Frames("connB")); got != b.N+1 {
		b.Fatalf("connB got %d frames, want %d", got, b.N+1)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
