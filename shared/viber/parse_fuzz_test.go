package viber_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/viber"
)

// FuzzParse feeds Parse arbitrary bodies (seeds in testdata/fuzz/FuzzParse:
// every message type, subscriptions, conversation_started, statuses, the
// webhook check, tokens above 2^53 as numbers and strings, malformed bodies).
// Parse never panics, fails only with ErrMalformed and then returns no
// events, returns the same events for the same body, and gives at most one
// event; a message has a dedupe key, a user, something to show and
// attachments with URLs; every other event has a key named after its Viber
// event, and a status its provider id.
func FuzzParse(f *testing.F) {
	f.Add([]byte(textBody))
	f.Add([]byte(pictureBody))
	f.Add([]byte(`{"event":"failed","timestamp":1457764197627,"message_token":` + bigToken + `,"user_id":"U1","desc":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := viber.Inbound{}.Parse(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		again, err := viber.Inbound{}.Parse(body)
		if err != nil || !reflect.DeepEqual(evs, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		if len(evs) > 1 {
			t.Fatalf("%d events of one callback", len(evs))
		}
		for _, ev := range evs {
			cb, ok := ev.Native.(*viber.Callback)
			if !ok || ev.From.Channel != viber.ChannelName || ev.From.Account != "" || ev.From.UserID != cb.UserID {
				t.Fatalf("event without its callback or identity: %+v", ev)
			}
			if !utf8.ValidString(ev.DedupeKey) || !utf8.ValidString(ev.Text) {
				t.Fatalf("event of invalid UTF-8: %+v", ev)
			}
			switch ev.Kind {
			case channel.KindMessage:
				if ev.DedupeKey == "" || ev.DedupeKey != cb.MessageToken || ev.From.UserID == "" {
					t.Fatalf("message without a key or a user: %+v", ev)
				}
				if ev.Text == "" && len(ev.Attachments) == 0 {
					t.Fatalf("message with nothing to show: %+v", ev)
				}
				for _, a := range ev.Attachments {
					if a.URL == "" || a.Size < 0 {
						t.Fatalf("attachment without a URL: %+v", ev)
					}
				}
			case channel.KindStatus:
				if ev.Status == nil || ev.Status.ProviderID == "" || ev.Status.ProviderID != cb.MessageToken {
					t.Fatalf("status without its message: %+v", ev)
				}
				fallthrough
			case channel.KindSubscribed, channel.KindUnsubscribed, channel.KindOther:
				if event, _, _ := strings.Cut(ev.DedupeKey, ":"); event == "" || !strings.HasPrefix(cb.Event, strings.TrimSuffix(event, "...")) {
					t.Fatalf("event without a key of its event: %+v", ev)
				}
			default:
				t.Fatalf("event of kind %q", ev.Kind)
			}
		}
	})
}
