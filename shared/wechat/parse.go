package wechat

import (
	"bytes"
	"encoding/xml"
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

// WeChat's message types (MsgType).
const (
	TypeText       = "text"
	TypeImage      = "image"
	TypeVoice      = "voice"
	TypeVideo      = "video"
	TypeShortVideo = "shortvideo"
	TypeLocation   = "location"
	TypeLink       = "link"
	TypeEvent      = "event"
)

// WeChat's events (Event of MsgType event) that give an event.
const (
	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
)

// Message is a request's WeChat form (channel.Event.Native of every event
// Parse gives): what the seam does not carry.
type Message struct {
	// MsgType is WeChat's type ("text", "image", "event"...).
	MsgType string
	// Event is an event's name ("subscribe", "unsubscribe"), EventKey its
	// key (a QR code's scene for a subscription by scan).
	Event    string
	EventKey string
	// MsgID is a message's MsgId as a decimal string ("" for an event).
	MsgID string
	// ToUserName is the account's original id ("gh_..."), OpenID the
	// contact's openid within the account.
	ToUserName string
	OpenID     string
	// CreateTime is WeChat's time of the message, in Unix seconds.
	CreateTime int64
	// Format is a voice message's format ("amr", "speex").
	Format string
	// ThumbMediaID is a video's thumbnail's media id.
	ThumbMediaID string
	// Encrypted tells that the message came encrypted (safe mode).
	Encrypted bool
}

// wireMessage is WeChat's XML (only the elements we read).
type wireMessage struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   string   `xml:"ToUserName"`
	FromUserName string   `xml:"FromUserName"`
	CreateTime   string   `xml:"CreateTime"`
	MsgType      string   `xml:"MsgType"`
	Content      string   `xml:"Content"`
	MsgID        string   `xml:"MsgId"`
	MediaID      string   `xml:"MediaId"`
	Format       string   `xml:"Format"`
	Recognition  string   `xml:"Recognition"`
	ThumbMediaID string   `xml:"ThumbMediaId"`
	LocationX    string   `xml:"Location_X"`
	LocationY    string   `xml:"Location_Y"`
	Label        string   `xml:"Label"`
	Title        string   `xml:"Title"`
	URL          string   `xml:"Url"`
	Event        string   `xml:"Event"`
	EventKey     string   `xml:"EventKey"`
	Encrypt      string   `xml:"Encrypt"`
}

// decodeXML reads a body of WeChat: at most MaxBody bytes, one <xml>
// element.
func decodeXML(body []byte) (*wireMessage, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("body of %d bytes is over %d", len(body), MaxBody)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '<' {
		return nil, errors.New("body is not XML")
	}
	var m wireMessage
	if err := xml.Unmarshal(body, &m); err != nil {
		return nil, xmlReason(err)
	}
	return &m, nil
}

// xmlReason names what is wrong with a body without quoting it.
func xmlReason(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid XML at line %d", se.Line)
	}
	return errors.New("body is not WeChat's <xml> element")
}

// parseEnvelope reads a safe-mode body: its Encrypt element.
func parseEnvelope(body []byte) (*wireMessage, error) {
	env, err := decodeXML(body)
	if err != nil {
		return nil, err
	}
	env.Encrypt = strings.TrimSpace(env.Encrypt)
	if env.Encrypt == "" {
		return nil, errors.New("body without an Encrypt element")
	}
	return env, nil
}

// Parse turns a verified request body into its event (WeChat sends one
// message per request). With AESKey (safe mode) the body is the envelope,
// whose Encrypt element Parse decrypts (as Verify did); a plain body is
// malformed. Without it the body is the message (in WeChat's compatible
// mode the plain elements are read and Encrypt ignored).
//
//   - a message is a channel.KindMessage: DedupeKey = MsgId as a decimal
//     string, From = {"wechat", "", FromUserName (the openid)}, At =
//     CreateTime. From.Account is empty: the body names the account by its
//     original id, not its app id, so the bridge fills it with the
//     Account.ID Connect returned. text gives Content; image, voice, video
//     and shortvideo an Attachment by MediaID (fetched with the access token
//     through media/get, never from PicUrl: plain HTTP) with a content type
//     (image/jpeg; audio/amr, audio/speex or audio/mpeg by Format; video/mp4)
//     and a voice message's text is WeChat's Recognition, if any; location
//     gives "[location] <label>" (the coordinates without a label); link its
//     title and URL on two lines. Any other type with a MsgId is a message
//     with the placeholder text "[<type>]", as is a text or media message
//     with nothing to show.
//   - the events subscribe and unsubscribe are channel.KindSubscribed and
//     channel.KindUnsubscribed of the openid, with DedupeKey
//     "<event>:<openid>:<CreateTime>" (WeChat gives events no id).
//   - any other event (CLICK, VIEW, SCAN, LOCATION, template and mass-send
//     reports...) gives no event, and so does a message without an openid
//     or a MsgId, or an event without an openid or a CreateTime.
//
// Native is a *Message. A body over MaxBody, not an <xml> element, without a
// MsgType, with a MsgId or CreateTime that is not an integer, or (safe
// mode) not an envelope that decrypts wraps channel.ErrMalformed.
func (in Inbound) Parse(body []byte) ([]channel.Event, error) {
	m, err := decodeXML(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", channel.ErrMalformed, err)
	}
	encrypted := false
	switch enc := strings.TrimSpace(m.Encrypt); {
	case in.AESKey != "":
		if enc == "" {
			return nil, fmt.Errorf("%w: a body without encryption to an account in safe mode", channel.ErrMalformed)
		}
		plain, err := Decrypt(in.AESKey, in.AppID, enc)
		if err != nil {
			return nil, fmt.Errorf("%w: the message does not decrypt", channel.ErrMalformed)
		}
		if m, err = decodeXML(plain); err != nil {
			return nil, fmt.Errorf("%w: decrypted message: %w", channel.ErrMalformed, err)
		}
		encrypted = true
	case enc != "" && strings.TrimSpace(m.MsgType) == "":
		return nil, fmt.Errorf("%w: an encrypted body, and no AES key configured", channel.ErrMalformed)
	}
	ev, ok, err := m.event(encrypted)
	if err != nil || !ok {
		return nil, err
	}
	return []channel.Event{ev}, nil
}

// event is the message's event, and whether it has one.
func (m *wireMessage) event(encrypted bool) (channel.Event, bool, error) {
	native := &Message{MsgType: strings.TrimSpace(m.MsgType), Event: strings.TrimSpace(m.Event),
		EventKey: m.EventKey, ToUserName: strings.TrimSpace(m.ToUserName), OpenID: strings.TrimSpace(m.FromUserName),
		Format: strings.TrimSpace(m.Format), ThumbMediaID: strings.TrimSpace(m.ThumbMediaID), Encrypted: encrypted}
	if native.MsgType == "" {
		return channel.Event{}, false, fmt.Errorf("%w: a message without a MsgType", channel.ErrMalformed)
	}
	created := strings.TrimSpace(m.CreateTime)
	if created != "" {
		sec, err := strconv.ParseInt(created, 10, 64)
		if err != nil {
			return channel.Event{}, false, fmt.Errorf("%w: CreateTime is not an integer", channel.ErrMalformed)
		}
		native.CreateTime, created = sec, strconv.FormatInt(sec, 10)
	}
	if id := strings.TrimSpace(m.MsgID); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return channel.Event{}, false, fmt.Errorf("%w: MsgId is not an integer", channel.ErrMalformed)
		}
		native.MsgID = strconv.FormatUint(n, 10)
	}
	ev := channel.Event{At: unixTime(native.CreateTime), Native: native,
		From: channel.Identity{Channel: ChannelName, UserID: native.OpenID}}
	if native.OpenID == "" {
		return channel.Event{}, false, nil
	}
	if native.MsgType == TypeEvent {
		switch {
		case strings.EqualFold(native.Event, EventSubscribe):
			ev.Kind = channel.KindSubscribed
		case strings.EqualFold(native.Event, EventUnsubscribe):
			ev.Kind = channel.KindUnsubscribed
		default:
			return channel.Event{}, false, nil
		}
		if created == "" {
			return channel.Event{}, false, nil
		}
		ev.DedupeKey = strings.ToLower(native.Event) + ":" + native.OpenID + ":" + created
		return ev, true, nil
	}
	if native.MsgID == "" {
		return channel.Event{}, false, nil
	}
	ev.Kind, ev.DedupeKey = channel.KindMessage, native.MsgID
	m.fill(&ev, native)
	return ev, true, nil
}

// unixTime is a CreateTime as a time (zero if absent or absurd).
func unixTime(sec int64) time.Time {
	if sec <= 0 || sec > 1<<40 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// voiceTypes are the content types of voice formats.
var voiceTypes = map[string]string{"amr": "audio/amr", "speex": "audio/speex", "mp3": "audio/mpeg"}

// fill sets a message event's text and attachments.
func (m *wireMessage) fill(ev *channel.Event, native *Message) {
	media := func(name, contentType string) {
		if id := strings.TrimSpace(m.MediaID); id != "" {
			ev.Attachments = []channel.Attachment{{MediaID: id, Name: name, ContentType: contentType}}
		}
	}
	switch native.MsgType {
	case TypeText:
		ev.Text = m.Content
	case TypeImage:
		media("image.jpg", "image/jpeg")
	case TypeVoice:
		format := strings.ToLower(native.Format)
		name := "voice"
		if ct, ok := voiceTypes[format]; ok {
			name += "." + format
			media(name, ct)
		} else {
			media(name, "")
		}
		ev.Text = strings.TrimSpace(m.Recognition)
	case TypeVideo, TypeShortVideo:
		media("video.mp4", "video/mp4")
	case TypeLocation:
		label := strings.TrimSpace(m.Label)
		if label == "" {
			if x, y := strings.TrimSpace(m.LocationX), strings.TrimSpace(m.LocationY); x != "" || y != "" {
				label = channel.Truncate(x, 40) + "," + channel.Truncate(y, 40)
			}
		}
		if label != "" {
			ev.Text = "[location] " + label
		}
	case TypeLink:
		var lines []string
		for _, s := range []string{m.Title, m.URL} {
			if s = strings.TrimSpace(s); s != "" {
				lines = append(lines, s)
			}
		}
		ev.Text = strings.Join(lines, "\n")
	default:
		ev.Text = m.Content
	}
	if ev.Text == "" && len(ev.Attachments) == 0 {
		ev.Text = placeholder(native.MsgType)
	}
}

// placeholder is the text of a message we cannot show.
func placeholder(typ string) string {
	return "[" + channel.Truncate(typ, 40) + "]"
}
