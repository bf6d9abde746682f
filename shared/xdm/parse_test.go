package xdm_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/xfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/xdm"
)

const (
	account = "3805104374"
	contact = "3001969357"
)

// dmBody is a payload as X documents it: two DMs (the contact's, with a
// link and entities, and our own send), a user of each and keys we ignore.
const dmBody = `{"for_user_id":"3805104374","direct_message_events":[
 {"type":"message_create","id":"954491830116155396","created_timestamp":"1700000000000",
  "message_create":{"target":{"recipient_id":"3805104374"},"sender_id":"3001969357",
   "message_data":{"text":"Order 42 &amp; 43: &lt;urgent&gt; see https://t.co/a1b2c3d4e5",
    "entities":{"hashtags":[],"symbols":[],"user_mentions":[],
     "urls":[{"url":"https://t.co/a1b2c3d4e5","expanded_url":"https://shop.example/orders/42?a=1&b=2","display_url":"shop.example/orders/42","indices":[44,67]}]}}}},
 {"type":"message_create","id":"954491830116155397","created_timestamp":"1700000001000",
  "message_create":{"target":{"recipient_id":"3001969357"},"sender_id":"3805104374","source_app_id":"268278",
   "message_data":{"text":"our answer","entities":{}}}}],
 "apps":{"268278":{"id":"268278","name":"LiveSupportBot","url":"https://livesupportbot.test"}},
 "users":{"3001969357":{"id":"3001969357","created_timestamp":"1422556069340","name":"Ana Lima","screen_name":"ana_lima","protected":false,"verified":false},
  "3805104374":{"id":"3805104374","name":"Acme Support","screen_name":"acme"}}}`

func parse(t *testing.T, body []byte) []channel.Event {
	t.Helper()
	evs, err := xdm.Inbound{}.Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return evs
}

func parseOne(t *testing.T, body []byte) channel.Event {
	t.Helper()
	evs := parse(t, body)
	if len(evs) != 1 {
		t.Fatalf("Parse: %d events, want one", len(evs))
	}
	return evs[0]
}

func TestParseMessage(t *testing.T) {
	evs := parse(t, []byte(dmBody))
	want := []channel.Event{{Kind: channel.KindMessage, DedupeKey: "954491830116155396", At: time.UnixMilli(1700000000000).UTC(),
		Text: "Order 42 & 43: <urgent> see https://shop.example/orders/42?a=1&b=2",
		From: channel.Identity{Channel: "x", Account: account, UserID: contact, DisplayName: "Ana Lima"},
		Native: &xdm.DirectMessage{EventID: "954491830116155396", ForUserID: account, SenderID: contact, RecipientID: account,
			ScreenName: "ana_lima"}}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("events (our own send dropped):\n got %+v\nwant %+v", evs, want)
	}
	// The fake's builder, with every character X escapes, and one escaped
	// entity typed by the contact: undone once, not twice.
	ev := parseOne(t, xfake.DM(account, "1", contact, "Ana", `a<b> & "c" &lt; 😀`, at))
	if ev.Text != `a<b> & "c" &lt; 😀` || !ev.At.Equal(at) || ev.From.DisplayName != "Ana" || ev.DedupeKey != "1" {
		t.Errorf("entities: %+v", ev)
	}
	// Several DMs of contacts come in X's order; a user without an entry in
	// users has no display name.
	body := strings.Replace(dmBody, `"sender_id":"3805104374"`, `"sender_id":"42"`, 1)
	if evs := parse(t, []byte(body)); len(evs) != 2 || evs[0].DedupeKey != "954491830116155396" ||
		evs[1].DedupeKey != "954491830116155397" || evs[1].From.UserID != "42" || evs[1].From.DisplayName != "" || evs[1].Text != "our answer" {
		t.Errorf("two contacts' DMs: %+v", evs)
	}
}

func TestParseOwnSendsDropped(t *testing.T) {
	if evs := parse(t, xfake.OwnDM(account, "2", contact, "our reply", at)); len(evs) != 0 {
		t.Fatalf("own send: %+v, want no event", evs)
	}
	// The same DM from the contact is one: only the sender decides.
	if ev := parseOne(t, xfake.DM(account, "2", contact, "Ana", "their message", at)); ev.From.UserID != contact {
		t.Fatalf("contact's DM: %+v", ev)
	}
}

func TestParseMedia(t *testing.T) {
	for _, tc := range []struct {
		name, typ, text, want string
	}{
		{"photo with a caption", "photo", "my receipt & more", "[photo] my receipt & more"},
		{"photo alone", "photo", "", "[photo]"},
		{"video", "video", "look", "[video] look"},
		{"gif", "animated_gif", "", "[gif]"},
		{"a media type of the future", "hologram", "hi", "[media] hi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := xfake.MediaDM(account, "9", contact, "Ana", tc.text, tc.typ, at)
			if !strings.Contains(string(body), "https://t.co/") {
				t.Fatalf("the fake's payload has no t.co link: %s", body)
			}
			ev := parseOne(t, body)
			if ev.Text != tc.want || len(ev.Attachments) != 0 || strings.Contains(ev.Text, "t.co") || strings.Contains(ev.Text, "ton.twitter.com") {
				t.Fatalf("text %q, attachments %+v; want %q and none", ev.Text, ev.Attachments, tc.want)
			}
			if dm := ev.Native.(*xdm.DirectMessage); dm.MediaType != tc.typ || dm.MediaID == "" {
				t.Errorf("native %+v", dm)
			}
		})
	}
	// An attachment that is not a media, and a DM with nothing to show.
	other := strings.Replace(string(xfake.DM(account, "10", contact, "Ana", "", at)), `"message_data":{`,
		`"message_data":{"attachment":{"type":"location","location":{}},`, 1)
	if ev := parseOne(t, []byte(other)); ev.Text != "[attachment]" {
		t.Errorf("other attachment: %q", ev.Text)
	}
	if ev := parseOne(t, xfake.DM(account, "11", contact, "Ana", "", at)); ev.Text != "[empty message]" {
		t.Errorf("empty DM: %q", ev.Text)
	}
}

func TestParseNoEvent(t *testing.T) {
	for name, body := range map[string]string{
		"empty object":      `{}`,
		"a post":            `{"for_user_id":"1","tweet_create_events":[{"id_str":"5","text":"hi","user":{"id_str":"2"}}]}`,
		"a like":            `{"for_user_id":"1","favorite_events":[{"id":"a","favorited_status":{}}]}`,
		"a follow":          `{"for_user_id":"1","follow_events":[{"type":"follow","source":{"id":"2"},"target":{"id":"1"}}]}`,
		"typing":            `{"for_user_id":"1","direct_message_indicate_typing_events":[{"created_timestamp":"1","sender_id":"2","target":{"recipient_id":"1"}}]}`,
		"read receipt":      `{"for_user_id":"1","direct_message_mark_read_events":[{"created_timestamp":"1","sender_id":"2","target":{"recipient_id":"1"},"last_read_event_id":"9"}]}`,
		"revoke":            `{"user_event":{"revoke":{"date_time":"2018-05-24T09:48:12+00:00","target":{"app_id":"13090192"},"source":{"user_id":"63046977"}}}}`,
		"other DM type":     `{"for_user_id":"1","direct_message_events":[{"type":"welcome_message","id":"3"}]}`,
		"DM without an id":  `{"for_user_id":"1","direct_message_events":[{"type":"message_create","message_create":{"sender_id":"2","message_data":{"text":"x"}}}]}`,
		"DM without sender": `{"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"3","message_create":{"message_data":{"text":"x"}}}]}`,
		"null entries":      `{"for_user_id":"1","direct_message_events":[null],"users":null}`,
	} {
		if evs, err := (xdm.Inbound{}).Parse([]byte(body)); err != nil || len(evs) != 0 {
			t.Errorf("%s: %d events, %v; want none", name, len(evs), err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	big := `{"for_user_id":"1","pad":"` + strings.Repeat("x", xdm.MaxBody) + `"}`
	for name, body := range map[string]string{
		"empty":                      ``,
		"array":                      `[{"for_user_id":"1"}]`,
		"null":                       `null`,
		"a string":                   `"secret text"`,
		"truncated":                  `{"for_user_id":"1","direct_message_events":[`,
		"trailing data":              `{"for_user_id":"1"} {}`,
		"over MaxBody":               big,
		"events not an array":        `{"for_user_id":"1","direct_message_events":{"type":"message_create"}}`,
		"for_user_id a number":       `{"for_user_id":1,"direct_message_events":[]}`,
		"text a number":              `{"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"3","message_create":{"sender_id":"2","message_data":{"text":5}}}]}`,
		"timestamp a boolean":        `{"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"3","created_timestamp":true}]}`,
		"users not an object":        `{"for_user_id":"1","users":["secret text"]}`,
		"DMs without a for_user_id":  `{"direct_message_events":[{"type":"message_create","id":"3","message_create":{"sender_id":"2","message_data":{"text":"secret text"}}}]}`,
		"invalid UTF-8 outside JSON": "{\xff}",
	} {
		evs, err := xdm.Inbound{}.Parse([]byte(body))
		if !errors.Is(err, channel.ErrMalformed) || evs != nil {
			t.Errorf("%s: %d events, %v; want ErrMalformed", name, len(evs), err)
			continue
		}
		if strings.Contains(err.Error(), "xxxx") || strings.Contains(err.Error(), "secret text") {
			t.Errorf("%s: error %q quotes the body", name, err)
		}
	}
}

func TestParseTimestamps(t *testing.T) {
	for _, tc := range []struct {
		ts   string
		want time.Time
	}{
		{`"1700000000000"`, time.UnixMilli(1700000000000).UTC()},
		{`1700000000000`, time.UnixMilli(1700000000000).UTC()},
		{`"soon"`, time.Time{}},
		{`"-5"`, time.Time{}},
		{`null`, time.Time{}},
	} {
		body := `{"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"3","created_timestamp":` + tc.ts +
			`,"message_create":{"sender_id":"2","message_data":{"text":"x"}}}]}`
		if ev := parseOne(t, []byte(body)); !ev.At.Equal(tc.want) {
			t.Errorf("created_timestamp %s: %v, want %v", tc.ts, ev.At, tc.want)
		}
	}
}
