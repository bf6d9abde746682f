package viber_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/viber"
)

// bigToken is a message token above 2^53 that float64 cannot hold: decoded
// through float64 it becomes another number.
const bigToken = "5491540939539838373"

// Callbacks shaped as Viber sends them.
const (
	textBody = `{"event":"message","timestamp":1457764197627,"chat_hostname":"SN-CHAT-05_","message_token":5491540939539838373,
 "sender":{"id":"01234567890A=","name":"John McClane","avatar":"http://avatar.example.com","language":"en","country":"UK","api_version":10},
 "message":{"type":"text","text":"a message to the service","tracking_data":"tracking data"},"silent":false}`
	pictureBody = `{"event":"message","timestamp":1457764197627,"message_token":9223372036854775807,
 "sender":{"id":"U1","name":"Ana"},
 "message":{"type":"picture","text":"my receipt","media":"https://dl-media.viber.com/5/share/2/long/bots/generic-message/media/a.jpg","thumbnail":"https://dl-media.viber.com/t.jpg","size":34567}}`
	fileBody = `{"event":"message","timestamp":1457764197627,"message_token":"18446744073709551615",
 "sender":{"id":"U1","name":"Ana"},
 "message":{"type":"file","media":"https://dl-media.viber.com/f","file_name":"Invoice.PDF","size":120034}}`
)

func message(typ, extra string) string {
	return `{"event":"message","timestamp":1457764197627,"message_token":5491540939539838999,"sender":{"id":"U2","name":"Ben"},` +
		`"message":{"type":"` + typ + `"` + extra + `}}`
}

func parseOne(t *testing.T, body string) channel.Event {
	t.Helper()
	evs, err := viber.Inbound{}.Parse([]byte(body))
	if err != nil || len(evs) != 1 {
		t.Fatalf("Parse: %d events, %v; want one", len(evs), err)
	}
	return evs[0]
}

func TestBigTokenSurvivesExactly(t *testing.T) {
	// The proof that float64 would lose it.
	var viaFloat map[string]any
	if err := json.Unmarshal([]byte(textBody), &viaFloat); err != nil {
		t.Fatal(err)
	}
	if f := strconv.FormatFloat(viaFloat["message_token"].(float64), 'f', -1, 64); f == bigToken {
		t.Fatalf("float64 keeps %s: pick a token it rounds", bigToken)
	}
	ev := parseOne(t, textBody)
	if ev.DedupeKey != bigToken || ev.Native.(*viber.Callback).MessageToken != bigToken {
		t.Fatalf("dedupe key %q, want %s byte for byte", ev.DedupeKey, bigToken)
	}
	// The largest tokens of int64 and uint64, the latter sent as a string.
	if k := parseOne(t, pictureBody).DedupeKey; k != "9223372036854775807" {
		t.Errorf("max int64 token: %q", k)
	}
	if k := parseOne(t, fileBody).DedupeKey; k != "18446744073709551615" {
		t.Errorf("max uint64 token as a string: %q", k)
	}
	st := parseOne(t, `{"event":"seen","timestamp":1457764197627,"message_token":`+bigToken+`,"user_id":"U1"}`)
	if st.Status == nil || st.Status.ProviderID != bigToken || st.DedupeKey != "seen:"+bigToken {
		t.Errorf("status of a big token: %+v", st)
	}
}

func TestParseMessages(t *testing.T) {
	at := time.UnixMilli(1457764197627).UTC()
	ev := parseOne(t, textBody)
	want := channel.Event{Kind: channel.KindMessage, DedupeKey: bigToken, At: at, Text: "a message to the service",
		From: channel.Identity{Channel: "viber", UserID: "01234567890A=", DisplayName: "John McClane"},
		Native: &viber.Callback{Event: "message", MessageToken: bigToken, UserID: "01234567890A=", MessageType: "text",
			TrackingData: "tracking data", Language: "en", Country: "UK", APIVersion: 10}}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("text:\n got %+v\nwant %+v", ev, want)
	}
	if ev.From.Account != "" {
		t.Errorf("the body names no account, but From.Account = %q", ev.From.Account)
	}

	for _, tc := range []struct {
		name, body, text string
		att              []channel.Attachment
	}{
		{"picture with a caption", pictureBody, "my receipt", []channel.Attachment{{
			URL: "https://dl-media.viber.com/5/share/2/long/bots/generic-message/media/a.jpg", Name: "picture.jpg",
			ContentType: "image/jpeg", Size: 34567}}},
		{"file named, no caption", fileBody, "", []channel.Attachment{{
			URL: "https://dl-media.viber.com/f", Name: "Invoice.PDF", ContentType: "application/pdf", Size: 120034}}},
		{"video", message("video", `,"media":"https://v.test/v","size":9,"duration":3`), "",
			[]channel.Attachment{{URL: "https://v.test/v", Name: "video.mp4", ContentType: "video/mp4", Size: 9}}},
		{"file of unknown type", message("file", `,"media":"https://v.test/f","file_name":"notes.xyz"`), "",
			[]channel.Attachment{{URL: "https://v.test/f", Name: "notes.xyz"}}},
		{"picture without media", message("picture", ``), "[picture]", nil},
		{"sticker", message("sticker", `,"sticker_id":46105,"media":"https://v.test/s.png"`), "[sticker]", nil},
		{"location", message("location", `,"location":{"lat":50.76891,"lon":6.11499}`), "[location]", nil},
		{"contact", message("contact", `,"contact":{"name":"Itamar","phone_number":"+972511123123"}`), "[contact]", nil},
		{"url", message("url", `,"media":"https://example.com/go_here"`), "https://example.com/go_here", nil},
		{"empty text", message("text", `,"text":""`), "[text]", nil},
		{"unknown type with text", message("rich_media", `,"text":"hi"`), "hi", nil},
		{"unknown type", message("carousel", ``), "[carousel]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := parseOne(t, tc.body)
			if ev.Kind != channel.KindMessage || ev.Text != tc.text || !reflect.DeepEqual(ev.Attachments, tc.att) {
				t.Fatalf("got %q %+v, want %q %+v", ev.Text, ev.Attachments, tc.text, tc.att)
			}
			if ev.DedupeKey == "" || ev.From.UserID == "" || ev.From.Channel != "viber" {
				t.Fatalf("event %+v without a key or a user", ev)
			}
		})
	}
}

func TestParseOtherEvents(t *testing.T) {
	at := time.UnixMilli(1457764197627).UTC()
	for _, tc := range []struct {
		name, body string
		kind, key  string
		user       string
		status     *channel.DeliveryStatus
	}{
		{"delivered", `{"event":"delivered","timestamp":1457764197627,"message_token":` + bigToken + `,"user_id":"U1"}`,
			channel.KindStatus, "delivered:" + bigToken, "U1", &channel.DeliveryStatus{ProviderID: bigToken, Status: "delivered"}},
		{"seen is read", `{"event":"seen","timestamp":1457764197627,"message_token":` + bigToken + `,"user_id":"U1"}`,
			channel.KindStatus, "seen:" + bigToken, "U1", &channel.DeliveryStatus{ProviderID: bigToken, Status: "read"}},
		{"failed keeps no description", `{"event":"failed","timestamp":1457764197627,"message_token":` + bigToken + `,"user_id":"U1","desc":"failure description"}`,
			channel.KindStatus, "failed:" + bigToken, "U1", &channel.DeliveryStatus{ProviderID: bigToken, Status: "failed", Code: "failed"}},
		{"subscribed", `{"event":"subscribed","timestamp":1457764197627,"user":{"id":"U1","name":"Ana","api_version":1},"message_token":4912661846655238145}`,
			channel.KindSubscribed, "subscribed:4912661846655238145", "U1", nil},
		{"unsubscribed", `{"event":"unsubscribed","timestamp":1457764197627,"user_id":"U1","message_token":4912661846655238145}`,
			channel.KindUnsubscribed, "unsubscribed:4912661846655238145", "U1", nil},
		{"unsubscribed without a token", `{"event":"unsubscribed","timestamp":1457764197627,"user_id":"U1"}`,
			channel.KindUnsubscribed, "unsubscribed:U1:1457764197627", "U1", nil},
		{"conversation started", `{"event":"conversation_started","timestamp":1457764197627,"message_token":4912661846655238145,"type":"open","context":"c","user":{"id":"U1","name":"Ana"},"subscribed":false}`,
			channel.KindOther, "conversation_started:4912661846655238145", "U1", nil},
		{"an event of the future", `{"event":"client_status","timestamp":1457764197627,"message_token":1,"user_id":"U1"}`,
			channel.KindOther, "client_status:1", "U1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := parseOne(t, tc.body)
			if ev.Kind != tc.kind || ev.DedupeKey != tc.key || ev.From.UserID != tc.user || ev.From.Channel != "viber" || !ev.At.Equal(at) {
				t.Fatalf("got %+v", ev)
			}
			if !reflect.DeepEqual(ev.Status, tc.status) {
				t.Fatalf("status %+v, want %+v", ev.Status, tc.status)
			}
			if cb, ok := ev.Native.(*viber.Callback); !ok || cb.UserID != tc.user || cb.Event == "" {
				t.Fatalf("native %+v", ev.Native)
			}
		})
	}
	ev := parseOne(t, `{"event":"conversation_started","timestamp":1,"message_token":2,"user":{"id":"U1","name":"Ana"},"subscribed":true}`)
	if !ev.Native.(*viber.Callback).Subscribed || ev.From.DisplayName != "Ana" {
		t.Errorf("conversation_started: %+v", ev)
	}
}

func TestParseNoEvent(t *testing.T) {
	for name, body := range map[string]string{
		"webhook check":              `{"event":"webhook","timestamp":1457764197627,"chat_hostname":"SN-CHAT-05_","message_token":5491540939539838373}`,
		"message without a token":    `{"event":"message","timestamp":1,"sender":{"id":"U1"},"message":{"type":"text","text":"x"}}`,
		"message without a sender":   `{"event":"message","timestamp":1,"message_token":1,"user_id":"U1","message":{"type":"text","text":"x"}}`,
		"message without a message":  `{"event":"message","timestamp":1,"message_token":1,"sender":{"id":"U1"}}`,
		"status without a token":     `{"event":"delivered","timestamp":1,"user_id":"U1"}`,
		"subscribed without any ids": `{"event":"subscribed"}`,
	} {
		if evs, err := (viber.Inbound{}).Parse([]byte(body)); err != nil || len(evs) != 0 {
			t.Errorf("%s: %d events, %v; want none", name, len(evs), err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	big := `{"event":"message","pad":"` + strings.Repeat("x", viber.MaxBody) + `"}`
	for name, body := range map[string]string{
		"empty":                  ``,
		"array":                  `[{"event":"message"}]`,
		"null":                   `null`,
		"no event":               `{"timestamp":1457764197627,"message_token":1}`,
		"truncated":              `{"event":"message","message_token":12`,
		"token is a float":       `{"event":"seen","message_token":5.491540939539838e18,"user_id":"U1"}`,
		"token is text":          `{"event":"seen","message_token":"abc","user_id":"U1"}`,
		"token beyond 64 bits":   `{"event":"seen","message_token":18446744073709551616,"user_id":"U1"}`,
		"event is a number":      `{"event":1}`,
		"trailing data":          `{"event":"seen","message_token":1} {}`,
		"over MaxBody":           big,
		"sender is a string":     `{"event":"message","message_token":1,"sender":"U1"}`,
		"timestamp is a boolean": `{"event":"seen","message_token":1,"timestamp":true}`,
	} {
		evs, err := viber.Inbound{}.Parse([]byte(body))
		if !errors.Is(err, channel.ErrMalformed) || evs != nil {
			t.Errorf("%s: %d events, %v; want ErrMalformed", name, len(evs), err)
			continue
		}
		if strings.Contains(err.Error(), "xxxx") || strings.Contains(err.Error(), "U1") {
			t.Errorf("%s: error %q quotes the body", name, err)
		}
	}
}
