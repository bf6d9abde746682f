package line_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/line"
)

// ev is a one-event body of the bot with a raw event object.
func ev(event string) string { return `{"destination":"` + bot + `","events":[` + event + `]}` }

// msg is an active one-to-one message event of Uuser1 with a raw message
// object.
func msg(message string) string {
	return ev(`{"type":"message","mode":"active","timestamp":1795860000123,"webhookEventId":"01HEV1",
		"deliveryContext":{"isRedelivery":false},"replyToken":"rt1","source":{"type":"user","userId":"Uuser1"},
		"message":` + message + `}`)
}

var user1 = channel.Identity{Channel: "line", Account: bot, UserID: "Uuser1"}

func TestParse(t *testing.T) {
	at := time.UnixMilli(1795860000123).UTC()
	native := func(id, typ string) *line.Message {
		return &line.Message{ID: id, Type: typ, SourceType: "user", SpeakerID: "Uuser1"}
	}
	message := func(text string, n *line.Message, atts ...channel.Attachment) []channel.Event {
		return []channel.Event{{Kind: channel.KindMessage, DedupeKey: "01HEV1", From: user1, At: at, ReplyToken: "rt1",
			Text: text, Attachments: atts, Native: n}}
	}
	for _, tc := range []struct {
		name string
		body string
		want []channel.Event
	}{
		{"text", msg(`{"id":"100","type":"text","quoteToken":"q","text":"Hello, LINE"}`),
			message("Hello, LINE", native("100", "text"))},
		{"image", msg(`{"id":"101","type":"image","contentProvider":{"type":"line"}}`),
			message("", native("101", "image"), channel.Attachment{MediaID: "101", Name: "image.jpg", ContentType: "image/jpeg"})},
		{"video", msg(`{"id":"102","type":"video","duration":6000,"contentProvider":{"type":"line"}}`),
			message("", native("102", "video"), channel.Attachment{MediaID: "102", Name: "video.mp4", ContentType: "video/mp4"})},
		{"audio", msg(`{"id":"103","type":"audio","duration":6000,"contentProvider":{"type":"line"}}`),
			message("", native("103", "audio"), channel.Attachment{MediaID: "103", Name: "audio.m4a", ContentType: "audio/m4a"})},
		{"file", msg(`{"id":"104","type":"file","fileName":"invoice.pdf","fileSize":24576}`),
			message("", native("104", "file"), channel.Attachment{MediaID: "104", Name: "invoice.pdf",
				ContentType: "application/octet-stream", Size: 24576})},
		{"external image", msg(`{"id":"105","type":"image","contentProvider":{"type":"external","originalContentUrl":"https://cdn.example/a.jpg","previewImageUrl":"https://cdn.example/p.jpg"}}`),
			message("", native("105", "image"), channel.Attachment{URL: "https://cdn.example/a.jpg", Name: "image.jpg", ContentType: "image/jpeg"})},
		{"image without an id", msg(`{"type":"image"}`), message("[image]", native("", "image"))},
		{"sticker", msg(`{"id":"106","type":"sticker","packageId":"446","stickerId":"1988","stickerResourceType":"STATIC"}`),
			message("[sticker]", native("106", "sticker"))},
		{"location", msg(`{"id":"107","type":"location","title":"Tokyo","latitude":35.6,"longitude":139.7}`),
			message("[location]", native("107", "location"))},
		{"empty text", msg(`{"id":"108","type":"text","text":""}`), message("[text]", native("108", "text"))},
		{"group source", ev(`{"type":"message","mode":"active","timestamp":1795860000123,"webhookEventId":"01HEV2",
			"deliveryContext":{"isRedelivery":true},"replyToken":"rt2","source":{"type":"group","groupId":"Cgroup1","userId":"Uuser2"},
			"message":{"id":"200","type":"text","text":"hi all"}}`),
			[]channel.Event{{Kind: channel.KindMessage, DedupeKey: "01HEV2", At: at, ReplyToken: "rt2", Text: "hi all",
				From:   channel.Identity{Channel: "line", Account: bot, UserID: "Cgroup1"},
				Native: &line.Message{ID: "200", Type: "text", SourceType: "group", SpeakerID: "Uuser2", Redelivery: true}}}},
		{"room source", ev(`{"type":"message","mode":"active","webhookEventId":"01HEV3","source":{"type":"room","roomId":"Rroom1"},
			"message":{"id":"201","type":"text","text":"in a room"}}`),
			[]channel.Event{{Kind: channel.KindMessage, DedupeKey: "01HEV3", Text: "in a room",
				From:   channel.Identity{Channel: "line", Account: bot, UserID: "Rroom1"},
				Native: &line.Message{ID: "201", Type: "text", SourceType: "room"}}}},
		{"standby message dropped", ev(`{"type":"message","mode":"standby","webhookEventId":"01HEV4","source":{"type":"user","userId":"Uuser1"},
			"message":{"id":"300","type":"text","text":"someone else answers"}}`), nil},
		{"follow", ev(`{"type":"follow","mode":"active","timestamp":1795860000123,"webhookEventId":"01HEV5","replyToken":"rt5",
			"source":{"type":"user","userId":"Uuser1"},"follow":{"isUnblocked":true}}`),
			[]channel.Event{{Kind: channel.KindSubscribed, DedupeKey: "01HEV5", From: user1, At: at, ReplyToken: "rt5"}}},
		{"unfollow in standby", ev(`{"type":"unfollow","mode":"standby","timestamp":1795860000123,"webhookEventId":"01HEV6",
			"source":{"type":"user","userId":"Uuser1"}}`),
			[]channel.Event{{Kind: channel.KindUnsubscribed, DedupeKey: "01HEV6", From: user1, At: at}}},
		{"postback gives nothing", ev(`{"type":"postback","mode":"active","webhookEventId":"01HEV7","replyToken":"rt7",
			"source":{"type":"user","userId":"Uuser1"},"postback":{"data":"action=buy"}}`), nil},
		{"join gives nothing", ev(`{"type":"join","mode":"active","webhookEventId":"01HEV8","source":{"type":"group","groupId":"Cgroup1"}}`), nil},
		{"no webhookEventId", ev(`{"type":"message","mode":"active","source":{"type":"user","userId":"Uuser1"},"message":{"id":"1","type":"text","text":"x"}}`), nil},
		{"no user id", ev(`{"type":"message","mode":"active","webhookEventId":"01HEV9","source":{"type":"user"},"message":{"id":"1","type":"text","text":"x"}}`), nil},
		{"group without a group id", ev(`{"type":"message","mode":"active","webhookEventId":"01HEVA","source":{"type":"group","userId":"Uuser1"},"message":{"id":"1","type":"text","text":"x"}}`), nil},
		{"empty events: the URL check", `{"destination":"` + bot + `","events":[]}`, nil},
		{"no events", `{"destination":"` + bot + `"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := line.Inbound{}.Parse([]byte(tc.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseBatchInOrder(t *testing.T) {
	body := linefake.Events(bot,
		linefake.FollowEvent("Ua", "E1", "rt1"),
		linefake.MessageEvent("Ua", "E2", "rt2", map[string]any{"id": "1", "type": "text", "text": "first"}),
		linefake.MessageEvent("Ub", "E3", "rt3", map[string]any{"id": "2", "type": "sticker"}),
		linefake.UnfollowEvent("Ub", "E4"))
	evs, err := line.Inbound{}.Parse(body)
	if err != nil || len(evs) != 4 {
		t.Fatalf("Parse: %d events, %v", len(evs), err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Kind+" "+e.DedupeKey+" "+e.From.UserID+" "+e.Text)
	}
	want := []string{"subscribed E1 Ua ", "message E2 Ua first", "message E3 Ub [sticker]", "unsubscribed E4 Ub "}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"empty", ``, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"array", `[{"destination":"U1"}]`, "not a JSON object"},
		{"truncated", `{"destination":"U1","events":[{"type":"message"`, "invalid JSON"},
		{"events not an array", `{"destination":"U1","events":{}}`, `field "events"`},
		{"timestamp a string", `{"destination":"U1","events":[{"type":"message","timestamp":"soon"}]}`, "timestamp"},
		{"no destination", `{"events":[]}`, "no destination"},
		{"another webhook", `{"object":"page","entry":[]}`, "no destination"},
		{"over 1 MiB", `{"destination":"U1","events":[],"pad":"` + strings.Repeat("x", line.MaxBody) + `"}`, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := line.Inbound{}.Parse([]byte(tc.body))
			if !errors.Is(err, channel.ErrMalformed) || evs != nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Parse = %d events, %v; want ErrMalformed naming %q", len(evs), err, tc.reason)
			}
		})
	}
}

func TestParseKeepsNoTextInErrors(t *testing.T) {
	_, err := line.Inbound{}.Parse([]byte(`{"destination":"U1","events":[{"type":"message","message":{"text":["secret words"]}}]}`))
	if !errors.Is(err, channel.ErrMalformed) || strings.Contains(err.Error(), "secret words") {
		t.Fatalf("Parse: %v", err)
	}
}
