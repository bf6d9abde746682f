package metafake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// The payloads carry the time they are built at, so the contact's messaging
// window opens now (a fixed old time would close it at once).

// MessengerPayload is a Messenger webhook body (object "page") with one text
// message of contact from to page account, with id mid.
func MessengerPayload(account, from, mid, text string) []byte {
	return messagingPayload("page", account, from, mid, text)
}

// InstagramPayload is an Instagram webhook body (object "instagram") with one
// text message of contact from (an IGSID) to the Instagram account, with id
// mid.
func InstagramPayload(account, from, mid, text string) []byte {
	return messagingPayload("instagram", account, from, mid, text)
}

func messagingPayload(object, account, from, mid, text string) []byte {
	now := time.Now().UnixMilli()
	return mustJSON(map[string]any{"object": object, "entry": []any{map[string]any{
		"id": account, "time": now,
		"messaging": []any{map[string]any{
			"sender": map[string]string{"id": from}, "recipient": map[string]string{"id": account},
			"timestamp": now, "message": map[string]string{"mid": mid, "text": text},
		}},
	}}})
}

// WhatsAppPayload is a WhatsApp Cloud API webhook body with one text message
// of wa_id waID (profile name name) to the phone number phoneNumberID, with
// id wamid.
func WhatsAppPayload(phoneNumberID, waID, name, wamid, text string) []byte {
	return whatsAppPayload(phoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": name}, "wa_id": waID}},
		"messages": []any{map[string]any{"from": waID, "id": wamid, "timestamp": unixNow(), "type": "text",
			"text": map[string]string{"body": text}}},
	})
}

// WhatsAppStatusPayload is a WhatsApp webhook body with one status of our
// message wamid to recipient: "sent", "delivered", "read" or "failed"; a
// non-zero errCode adds that error (131047: outside the 24h window).
func WhatsAppStatusPayload(phoneNumberID, recipient, wamid, status string, errCode int) []byte {
	st := map[string]any{"id": wamid, "status": status, "timestamp": unixNow(), "recipient_id": recipient}
	if errCode != 0 {
		st["errors"] = []any{map[string]any{"code": errCode, "title": "Error " + strconv.Itoa(errCode)}}
	}
	return whatsAppPayload(phoneNumberID, map[string]any{"statuses": []any{st}})
}

func whatsAppPayload(phoneNumberID string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": "15550000000", "phone_number_id": phoneNumberID}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "waba-" + phoneNumberID, "changes": []any{map[string]any{"field": "messages", "value": value}},
	}}})
}

// The local stack's Meta app secret and webhook verify token (make run sets
// the template's MetaAppSecret and MetaVerifyToken to them unless PARAM_
// settings say otherwise).
const (
	LocalAppSecret   = "localmetaappsecret"
	LocalVerifyToken = "local-verify-token"
)

// Sign is the x-hub-signature-256 header value of body with the app secret:
// "sha256=<hex HMAC-SHA256>".
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func unixNow() string { return strconv.FormatInt(time.Now().Unix(), 10) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return b
}
