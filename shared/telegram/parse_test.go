package telegram_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/telegramfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/telegram"
)

// Bodies shaped as Telegram sends them (ids shortened).
const (
	textBody = `{"update_id":900001,"message":{"message_id":17,"date":1795860000,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana","last_name":"Lima","username":"analima","language_code":"pt"},
  "chat":{"id":5551,"first_name":"Ana","last_name":"Lima","username":"analima","type":"private"},
  "text":"Where is my order?","entities":[]}}`
	photoBody = `{"update_id":900002,"message":{"message_id":18,"date":1795860001,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"chat":{"id":5551,"first_name":"Ana","type":"private"},
  "photo":[{"file_id":"PH-S","file_unique_id":"u1","file_size":1310,"width":90,"height":67},
   {"file_id":"PH-M","file_unique_id":"u2","file_size":17280,"width":320,"height":240},
   {"file_id":"PH-L","file_unique_id":"u3","file_size":91520,"width":1280,"height":960}],
  "caption":"the receipt"}}`
	documentBody = `{"update_id":900003,"message":{"message_id":19,"date":1795860002,
  "from":{"id":5551,"is_bot":false,"first_name":"","username":"analima"},"chat":{"id":5551,"type":"private"},
  "document":{"file_name":"invoice.pdf","mime_type":"application/pdf","file_id":"DOC1","file_unique_id":"u4","file_size":48213}}}`
	editedBody = `{"update_id":900004,"edited_message":{"message_id":17,"date":1795860000,"edit_date":1795860060,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"chat":{"id":5551,"type":"private"},"text":"Where is order 42?"}}`
	stickerBody = `{"update_id":900005,"message":{"message_id":20,"date":1795860003,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"chat":{"id":5551,"type":"private"},
  "sticker":{"file_id":"ST1","file_unique_id":"u5","type":"regular","width":512,"height":512,"is_animated":false,"is_video":false,"emoji":"x"}}}`
	locationBody = `{"update_id":900006,"message":{"message_id":21,"date":1795860004,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"chat":{"id":5551,"type":"private"},
  "location":{"latitude":1.5,"longitude":2.5}}}`
	liveLocationEdit = `{"update_id":900007,"edited_message":{"message_id":21,"date":1795860004,"edit_date":1795860010,
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"chat":{"id":5551,"type":"private"},
  "location":{"latitude":1.6,"longitude":2.5,"live_period":900}}}`
	groupBody = `{"update_id":900008,"message":{"message_id":5,"date":1795860005,
  "from":{"id":7001,"is_bot":false,"first_name":"Bo"},"chat":{"id":-1001987654321,"title":"Acme buyers","type":"supergroup"},
  "text":"hi all"}}`
	kickedBody = `{"update_id":900009,"my_chat_member":{"chat":{"id":5551,"first_name":"Ana","type":"private"},
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"date":1795860100,
  "old_chat_member":{"user":{"id":1,"is_bot":true,"first_name":"Bot"},"status":"member"},
  "new_chat_member":{"user":{"id":1,"is_bot":true,"first_name":"Bot"},"status":"kicked","until_date":0}}}`
	memberBody = `{"update_id":900010,"my_chat_member":{"chat":{"id":5551,"first_name":"Ana","type":"private"},
  "from":{"id":5551,"is_bot":false,"first_name":"Ana"},"date":1795860200,
  "old_chat_member":{"status":"kicked"},"new_chat_member":{"status":"member"}}}`
	adminBody = `{"update_id":900011,"my_chat_member":{"chat":{"id":-100555,"title":"G","type":"supergroup"},
  "from":{"id":7001,"is_bot":false,"first_name":"Bo"},"date":1795860300,"new_chat_member":{"status":"administrator"}}}`
	callbackBody = `{"update_id":900012,"callback_query":{"id":"1","from":{"id":5551,"is_bot":false,"first_name":"Ana"},"data":"x"}}`
	noChatBody   = `{"update_id":900013,"message":{"message_id":1,"date":1795860000,"text":"orphan"}}`
)

// brief is the part of an event a table states.
type brief struct {
	Kind, Key, Account, User, Name, Text string
	Atts                                 []channel.Attachment
}

func TestParse(t *testing.T) {
	msg := channel.KindMessage
	for _, tc := range []struct {
		name string
		body string
		want []brief
		at   time.Time
	}{
		{"text", textBody, []brief{{msg, "900001", "", "5551", "Ana Lima", "Where is my order?", nil}}, time.Unix(1795860000, 0)},
		{"caption and the largest photo", photoBody, []brief{{msg, "900002", "", "5551", "Ana", "the receipt",
			[]channel.Attachment{{MediaID: "PH-L", Name: "photo.jpg", ContentType: "image/jpeg", Size: 91520}}}}, time.Unix(1795860001, 0)},
		{"document, username for a name", documentBody, []brief{{msg, "900003", "", "5551", "analima", "",
			[]channel.Attachment{{MediaID: "DOC1", Name: "invoice.pdf", ContentType: "application/pdf", Size: 48213}}}}, time.Unix(1795860002, 0)},
		{"edited is a new message at the edit", editedBody, []brief{{msg, "900004", "", "5551", "Ana", "(edited) Where is order 42?", nil}}, time.Unix(1795860060, 0)},
		{"sticker placeholder", stickerBody, []brief{{msg, "900005", "", "5551", "Ana", "[sticker]", nil}}, time.Unix(1795860003, 0)},
		{"location placeholder", locationBody, []brief{{msg, "900006", "", "5551", "Ana", "[location]", nil}}, time.Unix(1795860004, 0)},
		{"live location edit is nothing", liveLocationEdit, nil, time.Time{}},
		{"group: negative chat id, its title", groupBody, []brief{{msg, "900008", "", "-1001987654321", "Acme buyers", "hi all", nil}}, time.Unix(1795860005, 0)},
		{"blocked is unsubscribed", kickedBody, []brief{{channel.KindUnsubscribed, "900009", "", "5551", "Ana", "", nil}}, time.Unix(1795860100, 0)},
		{"restarted is subscribed", memberBody, []brief{{channel.KindSubscribed, "900010", "", "5551", "Ana", "", nil}}, time.Unix(1795860200, 0)},
		{"other member status is nothing", adminBody, nil, time.Time{}},
		{"other update is nothing", callbackBody, nil, time.Time{}},
		{"a message without a chat is nothing", noChatBody, nil, time.Time{}},
		{"no content at all", `{"update_id":1}`, nil, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := telegram.Inbound{}.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []brief
			for _, e := range evs {
				if e.From.Channel != "telegram" {
					t.Errorf("channel %q", e.From.Channel)
				}
				got = append(got, brief{e.Kind, e.DedupeKey, e.From.Account, e.From.UserID, e.From.DisplayName, e.Text, e.Attachments})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events\n got %+v\nwant %+v", got, tc.want)
			}
			if len(evs) == 1 && !evs[0].At.Equal(tc.at) {
				t.Errorf("at %v, want %v", evs[0].At, tc.at)
			}
		})
	}
}

func TestParse_Native(t *testing.T) {
	evs, _ := telegram.Inbound{}.Parse([]byte(groupBody))
	want := &telegram.Update{ID: 900008, MessageID: 5, ChatType: "supergroup", SenderID: 7001}
	if len(evs) != 1 || !reflect.DeepEqual(evs[0].Native, want) {
		t.Fatalf("native %+v", evs)
	}
	evs, _ = telegram.Inbound{}.Parse([]byte(stickerBody))
	if u, _ := evs[0].Native.(*telegram.Update); u == nil || u.Type != "sticker" {
		t.Errorf("sticker native %+v", evs[0].Native)
	}
	evs, _ = telegram.Inbound{}.Parse([]byte(editedBody))
	if u, _ := evs[0].Native.(*telegram.Update); u == nil || !u.Edited {
		t.Errorf("edited native %+v", evs[0].Native)
	}
	evs, _ = telegram.Inbound{}.Parse([]byte(kickedBody))
	if u, _ := evs[0].Native.(*telegram.Update); u == nil || u.MemberStatus != "kicked" {
		t.Errorf("kicked native %+v", evs[0].Native)
	}
}

func TestParse_Payloads(t *testing.T) {
	for _, tc := range []struct {
		body []byte
		kind string
		user string
	}{
		{telegramfake.TextUpdate(1, -42, "Ana", "hi"), channel.KindMessage, "-42"},
		{telegramfake.PhotoUpdate(2, 42, "PH"), channel.KindMessage, "42"},
		{telegramfake.DocumentUpdate(3, 42, "DOC", "a.pdf", "application/pdf"), channel.KindMessage, "42"},
		{telegramfake.BlockedUpdate(4, 42), channel.KindUnsubscribed, "42"},
		{telegramfake.UnblockedUpdate(5, 42), channel.KindSubscribed, "42"},
	} {
		evs, err := telegram.Inbound{}.Parse(tc.body)
		if err != nil || len(evs) != 1 || evs[0].Kind != tc.kind || evs[0].From.UserID != tc.user {
			t.Errorf("%s: %+v %v", tc.body, evs, err)
		}
	}
	evs, _ := telegram.Inbound{}.Parse(telegramfake.PhotoUpdate(2, 42, "PH"))
	if a := evs[0].Attachments; len(a) != 1 || a[0].MediaID != "PH" || evs[0].Text != "" {
		t.Errorf("photo payload %+v", evs[0])
	}
}

func TestParse_Malformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          "",
		"array":          `[{"update_id":1}]`,
		"null":           "null",
		"no update_id":   `{"message":{"message_id":1,"chat":{"id":1},"text":"x"}}`,
		"string id":      `{"update_id":"1"}`,
		"truncated":      `{"update_id":1,"message":{"chat":{"id":`,
		"chat id string": `{"update_id":1,"message":{"chat":{"id":"5551"},"text":"x"}}`,
		"not JSON":       "\xff\xfe",
		"over 1 MiB":     `{"update_id":1,"message":{"chat":{"id":1},"text":"` + strings.Repeat("a", telegram.MaxBody) + `"}}`,
	} {
		evs, err := telegram.Inbound{}.Parse([]byte(body))
		if !errors.Is(err, channel.ErrMalformed) || evs != nil {
			t.Errorf("%s: %d events, %v", name, len(evs), err)
			continue
		}
		if strings.Contains(err.Error(), "5551") || strings.Contains(err.Error(), "aaaa") {
			t.Errorf("%s: error %q quotes the body", name, err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
