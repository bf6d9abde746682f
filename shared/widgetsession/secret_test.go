package widgetsession_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
)

// The signing key is read on first use, not at cold start: while it cannot be
// had, a session request is answered 500 (an internal problem, logged without
// the secret's value), and the next request tries again.
func TestSession_SecretReadOnFirstUseAndRetried(t *testing.T) {
	st := testaws.NewTables(t).Store()
	key := strings.Repeat("k", 32)
	secret := &testaws.FlakySecret{Value: key}
	lazy := visitortoken.FromSecret(secret.Get)
	var logs bytes.Buffer
	h := newHandler(st, lazy, slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx := context.Background()
	tn := newTenant(t, st)
	req := sampleRequest(t)
	req.Body = `{"widgetKey":"` + tn.WidgetKey + `"}`
	for i, want := range []int{500, 500, 200, 200} {
		res, err := h.Handle(ctx, req)
		if err != nil || res.StatusCode != want {
			t.Fatalf("request %d: %d %s %v, want %d", i+1, res.StatusCode, res.Body, err, want)
		}
		if want == 500 && res.Body != `{"detail":"internal error","status":500,"title":"Internal Server Error","type":"about:blank"}` {
			t.Errorf("request %d: body %s", i+1, res.Body)
		}
	}
	if reads := secret.Reads(); reads != 3 {
		t.Errorf("the secret was read %d times, want 3", reads)
	}
	if !strings.Contains(logs.String(), "unreachable") || strings.Contains(logs.String(), testaws.ShortSecret) {
		t.Errorf("logs %s: want the failure logged, never the secret", logs.String())
	}
}
