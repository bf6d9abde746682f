package viber

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body Parse reads (1 MiB); a larger one is
// malformed.
const MaxBody = channel.MaxBody

// Viber's callback events.
const (
	EventMessage             = "message"
	EventSubscribed          = "subscribed"
	EventUnsubscribed        = "unsubscribed"
	EventConversationStarted = "conversation_started"
	EventDelivered           = "delivered"
	EventSeen                = "seen"
	EventFailed              = "failed"
	EventWebhook             = "webhook"
)

// Callback is a callback's Viber form (channel.Event.Native of every event
// Parse gives): what the seam does not carry.
type Callback struct {
	// Event is Viber's event name ("message", "seen", "conversation_started"...).
	Event string
	// MessageToken is the callback's message_token as a decimal string,
	// exactly as sent (a 64-bit integer above 2^53); "" if it had none.
	MessageToken string
	// UserID is the contact's Viber id: the sender of a message, the user of
	// a subscription, the recipient of a status.
	UserID string
	// MessageType is a message's type ("text", "picture", "sticker"...).
	MessageType string
	// TrackingData is the tracking_data our keyboard or message set, echoed
	// back by Viber.
	TrackingData string
	// Subscribed tells, for conversation_started, whether the user is
	// already subscribed to the account.
	Subscribed bool
	// Language, Country and APIVersion describe the contact's Viber client,
	// when the callback tells them.
	Language   string
	Country    string
	APIVersion int
}

// Parse turns a verified callback body into its event (Viber sends one per
// request):
//
//   - message is a channel.KindMessage: DedupeKey = the message_token as a
//     decimal string, From = {"viber", "", sender.id, sender.name}, Text, At
//     and Attachments. From.Account is empty: the body does not name the
//     account it was sent to, so the bridge, which knows whose webhook URL
//     was called, fills it with the Account.ID Connect returned. A picture,
//     video or file is an Attachment by URL (Viber's media URL, fetched
//     without a token) with its file_name (else "picture.jpg", "video.mp4",
//     "file"), a content type guessed from the type and the name, and its
//     size; the text is its caption (maybe empty). A url message's text is
//     the URL. A sticker, location, contact or any other message with
//     nothing to show gets the placeholder text "[<type>]" ("[sticker]").
//   - subscribed and unsubscribed are channel.KindSubscribed and
//     channel.KindUnsubscribed of the user.
//   - delivered, seen and failed are channel.KindStatus of one of our
//     messages: Status = {message_token, "delivered" | "read" | "failed",
//     Code "failed" for a failure}, From.UserID the contact. Viber's failure
//     description is text, so it is not kept.
//   - conversation_started (a user opened the chat, not yet a message) is a
//     channel.KindOther with the user in From.
//   - webhook (Viber's check of the URL set_webhook registers) gives no
//     event: a verified empty answer (200) is all Viber waits for.
//   - any other event is a channel.KindOther.
//
// Every event but a message has DedupeKey "<event>:<message_token>" (or
// "<event>:<user id>:<timestamp>" when Viber sends no token); Native is a
// *Callback. An event without the ids it needs (a message without a token or
// a sender) gives no event.
//
// A body over MaxBody, not a JSON object, with a token, timestamp or size
// that is not an integer, or without an event wraps channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("%w: %s", channel.ErrMalformed, jsonReason(err))
	}
	if cb.Event == "" {
		return nil, fmt.Errorf("%w: callback without an event", channel.ErrMalformed)
	}
	ev, ok := cb.event()
	if !ok {
		return nil, nil
	}
	return []channel.Event{ev}, nil
}

// The wire format (only the fields we read).
type (
	callback struct {
		Event        string   `json:"event"`
		Timestamp    integer  `json:"timestamp"`
		MessageToken integer  `json:"message_token"`
		Sender       *user    `json:"sender"`
		User         *user    `json:"user"`
		UserID       string   `json:"user_id"`
		Message      *message `json:"message"`
		Subscribed   bool     `json:"subscribed"`
	}
	user struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Language   string  `json:"language"`
		Country    string  `json:"country"`
		APIVersion integer `json:"api_version"`
	}
	message struct {
		Type         string  `json:"type"`
		Text         string  `json:"text"`
		Media        string  `json:"media"`
		FileName     string  `json:"file_name"`
		Size         integer `json:"size"`
		TrackingData string  `json:"tracking_data"`
	}
)

// errNotInteger is what a token, timestamp or size that is not an integer
// fails to decode with.
var errNotInteger = errors.New("viber: a number field is not an integer")

// integer is a JSON integer (or a string of one) kept as its canonical
// decimal string, so a 64-bit message token survives exactly: it never goes
// through float64. The zero value is an absent or null field.
type integer string

// UnmarshalJSON reads an integer literal of the int64 or uint64 range.
func (n *integer) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		*n = integer(strconv.FormatUint(u, 10))
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = integer(strconv.FormatInt(i, 10))
		return nil
	}
	return errNotInteger
}

// int64 is the integer's value, 0 if absent or out of range.
func (n integer) int64() int64 {
	i, _ := strconv.ParseInt(string(n), 10, 64)
	return i
}

// millis is a Viber timestamp as a time (zero if absent or absurd).
func (n integer) millis() time.Time {
	ms := n.int64()
	if ms <= 0 || ms > 1<<50 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// jsonReason names what is wrong with a body without quoting it.
func jsonReason(err error) string {
	if errors.Is(err, errNotInteger) {
		return "a token, timestamp or size is not an integer"
	}
	return channel.JSONReason(err)
}

// placeholder is the text of a message we cannot show.
func placeholder(typ string) string {
	if typ == "" {
		typ = "unsupported"
	}
	return "[" + channel.Truncate(typ, 40) + "]"
}

// event is the callback's event, and whether it has one.
func (cb callback) event() (channel.Event, bool) {
	native := &Callback{Event: cb.Event, MessageToken: string(cb.MessageToken), UserID: cb.UserID, Subscribed: cb.Subscribed}
	ev := channel.Event{At: cb.Timestamp.millis(), Native: native, From: channel.Identity{Channel: ChannelName}}
	u := cb.User
	if cb.Event == EventMessage {
		u, native.UserID = cb.Sender, "" // a message's user is its sender, no other
	}
	if u != nil {
		native.UserID, native.Language, native.Country = u.ID, u.Language, u.Country
		native.APIVersion = int(min(max(u.APIVersion.int64(), 0), 1<<20))
		ev.From.DisplayName = u.Name
	}
	ev.From.UserID = native.UserID
	switch cb.Event {
	case EventMessage:
		if cb.MessageToken == "" || native.UserID == "" || cb.Message == nil {
			return channel.Event{}, false
		}
		ev.Kind, ev.DedupeKey = channel.KindMessage, native.MessageToken
		cb.Message.fill(&ev, native)
		return ev, true
	case EventWebhook:
		return channel.Event{}, false
	case EventSubscribed:
		ev.Kind = channel.KindSubscribed
	case EventUnsubscribed:
		ev.Kind = channel.KindUnsubscribed
	case EventDelivered, EventSeen, EventFailed:
		if cb.MessageToken == "" {
			return channel.Event{}, false
		}
		st := &channel.DeliveryStatus{ProviderID: native.MessageToken, Status: cb.Event}
		switch cb.Event {
		case EventSeen:
			st.Status = "read"
		case EventFailed:
			st.Code = "failed"
		}
		ev.Kind, ev.Status = channel.KindStatus, st
	default:
		ev.Kind = channel.KindOther
	}
	switch {
	case cb.MessageToken != "":
		ev.DedupeKey = channel.Truncate(cb.Event, 40) + ":" + native.MessageToken
	case native.UserID != "" && cb.Timestamp != "":
		ev.DedupeKey = channel.Truncate(cb.Event, 40) + ":" + native.UserID + ":" + string(cb.Timestamp)
	default:
		return channel.Event{}, false
	}
	return ev, true
}

// Default names of media without a file_name.
var mediaNames = map[string]string{"picture": "picture.jpg", "video": "video.mp4", "file": "file"}

// fill sets a message event's text and attachments from Viber's message.
func (m *message) fill(ev *channel.Event, native *Callback) {
	native.MessageType, native.TrackingData = m.Type, m.TrackingData
	switch m.Type {
	case "text":
		ev.Text = m.Text
	case "picture", "video", "file":
		ev.Text = m.Text
		if m.Media != "" {
			name := m.FileName
			if name == "" {
				name = mediaNames[m.Type]
			}
			ev.Attachments = []channel.Attachment{{URL: m.Media, Name: name,
				ContentType: contentType(m.Type, m.FileName), Size: max(m.Size.int64(), 0)}}
		}
	case "url":
		ev.Text = m.Media
		if ev.Text == "" {
			ev.Text = m.Text
		}
	case "sticker", "location", "contact":
		// Nothing to show but the placeholder.
	default:
		ev.Text = m.Text
	}
	if ev.Text == "" && len(ev.Attachments) == 0 {
		ev.Text = placeholder(m.Type)
	}
}

// MIME types of the file extensions Viber users send most.
var extTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
	".heic": "image/heic", ".mp4": "video/mp4", ".mov": "video/quicktime", ".3gp": "video/3gpp",
	".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".wav": "audio/wav",
	".pdf": "application/pdf", ".txt": "text/plain", ".csv": "text/csv", ".zip": "application/zip",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// contentType guesses a media's type from its file name, else from Viber's
// type (pictures are JPEG, videos MP4); "" for a file of unknown type (the
// real one comes with Fetch).
func contentType(typ, fileName string) string {
	if t, ok := extTypes[strings.ToLower(path.Ext(fileName))]; ok {
		return t
	}
	switch typ {
	case "picture":
		return "image/jpeg"
	case "video":
		return "video/mp4"
	}
	return ""
}
