package wsmessage

import (
	"context"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ratelimit"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/wsconn"
)

// limit counts a frame against its visitor's (or agent's) budget for the action, before
// the frame is handled: a frame over the limit is answered rate_limited and
// stores nothing. The budget is the visitor's, shared by all of its
// connections, so it bounds each connection too. Uncounted frames (ping,
// unknown actions) pass free.
func (h *Handler) limit(ctx context.Context, t *chat.Tenant, id wsconn.Identity, action string) error {
	bucket, counted := ratelimit.FrameBucket(action)
	if !counted {
		return nil
	}
	subject := store.VisitorRateSubject(id.VisitorID)
	if id.IsAgent() {
		subject = store.AgentRateSubject(id.AgentID)
	}
	return h.Limiter.Take(ctx, t.ID, subject, bucket, ratelimit.Effective(t, bucket))
}
