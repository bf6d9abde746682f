package linefake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"time"
)

// SignatureHeader is the webhook's signature header, as API Gateway passes it
// (lower case).
const SignatureHeader = "x-line-signature"

// The events carry the time they are built at, so a reply token in them is
// fresh (a fixed old time would let it expire at once).

// Sign is the x-line-signature header value of body with the channel secret:
// base64 of HMAC-SHA256.
func Sign(body []byte, channelSecret string) string {
	mac := hmac.New(sha256.New, []byte(channelSecret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Events is a webhook body of the bot destination (its user id) with events;
// no events is LINE's check of the webhook URL.
func Events(destination string, events ...map[string]any) []byte {
	if events == nil {
		events = []map[string]any{}
	}
	return mustJSON(map[string]any{"destination": destination, "events": events})
}

// TextEvent is a webhook body with one text message of userID, webhook event
// id eventID, to the bot destination.
func TextEvent(destination, userID, eventID, replyToken, text string) []byte {
	return Events(destination, MessageEvent(userID, eventID, replyToken,
		map[string]any{"id": MessageID(eventID), "type": "text", "quoteToken": "q" + eventID, "text": text}))
}

// ImageEvent is a webhook body with one image message of userID whose content
// (AddContent) has id messageID.
func ImageEvent(destination, userID, eventID, replyToken, messageID string) []byte {
	return Events(destination, MessageEvent(userID, eventID, replyToken,
		map[string]any{"id": messageID, "type": "image", "quoteToken": "q" + eventID,
			"contentProvider": map[string]string{"type": "line"}}))
}

// FileEvent is a webhook body with one file message of userID: its content
// has id messageID, its name and size are fileName and size.
func FileEvent(destination, userID, eventID, replyToken, messageID, fileName string, size int) []byte {
	return Events(destination, MessageEvent(userID, eventID, replyToken,
		map[string]any{"id": messageID, "type": "file", "fileName": fileName, "fileSize": size}))
}

// MessageEvent is one message event (for Events) of userID in a one-to-one
// chat, in mode "active", with LINE's message object message.
func MessageEvent(userID, eventID, replyToken string, message map[string]any) map[string]any {
	ev := event("message", userID, eventID, replyToken)
	ev["message"] = message
	return ev
}

// FollowEvent is a follow event (for Events): userID added the bot as a
// friend or unblocked it.
func FollowEvent(userID, eventID, replyToken string) map[string]any {
	ev := event("follow", userID, eventID, replyToken)
	ev["follow"] = map[string]bool{"isUnblocked": false}
	return ev
}

// UnfollowEvent is an unfollow event (for Events): userID blocked the bot.
func UnfollowEvent(userID, eventID string) map[string]any {
	return event("unfollow", userID, eventID, "")
}

// MessageID is the message id TextEvent gives the message of eventID: digits,
// as LINE's, the same for the same event.
func MessageID(eventID string) string {
	h := fnv.New64a()
	h.Write([]byte(eventID))
	return strconv.FormatUint(h.Sum64()%1e18, 10)
}

func event(typ, userID, eventID, replyToken string) map[string]any {
	ev := map[string]any{"type": typ, "timestamp": time.Now().UnixMilli(), "mode": "active",
		"source": map[string]string{"type": "user", "userId": userID}, "webhookEventId": eventID,
		"deliveryContext": map[string]bool{"isRedelivery": false}}
	if replyToken != "" {
		ev["replyToken"] = replyToken
	}
	return ev
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings, numbers and maps always marshal
	}
	return b
}
