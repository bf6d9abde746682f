package xfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header X signs webhook POSTs in, as API Gateway
// passes it (lower case).
const SignatureHeader = "x-twitter-webhooks-signature"

// AppID is the source_app_id of the DMs OwnDM builds (the app that sent
// them).
const AppID = "268278"

// escape is what X does to a DM's text in its payloads: &, < and > become
// HTML entities.
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// DM is an Account Activity payload for the account forUser: the direct
// message eventID that the contact senderID (named senderName) sent it at at,
// with text as X sends it (HTML entities for &, < and >).
func DM(forUser, eventID, senderID, senderName, text string, at time.Time) []byte {
	return payload(forUser, senderName, dmEvent(eventID, senderID, forUser, escape.Replace(text), nil, at), senderID)
}

// OwnDM is the payload X echoes to the account forUser of a DM it sent
// (through the API, as Send does) to recipientID: sender_id is for_user_id.
func OwnDM(forUser, eventID, recipientID, text string, at time.Time) []byte {
	ev := dmEvent(eventID, forUser, recipientID, escape.Replace(text), nil, at)
	ev["message_create"].(map[string]any)["source_app_id"] = AppID
	return payload(forUser, "", ev, recipientID)
}

// MediaDM is DM with a media attached: mediaType is X's ("photo", "video",
// "animated_gif"). As X does, the text (maybe empty) ends with the media's
// t.co link, which the urls entities and the attachment both name.
func MediaDM(forUser, eventID, senderID, senderName, text, mediaType string, at time.Time) []byte {
	sum := sha256.Sum256([]byte(eventID))
	link := "https://t.co/" + hex.EncodeToString(sum[:5])
	mediaID := binary.BigEndian.Uint64(sum[8:16])>>2 | 1<<60
	body := escape.Replace(text)
	if body != "" {
		body += " "
	}
	start := len([]rune(body))
	body += link
	indices := []int{start, start + len(link)}
	ext := map[string]string{"photo": ".jpg", "video": ".mp4", "animated_gif": ".mp4"}[mediaType]
	media := map[string]any{"id": mediaID, "id_str": strconv.FormatUint(mediaID, 10), "indices": indices,
		"media_url":       "https://ton.twitter.com/1.1/ton/data/dm/" + eventID + "/" + strconv.FormatUint(mediaID, 10) + "/media" + ext,
		"media_url_https": "https://ton.twitter.com/1.1/ton/data/dm/" + eventID + "/" + strconv.FormatUint(mediaID, 10) + "/media" + ext,
		"url":             link, "display_url": "pic.x.com/" + link[len("https://t.co/"):],
		"expanded_url": "https://x.com/messages/media/" + eventID, "type": mediaType,
		"sizes": map[string]any{"large": map[string]any{"w": 1024, "h": 768, "resize": "fit"}}}
	urls := []any{map[string]any{"url": link, "expanded_url": media["expanded_url"], "display_url": media["display_url"], "indices": indices}}
	return payload(forUser, senderName, dmEvent(eventID, senderID, forUser, body, urls, at, map[string]any{"type": "media", "media": media}), senderID)
}

// dmEvent is a message_create event (attachment: at most one).
func dmEvent(eventID, senderID, recipientID, text string, urls []any, at time.Time, attachment ...map[string]any) map[string]any {
	if urls == nil {
		urls = []any{}
	}
	data := map[string]any{"text": text, "entities": map[string]any{"hashtags": []any{}, "symbols": []any{},
		"user_mentions": []any{}, "urls": urls}}
	if len(attachment) > 0 {
		data["attachment"] = attachment[0]
	}
	return map[string]any{"type": "message_create", "id": eventID, "created_timestamp": strconv.FormatInt(at.UnixMilli(), 10),
		"message_create": map[string]any{"target": map[string]any{"recipient_id": recipientID}, "sender_id": senderID,
			"message_data": data}}
}

// payload is the Account Activity body of one DM event, with the users it
// names (the contact named contactName, or "X user" if empty).
func payload(forUser, contactName string, ev map[string]any, contactID string) []byte {
	if contactName == "" {
		contactName = "X user"
	}
	users := map[string]any{
		forUser:   xuser(forUser, "Support account", "support_"+forUser),
		contactID: xuser(contactID, contactName, "user_"+contactID),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{"for_user_id": forUser, "direct_message_events": []any{ev}, "users": users})
	if err != nil {
		panic(err) // maps of strings, numbers and slices always marshal
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func xuser(id, name, screenName string) map[string]any {
	return map[string]any{"id": id, "created_timestamp": "1422556069340", "name": name, "screen_name": screenName,
		"protected": false, "verified": false, "followers_count": 10, "friends_count": 20, "statuses_count": 30,
		"profile_image_url_https": "https://pbs.twimg.com/profile_images/0/default_normal.png"}
}

// Sign is the x-twitter-webhooks-signature of body with the app's consumer
// secret: "sha256=" and the Base64 HMAC-SHA256.
func Sign(body []byte, consumerSecret string) string { return hmac256(body, consumerSecret) }

// CRC is the response_token X expects for crcToken with the app's consumer
// secret: "sha256=" and the Base64 HMAC-SHA256 of the token.
func CRC(crcToken, consumerSecret string) string { return hmac256([]byte(crcToken), consumerSecret) }

func hmac256(data []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(data)
	return "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
