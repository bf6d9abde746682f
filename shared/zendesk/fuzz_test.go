package zendesk_test

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/zendesk"
)

// FuzzParseEvent feeds ParseEvent arbitrary bodies (seeds in
// testdata/fuzz/FuzzParseEvent: comment_added with numeric and string ids,
// ids above 2^53, the subject fallback, other event types, malformed
// bodies). ParseEvent never panics, fails only with ErrMalformed and then
// returns no event, returns the same event for the same body, and an event
// has canonical decimal ticket and comment ids and valid UTF-8.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(numericBody))
	f.Add([]byte(stringBody))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := zendesk.ParseEvent(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || ev != nil {
				t.Fatalf("error %v with event %+v", err, ev)
			}
			return
		}
		again, err := zendesk.ParseEvent(body)
		if err != nil || !reflect.DeepEqual(ev, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		if ev == nil {
			return
		}
		for _, id := range []string{ev.TicketID, ev.CommentID} {
			if u, err := strconv.ParseUint(id, 10, 64); err != nil || strconv.FormatUint(u, 10) != id {
				t.Fatalf("id %q is not a canonical decimal: %+v", id, ev)
			}
		}
		for _, id := range []string{ev.AuthorID, ev.RequesterID, ev.AccountID} {
			if u, err := strconv.ParseUint(id, 10, 64); id != "" && (err != nil || strconv.FormatUint(u, 10) != id) {
				t.Fatalf("id %q is not a canonical decimal: %+v", id, ev)
			}
		}
		for _, s := range []string{ev.EventID, ev.Body, ev.AuthorName, ev.ExternalID} {
			if !utf8.ValidString(s) {
				t.Fatalf("event of invalid UTF-8: %+v", ev)
			}
		}
		if !ev.At.IsZero() && ev.At.Location() != time.UTC {
			t.Fatalf("time not in UTC: %v", ev.At)
		}
	})
}

// FuzzVerify feeds Verify arbitrary signatures, timestamps, bodies and
// secrets (seeds in testdata/fuzz/FuzzVerify). Verify never panics and fails
// only with ErrUnverified; what it accepts is Sign's digest of a timestamp
// within the window; and Sign's own signature of a fresh timestamp always
// verifies.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(hook), stamp, zendesk.Sign(secret, stamp, []byte(hook)), secret, int64(0))
	f.Add([]byte(hook), stamp, "not base64!", secret, int64(400))
	f.Fuzz(func(t *testing.T, body []byte, ts, sig, key string, offset int64) {
		now := signedAt.Add(time.Duration(offset) * time.Second)
		h := map[string]string{"x-zendesk-webhook-signature": sig, "x-zendesk-webhook-signature-timestamp": ts}
		err := zendesk.Verify(h, body, key, now)
		if err != nil {
			if !errors.Is(err, channel.ErrUnverified) {
				t.Fatalf("error %v is not ErrUnverified", err)
			}
		} else {
			got, _ := base64.StdEncoding.DecodeString(sig)
			want, _ := base64.StdEncoding.DecodeString(zendesk.Sign(key, ts, body))
			at, perr := time.Parse(time.RFC3339, ts)
			if key == "" || string(got) != string(want) || perr != nil || now.Sub(at) > zendesk.FreshFor || at.Sub(now) > zendesk.ClockSkew {
				t.Fatalf("verified sig %q ts %q at %v", sig, ts, now)
			}
		}
		if key == "" {
			return
		}
		fresh := now.UTC().Format(time.RFC3339)
		h = map[string]string{"X-Zendesk-Webhook-Signature": zendesk.Sign(key, fresh, body), "X-Zendesk-Webhook-Signature-Timestamp": fresh}
		if err := zendesk.Verify(h, body, key, now); err != nil && now.Year() >= 1 && now.Year() <= 9999 {
			t.Fatalf("Sign's own signature refused: %v", err)
		}
	})
}
