package viberfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// SignatureHeader is the header Viber signs callbacks in, as API Gateway
// passes it (lower case).
const SignatureHeader = "x-viber-content-signature"

// The payloads carry the time they are built at, and message tokens as JSON
// integers (exact above 2^53).

// TextMessage is a message callback: a text message of user senderID (named
// name) with the message token token.
func TextMessage(token uint64, senderID, name, text string) []byte {
	return callback("message", token, map[string]any{"sender": sender(senderID, name),
		"message": map[string]any{"type": "text", "text": text}, "silent": false})
}

// PictureMessage is a message callback: a picture without a caption at
// mediaURL, of user senderID, with the message token token.
func PictureMessage(token uint64, senderID, mediaURL string) []byte {
	return callback("message", token, map[string]any{"sender": sender(senderID, "Viber user"),
		"message": map[string]any{"type": "picture", "text": "", "media": mediaURL, "thumbnail": mediaURL}})
}

// Event is a callback of kind about user userID with the message token token:
// "delivered", "seen" or "failed" (of our message token), "subscribed",
// "unsubscribed", "conversation_started" or "webhook" (with no user).
func Event(kind, userID string, token uint64) []byte {
	fields := map[string]any{}
	switch kind {
	case "subscribed":
		fields["user"] = sender(userID, "Viber user")
	case "conversation_started":
		fields["user"], fields["type"], fields["context"], fields["subscribed"] = sender(userID, "Viber user"), "open", "", false
	case "webhook":
	case "failed":
		fields["user_id"], fields["desc"] = userID, "failure description"
	default:
		fields["user_id"] = userID
	}
	return callback(kind, token, fields)
}

func sender(id, name string) map[string]any {
	return map[string]any{"id": id, "name": name, "avatar": "", "language": "en", "country": "GB", "api_version": 10}
}

func callback(event string, token uint64, fields map[string]any) []byte {
	fields["event"], fields["message_token"] = event, token
	fields["timestamp"], fields["chat_hostname"] = time.Now().UnixMilli(), "SN-CHAT-05_"
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // maps of strings, numbers and bools always marshal
	}
	return b
}

// Sign is the x-viber-content-signature of body with the account's auth
// token: the hex HMAC-SHA256, no prefix.
func Sign(body []byte, authToken string) string {
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
