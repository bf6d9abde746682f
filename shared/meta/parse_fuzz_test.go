package meta_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/meta"
)

// FuzzParse feeds Parse arbitrary bodies (seeds in testdata/fuzz/FuzzParse:
// batched Messenger, Instagram, an echo, a postback, attachments, WhatsApp
// text with contacts, a WhatsApp image, failed statuses, malformed bodies, an
// empty entry). Parse never panics, fails only with ErrMalformed and then
// returns no events, returns the same events for the same body, and every
// message has a dedupe key, a user, an account and something to show; every
// other event is a WhatsApp status with its key.
func FuzzParse(f *testing.F) {
	f.Add([]byte(batchedMessenger))
	f.Add([]byte(whatsAppBody))
	f.Add([]byte(statusesBody))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := meta.Inbound{}.Parse(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		again, err := meta.Inbound{}.Parse(body)
		if err != nil || !reflect.DeepEqual(evs, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		for i, ev := range evs {
			switch ev.Kind {
			case channel.KindMessage:
				m, ok := ev.Native.(*meta.Message)
				if ev.DedupeKey == "" || ev.From.UserID == "" || ev.From.Account == "" || !ok || m.ID != ev.DedupeKey {
					t.Fatalf("message %d without a key, user, account or native: %+v", i, ev)
				}
				if ev.Text == "" && len(ev.Attachments) == 0 {
					t.Fatalf("message %d with nothing to show: %+v", i, ev)
				}
				for _, a := range ev.Attachments {
					if a.URL == "" && a.MediaID == "" {
						t.Fatalf("attachment of message %d without a URL or media id: %+v", i, ev)
					}
				}
			case channel.KindOther:
				st, ok := ev.Native.(*meta.Status)
				if !ok || ev.DedupeKey != "status:"+st.MessageID+":"+st.Status || st.MessageID == "" || ev.From.Channel != meta.ChannelWhatsApp {
					t.Fatalf("other event %d is not a status: %+v", i, ev)
				}
			default:
				t.Fatalf("event %d of kind %q", i, ev.Kind)
			}
			found := false
			for _, c := range meta.Channels {
				found = found || ev.From.Channel == c
			}
			if !found {
				t.Fatalf("event %d of channel %q", i, ev.From.Channel)
			}
		}
	})
}
