package wsconn_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/visitortoken"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// The signing key is read on first use, not at cold start: while it cannot be
// had, the authorizer fails (API Gateway answers 500 and the widget retries,
// rather than a 401 that would throw the token away), logged without the
// secret's value; the next request tries again.
func TestAuthorize_SecretReadOnFirstUseAndRetried(t *testing.T) {
	key := strings.Repeat("s", 32)
	secret := &testaws.FlakySecret{Value: key}
	lazy := visitortoken.FromSecret(secret.Get)
	var logs bytes.Buffer
	h := wsconn.New(wsconn.Deps{Store: testaws.NewTables(t).Store(), Tokens: lazy, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	tokens, _ := visitortoken.New(key)
	req := authorizeReq(t, tokens.Issue("t1", "c1", time.Hour))
	for i := range 2 {
		if _, err := h.Authorize(context.Background(), req); err == nil || errors.Is(err, wsconn.ErrUnauthorized) {
			t.Fatalf("request %d without the key: %v, want an internal error", i+1, err)
		}
	}
	res, err := h.Authorize(context.Background(), req)
	if err != nil || res.Context["visitorId"] != "c1" {
		t.Fatalf("once the key is read: %+v %v", res, err)
	}
	if reads := secret.Reads(); reads != 3 {
		t.Errorf("the secret was read %d times, want 3", reads)
	}
	if !strings.Contains(logs.String(), "unreachable") || strings.Contains(logs.String(), testaws.ShortSecret) {
		t.Errorf("logs %s: want the failure logged, never the secret", logs.String())
	}
}
