package meta_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/meta"
)

// Bodies shaped as Meta sends them (ids shortened).
const (
	batchedMessenger = `{"object":"page","entry":[
 {"id":"PAGE1","time":1795860000000,"messaging":[
  {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE1"},"timestamp":1795860000123,"message":{"mid":"m_A","text":"first"}},
  {"sender":{"id":"PAGE1"},"recipient":{"id":"PSID1"},"timestamp":1795860000200,"message":{"mid":"m_ECHO","text":"our reply","is_echo":true,"app_id":1517776481860111}},
  {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE1"},"timestamp":1795860000300,"delivery":{"mids":["m_ECHO"],"watermark":1795860000300}},
  {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE1"},"timestamp":1795860000400,"read":{"watermark":1795860000300}},
  {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE1"},"timestamp":1795860000500,"reaction":{"mid":"m_ECHO","action":"react","emoji":"x"}},
  {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE1"},"timestamp":1795860000600,"message":{"mid":"m_B","text":"Yes","quick_reply":{"payload":"YES_PAYLOAD"},"reply_to":{"mid":"m_A"}}}
 ]},
 {"id":"PAGE2","time":1795860001000,"messaging":[
  {"sender":{"id":"PSID2"},"recipient":{"id":"PAGE2"},"timestamp":1795860001000,"postback":{"mid":"m_PB","title":"Talk to a human","payload":"HUMAN"}},
  {"sender":{"id":"PSID2"},"recipient":{"id":"PAGE2"},"timestamp":1795860001100,"message":{"mid":"m_ATT","attachments":[
    {"type":"image","payload":{"url":"https://cdn.test/a.jpg?oh=x"}},
    {"type":"file","payload":{"url":"https://cdn.test/b.pdf?oh=y"}},
    {"type":"fallback","payload":null}]}},
  {"sender":{"id":"PSID2"},"timestamp":1795860001200,"message":{"mid":"m_LOC","attachments":[{"type":"location","payload":{"coordinates":{"lat":1,"long":2}}}]}}
 ]}
]}`
	instagramBody = `{"object":"instagram","entry":[{"id":"IG1","time":1795860000000,"messaging":[
  {"sender":{"id":"IGSID1"},"recipient":{"id":"IG1"},"timestamp":1795860000000,"message":{"mid":"aWdfZAG1","text":"hi from ig"}},
  {"sender":{"id":"IGSID1"},"recipient":{"id":"IG1"},"timestamp":1795860000100,"message":{"mid":"aWdfZAG2","attachments":[{"type":"ig_reel","payload":{"url":"https://cdn.test/reel","title":"r"}}]}},
  {"sender":{"id":"IGSID1"},"recipient":{"id":"IG1"},"timestamp":1795860000200,"message":{"mid":"aWdfZAG1","is_deleted":true}},
  {"sender":{"id":"IGSID1"},"recipient":{"id":"IG1"},"timestamp":1795860000300,"message":{"mid":"aWdfZAG3","is_unsupported":true}}
]}]}`
	whatsAppBody = `{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"messages","value":{
  "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PHONE1"},
  "contacts":[{"profile":{"name":"Ana"},"wa_id":"4911"},{"profile":{"name":"Ben"},"wa_id":"4922"}],
  "messages":[
   {"from":"4922","id":"wamid.T","timestamp":"1795860000","type":"text","text":{"body":"hello"},"context":{"from":"15550001111","id":"wamid.OURS"}},
   {"from":"4911","id":"wamid.I","timestamp":"1795860001","type":"image","image":{"id":"MEDIA1","mime_type":"image/jpeg","sha256":"abc","caption":"my receipt"}},
   {"from":"4911","id":"wamid.D","timestamp":"1795860002","type":"document","document":{"id":"MEDIA2","mime_type":"application/pdf","filename":"invoice.pdf"}},
   {"from":"4911","id":"wamid.B","timestamp":"1795860003","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"BTN_YES","title":"Yes please"}}},
   {"from":"4911","id":"wamid.L","timestamp":"1795860004","type":"location","location":{"latitude":1,"longitude":2}},
   {"from":"4911","id":"wamid.R","timestamp":"1795860005","type":"reaction","reaction":{"message_id":"wamid.OURS","emoji":"x"}},
   {"from":"4911","id":"wamid.Q","timestamp":"1795860006","type":"button","button":{"text":"Stop","payload":"STOP"}}
  ]}},
  {"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}`
	statusesBody = `{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"messages","value":{
  "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PHONE1"},
  "statuses":[
   {"id":"wamid.OUT1","status":"delivered","timestamp":"1795860000","recipient_id":"4911"},
   {"id":"wamid.OUT2","status":"failed","timestamp":"1795860001","recipient_id":"4911",
    "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"more than 24 hours"}}]}
  ]}}]}]}`
)

// brief is the part of an event a table states.
type brief struct {
	Kind, Key, Channel, Account, User, Name, Text string
	Atts                                          []channel.Attachment
}

func briefs(evs []channel.Event) []brief {
	var out []brief
	for _, e := range evs {
		out = append(out, brief{e.Kind, e.DedupeKey, e.From.Channel, e.From.Account, e.From.UserID, e.From.DisplayName, e.Text, e.Attachments})
	}
	return out
}

func TestParse(t *testing.T) {
	msg := channel.KindMessage
	for _, tc := range []struct {
		name string
		body string
		want []brief
	}{
		{"batched messenger: echo, delivery, read, reaction dropped", batchedMessenger, []brief{
			{msg, "m_A", "messenger", "PAGE1", "PSID1", "", "first", nil},
			{msg, "m_B", "messenger", "PAGE1", "PSID1", "", "Yes", nil},
			{msg, "m_PB", "messenger", "PAGE2", "PSID2", "", "Talk to a human", nil},
			{msg, "m_ATT", "messenger", "PAGE2", "PSID2", "", "", []channel.Attachment{
				{URL: "https://cdn.test/a.jpg?oh=x", Name: "image"}, {URL: "https://cdn.test/b.pdf?oh=y", Name: "file"}}},
			{msg, "m_LOC", "messenger", "PAGE2", "PSID2", "", "[location]", nil},
		}},
		{"instagram: deletion dropped, unsupported is a placeholder", instagramBody, []brief{
			{msg, "aWdfZAG1", "instagram", "IG1", "IGSID1", "", "hi from ig", nil},
			{msg, "aWdfZAG2", "instagram", "IG1", "IGSID1", "", "", []channel.Attachment{{URL: "https://cdn.test/reel", Name: "ig_reel"}}},
			{msg, "aWdfZAG3", "instagram", "IG1", "IGSID1", "", "[unsupported]", nil},
		}},
		{"whatsapp messages with contacts' names, reaction dropped", whatsAppBody, []brief{
			{msg, "wamid.T", "whatsapp", "PHONE1", "4922", "Ben", "hello", nil},
			{msg, "wamid.I", "whatsapp", "PHONE1", "4911", "Ana", "my receipt", []channel.Attachment{
				{MediaID: "MEDIA1", ContentType: "image/jpeg", Name: "image"}}},
			{msg, "wamid.D", "whatsapp", "PHONE1", "4911", "Ana", "", []channel.Attachment{
				{MediaID: "MEDIA2", ContentType: "application/pdf", Name: "invoice.pdf"}}},
			{msg, "wamid.B", "whatsapp", "PHONE1", "4911", "Ana", "Yes please", nil},
			{msg, "wamid.L", "whatsapp", "PHONE1", "4911", "Ana", "[location]", nil},
			{msg, "wamid.Q", "whatsapp", "PHONE1", "4911", "Ana", "Stop", nil},
		}},
		{"whatsapp statuses", statusesBody, []brief{
			{channel.KindOther, "status:wamid.OUT1:delivered", "whatsapp", "PHONE1", "4911", "", "", nil},
			{channel.KindOther, "status:wamid.OUT2:failed", "whatsapp", "PHONE1", "4911", "", "", nil},
		}},
		{"empty entry", `{"object":"page","entry":[]}`, nil},
		{"no entry", `{"object":"instagram"}`, nil},
		{"items without ids, senders or accounts", `{"object":"page","entry":[{"messaging":[
			{"sender":{"id":"P"},"timestamp":1,"message":{"mid":"m_1","text":"no account"}},
			{"recipient":{"id":"PAGE"},"timestamp":1,"message":{"mid":"m_2","text":"no sender"}},
			{"sender":{"id":"P"},"recipient":{"id":"PAGE"},"message":{"text":"no mid"}}]}]}`, nil},
		{"postback without a mid", `{"object":"page","entry":[{"id":"PAGE","messaging":[
			{"sender":{"id":"P"},"recipient":{"id":"PAGE"},"timestamp":1795860000000,"postback":{"title":"","payload":"GET_STARTED"}}]}]}`, []brief{
			{msg, "postback:P:1795860000000", "messenger", "PAGE", "P", "", "[postback]", nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := meta.Inbound{}.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := briefs(evs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParse_Native(t *testing.T) {
	evs, err := meta.Inbound{}.Parse([]byte(batchedMessenger))
	if err != nil {
		t.Fatal(err)
	}
	if at := evs[0].At; !at.Equal(time.UnixMilli(1795860000123)) {
		t.Errorf("At %v", at)
	}
	want := []*meta.Message{
		{Product: "messenger", EntryID: "PAGE1", ID: "m_A", Type: "message"},
		{Product: "messenger", EntryID: "PAGE1", ID: "m_B", Type: "message", ReplyTo: "m_A", Payload: "YES_PAYLOAD"},
		{Product: "messenger", EntryID: "PAGE2", ID: "m_PB", Type: "postback", Payload: "HUMAN"},
		{Product: "messenger", EntryID: "PAGE2", ID: "m_ATT", Type: "message", AttachmentTypes: []string{"image", "file", "fallback"}},
		{Product: "messenger", EntryID: "PAGE2", ID: "m_LOC", Type: "message", AttachmentTypes: []string{"location"}},
	}
	for i, ev := range evs {
		if m, ok := ev.Native.(*meta.Message); !ok || !reflect.DeepEqual(m, want[i]) {
			t.Errorf("native %d: %+v, want %+v", i, ev.Native, want[i])
		}
	}

	evs, _ = meta.Inbound{}.Parse([]byte(whatsAppBody))
	if m := evs[0].Native.(*meta.Message); m.ReplyTo != "wamid.OURS" || m.Type != "text" || m.EntryID != "WABA1" {
		t.Errorf("whatsapp native %+v", m)
	}
	if m := evs[3].Native.(*meta.Message); m.Payload != "BTN_YES" || m.Type != "interactive" {
		t.Errorf("interactive native %+v", m)
	}
	if !evs[0].At.Equal(time.Unix(1795860000, 0)) {
		t.Errorf("whatsapp At %v", evs[0].At)
	}

	evs, _ = meta.Inbound{}.Parse([]byte(statusesBody))
	st, ok := evs[1].Native.(*meta.Status)
	wantSt := &meta.Status{MessageID: "wamid.OUT2", Status: "failed", RecipientID: "4911", At: time.Unix(1795860001, 0).UTC(),
		Errors: []meta.StatusError{{Code: 131047, Title: "Re-engagement message"}}}
	if !ok || !reflect.DeepEqual(st, wantSt) {
		t.Errorf("status %+v, want %+v", evs[1].Native, wantSt)
	}
}

func TestParse_Malformed(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[]`, `"page"`, `{}`, `{"object":"user","entry":[]}`, `{"object":"page","entry":{}}`,
		`{"object":"page","entry":[{"messaging":[{"timestamp":"soon"}]}]}`, `{"object":"page"`, `{"object":"page"} {}`,
		`{"object":"page","entry":[{"id":12}]}`,
		`{"object":"page","x":"` + strings.Repeat("a", meta.MaxBody) + `"}`,
	} {
		evs, err := meta.Inbound{}.Parse([]byte(body))
		if !errors.Is(err, channel.ErrMalformed) || evs != nil {
			t.Errorf("Parse(%.60q) = %d events, %v; want ErrMalformed", body, len(evs), err)
		}
		if err != nil && len(body) > 100 && strings.Contains(err.Error(), "aaaa") {
			t.Errorf("error quotes the body: %.100s", err)
		}
	}
}

func TestParse_TimestampAsString(t *testing.T) {
	evs, err := meta.Inbound{}.Parse([]byte(`{"object":"page","entry":[{"id":"P","messaging":[
		{"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":"1795860000123","message":{"mid":"m_1","text":"x"}}]}]}`))
	if err != nil || len(evs) != 1 || !evs[0].At.Equal(time.UnixMilli(1795860000123)) {
		t.Fatalf("%+v %v", evs, err)
	}
}
