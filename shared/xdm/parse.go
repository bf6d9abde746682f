package xdm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/channel"
)

// MaxBody is the largest webhook body Parse reads (1 MiB); a larger one is
// malformed.
const MaxBody = channel.MaxBody

// EventMessageCreate is the type of a direct message event.
const EventMessageCreate = "message_create"

// Placeholders of the media a message carries (not copied: see the package
// doc), by X's media type.
var mediaPlaceholders = map[string]string{"photo": "[photo]", "video": "[video]", "animated_gif": "[gif]"}

// Placeholders of other content with nothing to show.
const (
	placeholderMedia      = "[media]"      // a media of a type X has not named before
	placeholderAttachment = "[attachment]" // an attachment that is not a media
	placeholderEmpty      = "[empty message]"
)

// DirectMessage is a direct message's X form (channel.Event.Native of every
// event Parse gives): what the seam does not carry.
type DirectMessage struct {
	// EventID is X's id of the DM event (the event's DedupeKey).
	EventID string
	// ForUserID is the account the webhook delivered it for (the event's
	// From.Account).
	ForUserID string
	// SenderID and RecipientID are the sender's and the recipient's X user
	// ids.
	SenderID    string
	RecipientID string
	// SourceAppID is the id of the app the sender used, when X names it.
	SourceAppID string
	// ScreenName is the sender's handle, without "@", when the body's users
	// name it (personal data: never logged).
	ScreenName string
	// MediaType is the type of the media attached ("photo", "video",
	// "animated_gif"), "" for none; MediaID is X's id of it. The media is
	// not copied (see the package doc).
	MediaType string
	MediaID   string
}

// Parse turns a verified Account Activity body into its events:
//
//   - every direct_message_events entry of type message_create whose
//     sender is not the account (for_user_id) is a channel.KindMessage:
//     DedupeKey = the event's id, From = {"x", for_user_id, sender_id,
//     users[sender_id].name}, At = created_timestamp (milliseconds), Native
//     a *DirectMessage. The text is message_data.text with X's HTML entities
//     (&amp; &lt; &gt;) undone and its t.co links expanded (to the
//     expanded_url of its URL entities); an attached media's own t.co link
//     is removed and the media is named instead: "[photo]", "[video]" or
//     "[gif]" before the rest of the text, or alone (the media is not
//     copied: see the package doc). A message with nothing left to show is
//     "[empty message]".
//   - a message_create whose sender is the account is our own send (or the
//     owner's, from an X client), echoed back: no event. So is an entry
//     without an id or a sender, and any other type.
//   - every other key of the body (tweet_create_events, favorite_events,
//     follow_events, direct_message_indicate_typing_events,
//     direct_message_mark_read_events, user_event of a revoke...) gives no
//     event.
//
// A body over MaxBody, not a JSON object, of fields of the wrong JSON types,
// or with direct messages but no for_user_id (own sends could not be told
// apart) wraps channel.ErrMalformed.
func (Inbound) Parse(body []byte) ([]channel.Event, error) {
	if err := channel.CheckJSONObject(body); err != nil {
		return nil, err
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: %s", channel.ErrMalformed, jsonReason(err))
	}
	var evs []channel.Event
	for i := range p.DMEvents {
		de := &p.DMEvents[i]
		if de.Type != EventMessageCreate || de.MessageCreate == nil {
			continue
		}
		if p.ForUserID == "" {
			return nil, fmt.Errorf("%w: direct messages without a for_user_id", channel.ErrMalformed)
		}
		if ev, ok := de.event(p.ForUserID, p.Users); ok {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

// The wire format (only the fields we read).
type (
	payload struct {
		ForUserID string          `json:"for_user_id"`
		DMEvents  []dmEvent       `json:"direct_message_events"`
		Users     map[string]user `json:"users"`
	}
	user struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		ScreenName string `json:"screen_name"`
	}
	dmEvent struct {
		Type          string         `json:"type"`
		ID            string         `json:"id"`
		Created       millis         `json:"created_timestamp"`
		MessageCreate *messageCreate `json:"message_create"`
	}
	messageCreate struct {
		Target struct {
			RecipientID string `json:"recipient_id"`
		} `json:"target"`
		SenderID    string      `json:"sender_id"`
		SourceAppID string      `json:"source_app_id"`
		MessageData messageData `json:"message_data"`
	}
	messageData struct {
		Text     string `json:"text"`
		Entities struct {
			URLs []struct {
				URL         string `json:"url"`
				ExpandedURL string `json:"expanded_url"`
			} `json:"urls"`
		} `json:"entities"`
		Attachment *struct {
			Type  string `json:"type"`
			Media *struct {
				IDStr string `json:"id_str"`
				URL   string `json:"url"`
				Type  string `json:"type"`
			} `json:"media"`
		} `json:"attachment"`
	}
)

// errNotTimestamp is what a created_timestamp that is neither a string nor a
// number fails to decode with.
var errNotTimestamp = errors.New("x: created_timestamp is not a string or a number")

// millis is X's created_timestamp: milliseconds since the epoch, as a string
// of digits (or a number). One that is not an integer is no time.
type millis int64

// UnmarshalJSON reads a string or a number; anything else is an error.
func (m *millis) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch {
	case s == "null":
		return nil
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	case s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')):
		return errNotTimestamp
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		n = 0
	}
	*m = millis(n)
	return nil
}

// time is the timestamp as a time (zero if absent or absurd).
func (m millis) time() time.Time {
	if m <= 0 || m > 1<<50 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m)).UTC()
}

// jsonReason names what is wrong with a body without quoting it.
func jsonReason(err error) string {
	if errors.Is(err, errNotTimestamp) {
		return "a created_timestamp is not a string or a number"
	}
	return channel.JSONReason(err)
}

// unescape undoes the HTML entities X puts in a DM's text, in one pass
// ("&amp;lt;" is "&lt;").
var unescape = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// event is the DM event's channel.Event, and whether it has one: a
// message_create of a contact, with an id.
func (de *dmEvent) event(forUserID string, users map[string]user) (channel.Event, bool) {
	mc := de.MessageCreate
	if de.ID == "" || mc.SenderID == "" || mc.SenderID == forUserID {
		return channel.Event{}, false
	}
	native := &DirectMessage{EventID: de.ID, ForUserID: forUserID, SenderID: mc.SenderID,
		RecipientID: mc.Target.RecipientID, SourceAppID: mc.SourceAppID}
	from := channel.Identity{Channel: ChannelName, Account: forUserID, UserID: mc.SenderID}
	if u, ok := users[mc.SenderID]; ok {
		from.DisplayName, native.ScreenName = u.Name, u.ScreenName
	}
	return channel.Event{Kind: channel.KindMessage, DedupeKey: de.ID, From: from, At: de.Created.time(),
		Text: mc.MessageData.text(native), Native: native}, true
}

// text is the message's text as an agent reads it (see Parse), and the
// media's type and id in native.
func (md *messageData) text(native *DirectMessage) string {
	text, mark := md.Text, ""
	if a := md.Attachment; a != nil {
		mark = placeholderAttachment
		if m := a.Media; a.Type == "media" && m != nil {
			native.MediaType, native.MediaID = m.Type, m.IDStr
			if mark = mediaPlaceholders[m.Type]; mark == "" {
				mark = placeholderMedia
			}
			if i := strings.LastIndex(text, m.URL); m.URL != "" && i >= 0 {
				text = strings.TrimSpace(text[:i] + text[i+len(m.URL):])
			}
		}
	}
	for _, u := range md.Entities.URLs {
		if strings.HasPrefix(u.URL, "https://t.co/") && isWebURL(u.ExpandedURL) {
			text = strings.ReplaceAll(text, u.URL, u.ExpandedURL)
		}
	}
	text = unescape.Replace(text)
	switch {
	case mark != "" && text != "":
		return mark + " " + text
	case mark != "":
		return mark
	case text == "":
		return placeholderEmpty
	}
	return text
}

// isWebURL tells an http(s) URL without spaces.
func isWebURL(s string) bool {
	return (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && !strings.ContainsAny(s, " \t\r\n")
}
