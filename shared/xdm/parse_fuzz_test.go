package xdm_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/xdm"
)

// FuzzParse feeds Parse arbitrary bodies (seeds in testdata/fuzz/FuzzParse:
// contacts' DMs with entities and links, own sends, every media type, other
// activity, revokes, several DMs in one body, malformed bodies). Parse never
// panics, fails only with ErrMalformed and then returns no events, returns
// the same events for the same body, and gives only messages of contacts:
// each with a dedupe key that is its event id, the account and a sender that
// is not the account, something to show and no attachments.
func FuzzParse(f *testing.F) {
	f.Add([]byte(dmBody))
	f.Add(xfake.DM(account, "1", contact, "Ana", "a & b <c>", at))
	f.Add(xfake.OwnDM(account, "2", contact, "ours", at))
	f.Add(xfake.MediaDM(account, "3", contact, "Ana", "look", "photo", at))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := xdm.Inbound{}.Parse(body)
		if err != nil {
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		again, err := xdm.Inbound{}.Parse(body)
		if err != nil || !reflect.DeepEqual(evs, again) {
			t.Fatalf("the same body parsed differently: %v", err)
		}
		for _, ev := range evs {
			dm, ok := ev.Native.(*xdm.DirectMessage)
			if !ok || ev.Kind != channel.KindMessage || ev.From.Channel != xdm.ChannelName {
				t.Fatalf("event not a message of x: %+v", ev)
			}
			if ev.DedupeKey == "" || ev.DedupeKey != dm.EventID || ev.From.UserID == "" || ev.From.UserID != dm.SenderID ||
				ev.From.Account == "" || ev.From.Account != dm.ForUserID || ev.From.UserID == ev.From.Account {
				t.Fatalf("message without its ids, or our own: %+v %+v", ev, dm)
			}
			if ev.Text == "" || len(ev.Attachments) != 0 {
				t.Fatalf("message with nothing to show, or attachments: %+v", ev)
			}
			if !utf8.ValidString(ev.DedupeKey) || !utf8.ValidString(ev.Text) {
				t.Fatalf("event of invalid UTF-8: %+v", ev)
			}
			if dm.MediaType != "" && !strings.HasPrefix(ev.Text, "[") {
				t.Fatalf("media without a placeholder: %q", ev.Text)
			}
		}
	})
}
