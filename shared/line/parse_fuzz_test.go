package line_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/line"
)

// FuzzParse feeds Parse arbitrary bodies (seeds in testdata/fuzz/FuzzParse:
// text, image, file, external content, sticker, location, group and room
// sources, standby, follow and unfollow, a postback, a redelivery, a batch,
// the empty URL check, malformed bodies). Parse never panics, fails only with
// ErrMalformed and then returns no events, returns the same events for the
// same body, and every message has a dedupe key, a user, an account, LINE's
// native form and something to show; every other event is a subscription
// change with its key.
func FuzzParse(f *testing.F) {
	f.Add(linefake.TextEvent("Ubot", "Uuser1", "01HEV1", "rt1", "hello"))
	f.Add(linefake.ImageEvent("Ubot", "Uuser1", "01HEV2", "rt2", "900"))
	f.Add(linefake.Events("Ubot", linefake.FollowEvent("Uuser1", "01HEV3", "rt3"), linefake.UnfollowEvent("Uuser1", "01HEV4")))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := line.Inbound{}.Parse(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		again, err := line.Inbound{}.Parse(body)
		if err != nil || !reflect.DeepEqual(evs, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		for i, ev := range evs {
			if ev.DedupeKey == "" || ev.From.UserID == "" || ev.From.Account == "" || ev.From.Channel != line.Channel {
				t.Fatalf("event %d without a key, user, account or channel: %+v", i, ev)
			}
			switch ev.Kind {
			case channel.KindMessage:
				if _, ok := ev.Native.(*line.Message); !ok {
					t.Fatalf("message %d without its native form: %+v", i, ev)
				}
				if ev.Text == "" && len(ev.Attachments) == 0 {
					t.Fatalf("message %d with nothing to show: %+v", i, ev)
				}
				for _, a := range ev.Attachments {
					if a.URL == "" && a.MediaID == "" {
						t.Fatalf("attachment of message %d without a URL or message id: %+v", i, ev)
					}
				}
			case channel.KindSubscribed, channel.KindUnsubscribed:
			default:
				t.Fatalf("event %d of kind %q", i, ev.Kind)
			}
		}
	})
}
