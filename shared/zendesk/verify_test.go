package zendesk_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/zendesk"
)

const (
	secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
	stamp  = "2021-03-25T05:09:27Z"
	hook   = `{"type":"zen:event-type:ticket.comment_added","id":"e1"}`
)

var signedAt = time.Date(2021, 3, 25, 5, 9, 27, 0, time.UTC)

func headers(sig, ts string) map[string]string {
	return map[string]string{"x-zendesk-webhook-signature": sig, "x-zendesk-webhook-signature-timestamp": ts,
		"x-zendesk-webhook-invocation-id": "inv-1"}
}

// TestSignVector checks Sign against a signature computed elsewhere (Python's
// hmac) over TIMESTAMP + BODY.
func TestSignVector(t *testing.T) {
	got := zendesk.Sign("HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", "2021-07-25T10:00:00Z", []byte(`{"say": "hello"}`))
	if got != "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk=" {
		t.Fatalf("Sign = %s", got)
	}
}

func TestVerify(t *testing.T) {
	good := zendesk.Sign(secret, stamp, []byte(hook))
	if err := zendesk.Verify(headers(good, stamp), []byte(hook), secret, signedAt.Add(30*time.Second)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	upper := map[string]string{"X-Zendesk-Webhook-Signature": good, "X-ZENDESK-WEBHOOK-SIGNATURE-TIMESTAMP": stamp}
	if err := zendesk.Verify(upper, []byte(hook), secret, signedAt); err != nil {
		t.Fatalf("Verify with other header cases: %v", err)
	}
	for _, ok := range []time.Duration{zendesk.FreshFor, -zendesk.ClockSkew} {
		if err := zendesk.Verify(headers(good, stamp), []byte(hook), secret, signedAt.Add(ok)); err != nil {
			t.Fatalf("Verify at signed+%s: %v", ok, err)
		}
	}
	fractional := "2021-03-25T05:09:27.123Z"
	if err := zendesk.Verify(headers(zendesk.Sign(secret, fractional, []byte(hook)), fractional), []byte(hook), secret, signedAt); err != nil {
		t.Fatalf("Verify with fractional seconds: %v", err)
	}
	notISO := "1616648967"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		secret  string
		now     time.Time
		reason  string
	}{
		{"wrong secret", headers(good, stamp), hook, "another-secret", signedAt, "does not match"},
		{"tampered body", headers(good, stamp), strings.Replace(hook, "e1", "e2", 1), secret, signedAt, "does not match"},
		{"timestamp changed", headers(good, "2021-03-25T05:09:28Z"), hook, secret, signedAt, "does not match"},
		{"stale", headers(good, stamp), hook, secret, signedAt.Add(zendesk.FreshFor + time.Second), "old"},
		{"future", headers(good, stamp), hook, secret, signedAt.Add(-zendesk.ClockSkew - time.Second), "future"},
		{"no signature", headers("", stamp), hook, secret, signedAt, "no X-Zendesk-Webhook-Signature header"},
		{"no timestamp", headers(good, ""), hook, secret, signedAt, "no X-Zendesk-Webhook-Signature-Timestamp header"},
		{"no headers", nil, hook, secret, signedAt, "no X-Zendesk-Webhook-Signature header"},
		{"not base64", headers("not base64!", stamp), hook, secret, signedAt, "not a base64"},
		{"short digest", headers("c2hvcnQ=", stamp), hook, secret, signedAt, "not a base64"},
		{"timestamp not ISO-8601", headers(zendesk.Sign(secret, notISO, []byte(hook)), notISO), hook, secret, signedAt, "not ISO-8601"},
		{"long timestamp", headers(good, strings.Repeat("9", 100)), hook, secret, signedAt, "timestamp of 100 bytes"},
		{"no secret", headers(good, stamp), hook, "", signedAt, "no Zendesk signing secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := zendesk.Verify(tc.headers, []byte(tc.body), tc.secret, tc.now)
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			for _, leak := range []string{secret, good, "e1"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error %q names %q", err, leak)
				}
			}
		})
	}
}

func TestInvocationID(t *testing.T) {
	if got := zendesk.InvocationID(headers("", "")); got != "inv-1" {
		t.Fatalf("InvocationID = %q", got)
	}
	if got := zendesk.InvocationID(map[string]string{"X-Zendesk-Webhook-Invocation-Id": "inv-2"}); got != "inv-2" {
		t.Fatalf("InvocationID of a canonical header = %q", got)
	}
	if got := zendesk.InvocationID(nil); got != "" {
		t.Fatalf("InvocationID of nothing = %q", got)
	}
}
