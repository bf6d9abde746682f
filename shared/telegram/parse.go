package telegram

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body Parse reads (1 MiB); a larger one is
// malformed.
const MaxBody = channel.MaxBody

// EditedPrefix starts the text of an edited message's event.
const EditedPrefix = "(edited) "

// Update is an event's Telegram form (channel.Event.Native): what the seam
// does not carry.
type Update struct {
	// ID is the update_id (the event's DedupeKey, unique per bot).
	ID int64
	// MessageID is the message's id in its chat (0 for a member change).
	MessageID int64
	// ChatType is "private", "group", "supergroup" or "channel".
	ChatType string
	// SenderID is the user who wrote (from.id): in a group, not the chat.
	SenderID int64
	// Edited is set for an edited_message.
	Edited bool
	// Type is what the message is when it has nothing to show but a
	// placeholder ("sticker", "location"...), else "".
	Type string
	// MemberStatus is the bot's new status in the chat of a my_chat_member
	// update ("kicked", "member"...).
	MemberStatus string
}

// placeholderTypes are the message contents we cannot show, in the order
// their placeholder is chosen.
var placeholderTypes = []string{"sticker", "animation", "video", "video_note", "voice", "audio",
	"location", "venue", "contact", "poll", "dice", "game", "story", "invoice"}

// Parse turns a verified webhook body, one Update, into its event:
//
//   - a message or edited_message is a channel.KindMessage with DedupeKey =
//     the update_id in decimal, From = {"telegram", "", chat id in decimal,
//     the chat's title or the sender's name}, Text (the text, else the
//     caption), At, Attachments and Native = *Update. An edited message's
//     text starts with EditedPrefix.
//   - a photo is an attachment by file id (MediaID, fetch it with
//     Provider.Fetch) of its largest size, named "photo.jpg", image/jpeg; a
//     document is one with its file name and MIME type.
//   - a message with nothing we can show (a sticker, a location, a voice
//     note...) is kept with the placeholder text "[<type>]" ("[sticker]"), so
//     an agent knows the contact wrote; an edited one gives no event (a live
//     location edits its message every few seconds).
//   - my_chat_member with the new status "kicked" (the user blocked the bot)
//     is a channel.KindUnsubscribed of the chat, "member" a
//     channel.KindSubscribed; other statuses and other updates give no event,
//     nor does an update without a chat id.
//
// From.Account is empty: the body does not name the bot (see the package
// comment). A body over MaxBody, not a JSON object, or without an update_id
// wraps channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("%w: %v", channel.ErrMalformed, channel.JSONReason(err))
	}
	if u.UpdateID == nil {
		return nil, fmt.Errorf("%w: no update_id", channel.ErrMalformed)
	}
	id := *u.UpdateID
	var ev channel.Event
	var ok bool
	switch {
	case u.Message != nil:
		ev, ok = messageEvent(id, u.Message, false)
	case u.EditedMessage != nil:
		ev, ok = messageEvent(id, u.EditedMessage, true)
	case u.MyChatMember != nil:
		ev, ok = memberEvent(id, u.MyChatMember)
	}
	if !ok {
		return nil, nil
	}
	return []channel.Event{ev}, nil
}

// The wire format (only the fields we read).
type (
	update struct {
		UpdateID      *int64      `json:"update_id"`
		Message       *message    `json:"message"`
		EditedMessage *message    `json:"edited_message"`
		MyChatMember  *chatMember `json:"my_chat_member"`
	}
	chat struct {
		ID        int64  `json:"id"`
		Type      string `json:"type"`
		Title     string `json:"title"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Username  string `json:"username"`
	}
	user struct {
		ID        int64  `json:"id"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Username  string `json:"username"`
	}
	photoSize struct {
		FileID   string `json:"file_id"`
		Width    int64  `json:"width"`
		Height   int64  `json:"height"`
		FileSize int64  `json:"file_size"`
	}
	document struct {
		FileID   string `json:"file_id"`
		FileName string `json:"file_name"`
		MimeType string `json:"mime_type"`
		FileSize int64  `json:"file_size"`
	}
	message struct {
		MessageID int64       `json:"message_id"`
		Date      int64       `json:"date"`
		EditDate  int64       `json:"edit_date"`
		Chat      chat        `json:"chat"`
		From      *user       `json:"from"`
		Text      string      `json:"text"`
		Caption   string      `json:"caption"`
		Photo     []photoSize `json:"photo"`
		Document  *document   `json:"document"`
		// Contents we cannot show (placeholderTypes).
		Sticker   json.RawMessage `json:"sticker"`
		Animation json.RawMessage `json:"animation"`
		Video     json.RawMessage `json:"video"`
		VideoNote json.RawMessage `json:"video_note"`
		Voice     json.RawMessage `json:"voice"`
		Audio     json.RawMessage `json:"audio"`
		Location  json.RawMessage `json:"location"`
		Venue     json.RawMessage `json:"venue"`
		Contact   json.RawMessage `json:"contact"`
		Poll      json.RawMessage `json:"poll"`
		Dice      json.RawMessage `json:"dice"`
		Game      json.RawMessage `json:"game"`
		Story     json.RawMessage `json:"story"`
		Invoice   json.RawMessage `json:"invoice"`
	}
	chatMember struct {
		Chat          chat  `json:"chat"`
		From          *user `json:"from"`
		Date          int64 `json:"date"`
		NewChatMember struct {
			Status string `json:"status"`
		} `json:"new_chat_member"`
	}
)

// shown reports whether a raw JSON value is present (not absent or null).
func shown(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// placeholderType is the first of placeholderTypes the message has, else
// "unsupported".
func (m *message) placeholderType() string {
	for i, raw := range []json.RawMessage{m.Sticker, m.Animation, m.Video, m.VideoNote, m.Voice, m.Audio,
		m.Location, m.Venue, m.Contact, m.Poll, m.Dice, m.Game, m.Story, m.Invoice} {
		if shown(raw) {
			return placeholderTypes[i]
		}
	}
	if len(m.Photo) > 0 {
		return "photo"
	}
	if m.Document != nil {
		return "document"
	}
	return "unsupported"
}

// unix is a Telegram date as a time (zero if absent or absurd).
func unix(s int64) time.Time {
	if s <= 0 || s > 1<<40 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// identity is the contact of a chat: the chat, named by its title (a group)
// or the person's name.
func identity(c chat, from *user) channel.Identity {
	name := c.Title
	if name == "" && from != nil {
		name = personName(from.FirstName, from.LastName, from.Username)
	}
	if name == "" {
		name = personName(c.FirstName, c.LastName, c.Username)
	}
	return channel.Identity{Channel: Channel, UserID: strconv.FormatInt(c.ID, 10), DisplayName: name}
}

func personName(first, last, username string) string {
	if n := strings.TrimSpace(first + " " + last); n != "" {
		return n
	}
	return username
}

// messageEvent is the event of a message or an edited message, and whether it
// has one.
func messageEvent(updateID int64, m *message, edited bool) (channel.Event, bool) {
	if m.Chat.ID == 0 {
		return channel.Event{}, false
	}
	native := &Update{ID: updateID, MessageID: m.MessageID, ChatType: m.Chat.Type, Edited: edited}
	if m.From != nil {
		native.SenderID = m.From.ID
	}
	at := m.Date
	if edited && m.EditDate > 0 {
		at = m.EditDate
	}
	ev := channel.Event{Kind: channel.KindMessage, DedupeKey: strconv.FormatInt(updateID, 10),
		From: identity(m.Chat, m.From), At: unix(at), Text: m.Text, Native: native}
	if ev.Text == "" {
		ev.Text = m.Caption
	}
	if p, ok := largest(m.Photo); ok {
		ev.Attachments = append(ev.Attachments, channel.Attachment{MediaID: p.FileID, Name: "photo.jpg",
			ContentType: "image/jpeg", Size: max(p.FileSize, 0)})
	}
	if d := m.Document; d != nil && d.FileID != "" {
		name := d.FileName
		if name == "" {
			name = "document"
		}
		ev.Attachments = append(ev.Attachments, channel.Attachment{MediaID: d.FileID, Name: name,
			ContentType: d.MimeType, Size: max(d.FileSize, 0)})
	}
	if ev.Text == "" && len(ev.Attachments) == 0 {
		if edited {
			return channel.Event{}, false
		}
		native.Type = m.placeholderType()
		ev.Text = "[" + native.Type + "]"
	}
	if edited {
		ev.Text = strings.TrimSpace(EditedPrefix + ev.Text)
	}
	return ev, true
}

// largest is the photo's largest size with a file id: Telegram lists the
// sizes ascending, but the area decides (the later one on a tie).
func largest(sizes []photoSize) (photoSize, bool) {
	var best photoSize
	found := false
	for _, p := range sizes {
		if p.FileID == "" {
			continue
		}
		if !found || p.Width*p.Height >= best.Width*best.Height {
			best, found = p, true
		}
	}
	return best, found
}

// memberEvent is the event of the bot's own membership change in a chat: a
// user blocked (kicked) or restarted it (member).
func memberEvent(updateID int64, cm *chatMember) (channel.Event, bool) {
	var kind string
	switch cm.NewChatMember.Status {
	case "kicked":
		kind = channel.KindUnsubscribed
	case "member":
		kind = channel.KindSubscribed
	default:
		return channel.Event{}, false
	}
	if cm.Chat.ID == 0 {
		return channel.Event{}, false
	}
	native := &Update{ID: updateID, ChatType: cm.Chat.Type, MemberStatus: cm.NewChatMember.Status}
	if cm.From != nil {
		native.SenderID = cm.From.ID
	}
	return channel.Event{Kind: kind, DedupeKey: strconv.FormatInt(updateID, 10), From: identity(cm.Chat, cm.From),
		At: unix(cm.Date), Native: native}, true
}
