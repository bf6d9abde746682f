package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body Parse reads (1 MiB); a larger one is
// malformed.
const MaxBody = channel.MaxBody

// Webhook objects: which product a body is about.
const (
	objectPage      = "page"
	objectInstagram = "instagram"
	objectWhatsApp  = "whatsapp_business_account"
)

// Message is a contact message's Meta form (channel.Event.Native of a
// channel.KindMessage): what the seam does not carry.
type Message struct {
	// Product is ChannelMessenger, ChannelInstagram or ChannelWhatsApp.
	Product string
	// EntryID is the webhook entry's id: the page, the Instagram account or
	// the WhatsApp Business Account.
	EntryID string
	// ID is the message's id: the mid, or the wamid on WhatsApp.
	ID string
	// Type is "message" or "postback" on Messenger and Instagram, the message
	// type on WhatsApp ("text", "image", "interactive", "location"...).
	Type string
	// ReplyTo is the id of the message this one answers (reply_to.mid,
	// context.id), if any.
	ReplyTo string
	// Payload is the developer payload of the button the contact chose: a
	// quick reply's or postback's payload, a WhatsApp button's payload or an
	// interactive reply's id.
	Payload string
	// AttachmentTypes are Meta's types of the message's attachments in order
	// ("image", "file", "ig_reel", "sticker"...), those without a URL or media
	// id (not in Event.Attachments) included.
	AttachmentTypes []string
}

// Status is a WhatsApp delivery status of one of our messages
// (channel.Event.Native of a channel.KindOther).
type Status struct {
	// MessageID is the wamid of our message.
	MessageID string
	// Status is "sent", "delivered", "read" or "failed".
	Status string
	// RecipientID is the contact's wa_id.
	RecipientID string
	// At is when the status happened.
	At time.Time
	// Errors are why a failed message failed (code 131047: outside the 24h
	// window, a template is required).
	Errors []StatusError
}

// StatusError is one of a status's errors: Graph's code and its short title
// (no message text).
type StatusError struct {
	Code  int
	Title string
}

// Parse turns a verified webhook body into its events, in the provider's
// order, every entry and every item of each entry:
//
//   - a contact's message or postback is a channel.KindMessage with DedupeKey
//     = the mid (wamid on WhatsApp), From = {product, account, user}, Text, At,
//     Attachments and Native = *Message. The account is the page or Instagram
//     account (recipient.id, else entry.id) or the WhatsApp phone_number_id;
//     the user is the PSID, IGSID or wa_id; DisplayName is the WhatsApp
//     profile name when the contacts list has it. A postback's text is its
//     title.
//   - an attachment is by reference: Messenger and Instagram give a CDN URL
//     (URL); WhatsApp gives a media id (MediaID, fetch it with Graph.Media)
//     and its MIME type (ContentType). Meta's Messenger types (image, video,
//     file, ig_reel...) are not MIME types, so ContentType is left empty
//     there: the real one comes with Graph.Download. Name is the file's name
//     when Meta gives one (a WhatsApp document's filename), else Meta's type
//     ("image", "sticker"), a label to show.
//   - a message we cannot show (a location, contacts, an unsupported type, or
//     no text and no usable attachment) is kept, with the placeholder text
//     "[<type>]" ("[location]"), so an agent knows the contact wrote.
//   - a WhatsApp status is a channel.KindOther with DedupeKey =
//     "status:<wamid>:<status>", From = the recipient on the phone number and
//     Native = *Status. It is the only KindOther: the sender needs failed
//     statuses (a send that was accepted but not delivered).
//   - echoes of our own sends, deletions, reactions, deliveries, reads and
//     any other item carry nothing to store and give no event; so does an item
//     without an id, a sender or an account.
//
// A body over MaxBody, not a JSON object, or whose object is not "page",
// "instagram" or "whatsapp_business_account" wraps channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", channel.ErrMalformed, channel.JSONReason(err))
	}
	var product string
	switch env.Object {
	case objectPage:
		product = ChannelMessenger
	case objectInstagram:
		product = ChannelInstagram
	case objectWhatsApp:
		product = ChannelWhatsApp
	default:
		return nil, fmt.Errorf("%w: object %q is not a Meta messaging webhook", channel.ErrMalformed, channel.Truncate(env.Object, 40))
	}
	var out []channel.Event
	for _, e := range env.Entry {
		if product == ChannelWhatsApp {
			out = appendWhatsApp(out, e)
			continue
		}
		for _, m := range e.Messaging {
			if ev, ok := messagingEvent(product, e.ID, m); ok {
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

// The wire format (only the fields we read).
type (
	envelope struct {
		Object string  `json:"object"`
		Entry  []entry `json:"entry"`
	}
	entry struct {
		ID        string      `json:"id"`
		Messaging []messaging `json:"messaging"`
		Changes   []change    `json:"changes"`
	}
	ref struct {
		ID string `json:"id"`
	}
	messaging struct {
		Sender    ref        `json:"sender"`
		Recipient ref        `json:"recipient"`
		Timestamp stamp      `json:"timestamp"`
		Message   *mMessage  `json:"message"`
		Postback  *mPostback `json:"postback"`
	}
	mMessage struct {
		Mid        string `json:"mid"`
		Text       string `json:"text"`
		IsEcho     bool   `json:"is_echo"`
		IsDeleted  bool   `json:"is_deleted"`
		QuickReply *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
		ReplyTo *struct {
			Mid string `json:"mid"`
		} `json:"reply_to"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload *struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachments"`
	}
	mPostback struct {
		Mid     string `json:"mid"`
		Title   string `json:"title"`
		Payload string `json:"payload"`
	}
	change struct {
		Field string  `json:"field"`
		Value waValue `json:"value"`
	}
	waValue struct {
		Metadata struct {
			PhoneNumberID string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts []struct {
			Profile struct {
				Name string `json:"name"`
			} `json:"profile"`
			WaID string `json:"wa_id"`
		} `json:"contacts"`
		Messages []waMessage `json:"messages"`
		Statuses []waStatus  `json:"statuses"`
	}
	waMedia struct {
		ID       string `json:"id"`
		MimeType string `json:"mime_type"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
	}
	waReply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	waMessage struct {
		From      string `json:"from"`
		ID        string `json:"id"`
		Timestamp stamp  `json:"timestamp"`
		Type      string `json:"type"`
		Text      *struct {
			Body string `json:"body"`
		} `json:"text"`
		Image       *waMedia `json:"image"`
		Audio       *waMedia `json:"audio"`
		Video       *waMedia `json:"video"`
		Document    *waMedia `json:"document"`
		Sticker     *waMedia `json:"sticker"`
		Interactive *struct {
			ButtonReply *waReply `json:"button_reply"`
			ListReply   *waReply `json:"list_reply"`
		} `json:"interactive"`
		Button *struct {
			Text    string `json:"text"`
			Payload string `json:"payload"`
		} `json:"button"`
		Context *struct {
			ID string `json:"id"`
		} `json:"context"`
	}
	waStatus struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		Timestamp   stamp  `json:"timestamp"`
		RecipientID string `json:"recipient_id"`
		Errors      []struct {
			Code  int    `json:"code"`
			Title string `json:"title"`
		} `json:"errors"`
	}
)

// stamp is a timestamp as a JSON number or a string of digits: milliseconds
// on Messenger and Instagram, seconds on WhatsApp.
type stamp int64

func (s *stamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	b = bytes.Trim(b, `"`)
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || math.IsNaN(f) || f > 1<<62 || f < -(1<<62) {
			return errors.New("timestamp is not a number")
		}
		n = int64(f)
	}
	*s = stamp(n)
	return nil
}

// millis is a Messenger timestamp as a time (zero if absent or absurd).
func (s stamp) millis() time.Time {
	if s <= 0 || s > 1<<50 {
		return time.Time{}
	}
	return time.UnixMilli(int64(s)).UTC()
}

// seconds is a WhatsApp timestamp as a time (zero if absent or absurd).
func (s stamp) seconds() time.Time {
	if s <= 0 || s > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// placeholder is the text of a message we cannot show.
func placeholder(typ string) string {
	if typ == "" {
		typ = "unsupported"
	}
	return "[" + channel.Truncate(typ, 40) + "]"
}

// messagingEvent is the event of one Messenger or Instagram messaging item,
// and whether it has one.
func messagingEvent(product, entryID string, m messaging) (channel.Event, bool) {
	account := m.Recipient.ID
	if account == "" {
		account = entryID
	}
	if account == "" || m.Sender.ID == "" {
		return channel.Event{}, false
	}
	native := &Message{Product: product, EntryID: entryID}
	ev := channel.Event{Kind: channel.KindMessage, Native: native, At: m.Timestamp.millis(),
		From: channel.Identity{Channel: product, Account: account, UserID: m.Sender.ID}}
	switch {
	case m.Message != nil:
		msg := m.Message
		if msg.IsEcho || msg.IsDeleted || msg.Mid == "" {
			return channel.Event{}, false
		}
		native.ID, native.Type, ev.Text = msg.Mid, "message", msg.Text
		if msg.QuickReply != nil {
			native.Payload = msg.QuickReply.Payload
		}
		if msg.ReplyTo != nil {
			native.ReplyTo = msg.ReplyTo.Mid
		}
		for _, a := range msg.Attachments {
			native.AttachmentTypes = append(native.AttachmentTypes, a.Type)
			if a.Payload != nil && a.Payload.URL != "" {
				ev.Attachments = append(ev.Attachments, channel.Attachment{URL: a.Payload.URL, Name: a.Type})
			}
		}
		if ev.Text == "" && len(ev.Attachments) == 0 {
			typ := "unsupported"
			if len(native.AttachmentTypes) > 0 {
				typ = native.AttachmentTypes[0]
			}
			ev.Text = placeholder(typ)
		}
	case m.Postback != nil:
		pb := m.Postback
		native.ID, native.Type, native.Payload, ev.Text = pb.Mid, "postback", pb.Payload, pb.Title
		if native.ID == "" {
			// Older postbacks have no mid: the sender and the time name one.
			if m.Timestamp <= 0 {
				return channel.Event{}, false
			}
			native.ID = "postback:" + m.Sender.ID + ":" + strconv.FormatInt(int64(m.Timestamp), 10)
		}
		if ev.Text == "" {
			ev.Text = placeholder("postback")
		}
	default:
		return channel.Event{}, false
	}
	ev.DedupeKey = native.ID
	return ev, true
}

// appendWhatsApp appends the events of one WhatsApp entry.
func appendWhatsApp(out []channel.Event, e entry) []channel.Event {
	for _, c := range e.Changes {
		v := c.Value
		phone := v.Metadata.PhoneNumberID
		if c.Field != "messages" || phone == "" {
			continue
		}
		for _, m := range v.Messages {
			if m.ID == "" || m.From == "" || m.Type == "reaction" {
				continue
			}
			ev := waMessageEvent(e.ID, phone, m)
			for _, ct := range v.Contacts {
				if ct.WaID == m.From {
					ev.From.DisplayName = ct.Profile.Name
					break
				}
			}
			out = append(out, ev)
		}
		for _, s := range v.Statuses {
			if s.ID == "" || s.Status == "" {
				continue
			}
			st := &Status{MessageID: s.ID, Status: s.Status, RecipientID: s.RecipientID, At: s.Timestamp.seconds()}
			for _, se := range s.Errors {
				st.Errors = append(st.Errors, StatusError{Code: se.Code, Title: se.Title})
			}
			out = append(out, channel.Event{Kind: channel.KindOther, DedupeKey: "status:" + s.ID + ":" + s.Status,
				From: channel.Identity{Channel: ChannelWhatsApp, Account: phone, UserID: s.RecipientID},
				At:   st.At, Native: st})
		}
	}
	return out
}

// waMessageEvent is the event of one WhatsApp message.
func waMessageEvent(entryID, phone string, m waMessage) channel.Event {
	native := &Message{Product: ChannelWhatsApp, EntryID: entryID, ID: m.ID, Type: m.Type}
	ev := channel.Event{Kind: channel.KindMessage, DedupeKey: m.ID, At: m.Timestamp.seconds(), Native: native,
		From: channel.Identity{Channel: ChannelWhatsApp, Account: phone, UserID: m.From}}
	if m.Context != nil {
		native.ReplyTo = m.Context.ID
	}
	media := func(typ string, md *waMedia) {
		if md == nil {
			return
		}
		native.AttachmentTypes = append(native.AttachmentTypes, typ)
		if ev.Text == "" {
			ev.Text = md.Caption
		}
		if md.ID != "" {
			name := md.Filename
			if name == "" {
				name = typ
			}
			ev.Attachments = append(ev.Attachments, channel.Attachment{MediaID: md.ID, ContentType: md.MimeType, Name: name})
		}
	}
	switch m.Type {
	case "text":
		if m.Text != nil {
			ev.Text = m.Text.Body
		}
	case "image":
		media(m.Type, m.Image)
	case "audio":
		media(m.Type, m.Audio)
	case "video":
		media(m.Type, m.Video)
	case "document":
		media(m.Type, m.Document)
	case "sticker":
		media(m.Type, m.Sticker)
	case "interactive":
		if i := m.Interactive; i != nil {
			for _, r := range []*waReply{i.ButtonReply, i.ListReply} {
				if r != nil {
					ev.Text, native.Payload = r.Title, r.ID
					break
				}
			}
		}
	case "button":
		if m.Button != nil {
			ev.Text, native.Payload = m.Button.Text, m.Button.Payload
		}
	}
	if ev.Text == "" && len(ev.Attachments) == 0 {
		ev.Text = placeholder(m.Type)
	}
	return ev
}
