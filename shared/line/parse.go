package line

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body Parse reads (1 MiB); a larger one is
// malformed.
const MaxBody = channel.MaxBody

// Message is a contact message's LINE form (channel.Event.Native of a
// channel.KindMessage): what the seam does not carry.
type Message struct {
	// ID is LINE's message id (the content API's key of a file).
	ID string
	// Type is LINE's message type: "text", "image", "video", "audio",
	// "file", "sticker", "location"...
	Type string
	// SourceType is "user", "group" or "room": where the message was written.
	SourceType string
	// SpeakerID is source.userId: the contact who wrote. In a one-to-one chat
	// it is From.UserID; in a group or room From.UserID is the group or room
	// and SpeakerID the member (empty when LINE does not tell).
	SpeakerID string
	// Redelivery is deliveryContext.isRedelivery: LINE sends the event again.
	Redelivery bool
}

// Parse turns a verified webhook body into its events, in LINE's order:
//
//   - a message event in mode "active" is a channel.KindMessage with
//     DedupeKey = webhookEventId (kept on redeliveries), From = {"line",
//     destination (the bot's user id), the contact}, At, ReplyToken and
//     Native = *Message. The contact is source.userId; for a group or room
//     source it is the groupId or roomId, so that replies and pushes go to
//     the group (the member is Message.SpeakerID).
//   - a text message's Text is its text. An image, video, audio or file is
//     an Attachment by reference: MediaID = the message id (Provider.Fetch
//     gets it from the content API), Name = the file's name or the type and
//     a usual extension ("image.jpg"), ContentType a guess by type
//     (image/jpeg, video/mp4, audio/m4a, application/octet-stream; the real
//     one comes with Fetch), Size = fileSize when LINE gives it. Content
//     from an external provider (contentProvider.type "external") is at its
//     originalContentUrl instead: URL, no MediaID.
//   - a message we cannot show (a sticker, a location, another type, or one
//     without text or content) is kept with the placeholder text "[<type>]"
//     ("[sticker]"), so an agent knows the contact wrote.
//   - follow is a channel.KindSubscribed and unfollow a
//     channel.KindUnsubscribed of From (whatever the mode: they say whether
//     the contact can be pushed to), keyed by webhookEventId; a follow
//     carries its ReplyToken.
//   - messages in mode "standby" (another channel module answers the chat),
//     every other event type (postback, join, leave, unsend...), and an
//     event without a webhookEventId or a source id give no event.
//
// A body with no events (LINE's check of the webhook URL) gives none. A body
// over MaxBody, not a JSON object, or without a destination wraps
// channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", channel.ErrMalformed, channel.JSONReason(err))
	}
	if env.Destination == "" {
		return nil, fmt.Errorf("%w: no destination", channel.ErrMalformed)
	}
	var out []channel.Event
	for _, e := range env.Events {
		if ev, ok := event(env.Destination, e); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// The wire format (only the fields we read).
type (
	envelope struct {
		Destination string      `json:"destination"`
		Events      []wireEvent `json:"events"`
	}
	wireEvent struct {
		Type           string `json:"type"`
		Mode           string `json:"mode"`
		Timestamp      int64  `json:"timestamp"`
		WebhookEventID string `json:"webhookEventId"`
		ReplyToken     string `json:"replyToken"`
		Source         struct {
			Type    string `json:"type"`
			UserID  string `json:"userId"`
			GroupID string `json:"groupId"`
			RoomID  string `json:"roomId"`
		} `json:"source"`
		DeliveryContext struct {
			IsRedelivery bool `json:"isRedelivery"`
		} `json:"deliveryContext"`
		Message *wireMessage `json:"message"`
	}
	wireMessage struct {
		ID              string `json:"id"`
		Type            string `json:"type"`
		Text            string `json:"text"`
		FileName        string `json:"fileName"`
		FileSize        int64  `json:"fileSize"`
		ContentProvider struct {
			Type               string `json:"type"`
			OriginalContentURL string `json:"originalContentUrl"`
		} `json:"contentProvider"`
	}
)

// media are the message types with content: a default name and a guessed
// content type.
var media = map[string]struct{ name, contentType string }{
	"image": {"image.jpg", "image/jpeg"},
	"video": {"video.mp4", "video/mp4"},
	"audio": {"audio.m4a", "audio/m4a"},
	"file":  {"file", "application/octet-stream"},
}

// event is the channel event of one LINE event, and whether it has one.
func event(destination string, e wireEvent) (channel.Event, bool) {
	user := e.Source.UserID
	switch e.Source.Type {
	case "group":
		user = e.Source.GroupID
	case "room":
		user = e.Source.RoomID
	}
	if e.WebhookEventID == "" || user == "" {
		return channel.Event{}, false
	}
	ev := channel.Event{DedupeKey: e.WebhookEventID, At: millis(e.Timestamp),
		From: channel.Identity{Channel: Channel, Account: destination, UserID: user}}
	switch e.Type {
	case "follow":
		ev.Kind, ev.ReplyToken = channel.KindSubscribed, e.ReplyToken
		return ev, true
	case "unfollow":
		ev.Kind = channel.KindUnsubscribed
		return ev, true
	case "message":
		if e.Mode != "active" || e.Message == nil {
			return channel.Event{}, false
		}
	default:
		return channel.Event{}, false
	}
	m := e.Message
	ev.Kind, ev.ReplyToken = channel.KindMessage, e.ReplyToken
	ev.Native = &Message{ID: m.ID, Type: m.Type, SourceType: e.Source.Type, SpeakerID: e.Source.UserID,
		Redelivery: e.DeliveryContext.IsRedelivery}
	if m.Type == "text" {
		ev.Text = m.Text
	} else if kind, ok := media[m.Type]; ok {
		a := channel.Attachment{Name: m.FileName, ContentType: kind.contentType, MediaID: m.ID}
		if a.Name == "" {
			a.Name = kind.name
		}
		if m.FileSize > 0 {
			a.Size = m.FileSize
		}
		if m.ContentProvider.Type == "external" {
			a.URL, a.MediaID = m.ContentProvider.OriginalContentURL, ""
		}
		if a.URL != "" || a.MediaID != "" {
			ev.Attachments = []channel.Attachment{a}
		}
	}
	if ev.Text == "" && len(ev.Attachments) == 0 {
		ev.Text = placeholder(m.Type)
	}
	return ev, true
}

// placeholder is the text of a message we cannot show.
func placeholder(typ string) string {
	if typ == "" {
		typ = "unsupported"
	}
	return "[" + channel.Truncate(typ, 40) + "]"
}

// millis is a LINE timestamp as a time (zero if absent or absurd).
func millis(ms int64) time.Time {
	if ms <= 0 || ms > 1<<50 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
