package telegram_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/telegram"
)

// FuzzParse feeds Parse arbitrary bodies (seeds in testdata/fuzz/FuzzParse:
// text, caption and photo sizes, a document, an edit, a sticker, a live
// location edit, a group, blocked and restarted bots, other updates,
// malformed bodies). Parse never panics, fails only with ErrMalformed and then
// returns no events, returns the same events for the same body, gives at most
// one event, and every event is a message, subscribed or unsubscribed of the
// telegram channel with a dedupe key (its update id), a user and no account;
// a message has something to show, and its attachments have file ids.
func FuzzParse(f *testing.F) {
	for _, body := range []string{textBody, photoBody, documentBody, editedBody, kickedBody} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := telegram.Inbound{}.Parse(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		again, err := telegram.Inbound{}.Parse(body)
		if err != nil || !reflect.DeepEqual(evs, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		if len(evs) > 1 {
			t.Fatalf("%d events of one update", len(evs))
		}
		for _, ev := range evs {
			u, ok := ev.Native.(*telegram.Update)
			if ev.DedupeKey == "" || ev.From.UserID == "" || ev.From.UserID == "0" || ev.From.Account != "" ||
				ev.From.Channel != telegram.Channel || !ok || ev.DedupeKey != itoa(u.ID) {
				t.Fatalf("event without a key, a user or its native, or with an account: %+v", ev)
			}
			switch ev.Kind {
			case channel.KindMessage:
				if ev.Text == "" && len(ev.Attachments) == 0 {
					t.Fatalf("message with nothing to show: %+v", ev)
				}
				for _, a := range ev.Attachments {
					if a.MediaID == "" || a.URL != "" || a.Size < 0 {
						t.Fatalf("attachment without a file id: %+v", a)
					}
				}
			case channel.KindSubscribed, channel.KindUnsubscribed:
				if ev.Text != "" || u.MemberStatus == "" {
					t.Fatalf("member change %+v", ev)
				}
			default:
				t.Fatalf("event of kind %q", ev.Kind)
			}
		}
	})
}
