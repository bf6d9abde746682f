package schedules

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

func TestParse_Next(t *testing.T) {
	base := time.Date(2026, 11, 28, 10, 30, 15, 0, time.UTC) // a Saturday
	tests := []struct {
		expr string
		want time.Time
	}{
		{"rate(1 minute)", base.Add(time.Minute)},
		{"rate(5 minutes)", base.Add(5 * time.Minute)},
		{"rate(2 hours)", base.Add(2 * time.Hour)},
		{"rate(1 day)", base.Add(24 * time.Hour)},
		{"cron(0 3 * * ? *)", time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)},
		{"cron(*/15 * * * ? *)", time.Date(2026, 11, 28, 10, 45, 0, 0, time.UTC)},
		{"cron(0 9 ? * MON-FRI *)", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		{"cron(0 0 1 JAN ? *)", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"cron(30 10 28 11 ? 2026)", time.Time{}},
		{"cron(31 10 28 11 ? 2026)", time.Date(2026, 11, 28, 10, 31, 0, 0, time.UTC)},
		{"cron(0 12 ? * 1 *)", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}, // 1 = Sunday
		{"at(2026-12-01T08:00:00)", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Next(base); !got.Equal(tt.want) {
				t.Errorf("next = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParse_RefusesBadExpressions(t *testing.T) {
	for _, expr := range []string{"rate(0 minutes)", "rate(5 minute)", "rate(1 minutes)", "rate(5 weeks)",
		"cron(0 3 * * *)", "cron(0 3 * * * *)", "cron(0 3 ? * ? *)", "cron(60 3 * * ? *)", "cron(0 3 L * ? *)", "every day"} {
		if _, err := Parse(expr, nil); err == nil {
			t.Errorf("Parse(%q) accepted", expr)
		}
	}
}

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func TestSchedule_RunInvokesWithScheduledEvent(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	s := &Schedule{Name: "Sweep/Daily", Expr: every(30 * time.Millisecond), Function: invokerFunc(func(p []byte) {
		var ev map[string]any
		json.Unmarshal(p, &ev)
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 {
		t.Fatalf("invocations = %d, want several", len(got))
	}
	if got[0]["detail-type"] != "Scheduled Event" || got[0]["source"] != "aws.events" || got[0]["id"] == got[1]["id"] {
		t.Errorf("event = %v", got[0])
	}
	withInput := &Schedule{Name: "x", Input: `{"mode":"full"}`}
	if string(withInput.Event(time.Now())) != `{"mode":"full"}` {
		t.Error("a schedule's Input is not the payload")
	}
}

type invokerFunc func([]byte)

func (f invokerFunc) Invoke(_ context.Context, p []byte) ([]byte, error) { f(p); return nil, nil }
