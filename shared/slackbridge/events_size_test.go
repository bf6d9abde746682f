package slackbridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/slackfake"
)

// A body over 1 MiB that Slack signed is too large (413, no retry), not
// unauthenticated; the same body with a bad signature is still 401. Neither
// writes anything.
func TestEvents_OversizedBodyIs413OnlyWhenSigned(t *testing.T) {
	h := newHarness(t)
	tid, convID, threadTS := threadFixture(t, h)
	before := len(h.partition(t, tid, convID))
	big := replyEvent("Ev0BIG", h.slack.TeamID, h.slack.ChannelID, threadTS, "1795860000.009999", "UAGENT01",
		strings.Repeat("x", 1<<20), nil)

	res := h.post(t, signedEvent(t, big, time.Now(), nil))
	if res.StatusCode != 413 || res.Headers["X-Slack-No-Retry"] != "1" || res.Headers["Content-Type"] != "application/problem+json" {
		t.Errorf("signed oversized body: %d %v, want 413 problem with X-Slack-No-Retry", res.StatusCode, res.Headers)
	}
	forged := signedEvent(t, big, time.Now(), nil)
	forged.Headers["x-slack-signature"] = slackfake.Sign("another-secret", time.Now().Unix(), big)
	if res := h.post(t, forged); res.StatusCode != 401 {
		t.Errorf("badly signed oversized body: %d, want 401", res.StatusCode)
	}
	if after := len(h.partition(t, tid, convID)); after != before {
		t.Errorf("an oversized request wrote %d items", after-before)
	}
}
