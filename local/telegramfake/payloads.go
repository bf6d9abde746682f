package telegramfake

import (
	"encoding/json"
	"time"
)

// The updates carry the time they are built at, as Telegram's would.

// TextUpdate is a webhook body with one text message of the private chat
// chatID (the user's first name first).
func TextUpdate(updateID, chatID int64, first, text string) []byte {
	return messageUpdate(updateID, chatID, first, map[string]any{"text": text})
}

// PhotoUpdate is a webhook body with one photo of the private chat chatID,
// in two sizes: fileID is the largest (1280x960), fileID+"-small" the
// thumbnail.
func PhotoUpdate(updateID, chatID int64, fileID string) []byte {
	return messageUpdate(updateID, chatID, "Photo", map[string]any{"photo": []any{
		map[string]any{"file_id": fileID + "-small", "file_unique_id": "s" + fileID, "width": 90, "height": 68, "file_size": 1200},
		map[string]any{"file_id": fileID, "file_unique_id": "l" + fileID, "width": 1280, "height": 960},
	}})
}

// DocumentUpdate is a webhook body with one document of the private chat
// chatID: its file id, file name and MIME type.
func DocumentUpdate(updateID, chatID int64, fileID, fileName, mime string) []byte {
	return messageUpdate(updateID, chatID, "Doc", map[string]any{"document": map[string]any{
		"file_id": fileID, "file_unique_id": "d" + fileID, "file_name": fileName, "mime_type": mime}})
}

// BlockedUpdate is a webhook body saying the user of the private chat chatID
// blocked the bot (my_chat_member, new status "kicked").
func BlockedUpdate(updateID, chatID int64) []byte {
	return memberUpdate(updateID, chatID, "member", "kicked")
}

// UnblockedUpdate is a webhook body saying the user of the private chat
// chatID restarted the bot (my_chat_member, new status "member").
func UnblockedUpdate(updateID, chatID int64) []byte {
	return memberUpdate(updateID, chatID, "kicked", "member")
}

func messageUpdate(updateID, chatID int64, first string, content map[string]any) []byte {
	msg := map[string]any{"message_id": updateID % 1_000_000, "date": time.Now().Unix(),
		"chat": map[string]any{"id": chatID, "type": "private", "first_name": first},
		"from": map[string]any{"id": chatID, "is_bot": false, "first_name": first, "language_code": "en"}}
	for k, v := range content {
		msg[k] = v
	}
	return mustJSON(map[string]any{"update_id": updateID, "message": msg})
}

func memberUpdate(updateID, chatID int64, old, status string) []byte {
	return mustJSON(map[string]any{"update_id": updateID, "my_chat_member": map[string]any{
		"chat":            map[string]any{"id": chatID, "type": "private", "first_name": "User"},
		"from":            map[string]any{"id": chatID, "is_bot": false, "first_name": "User"},
		"date":            time.Now().Unix(),
		"old_chat_member": map[string]any{"status": old, "user": map[string]any{"id": 1, "is_bot": true, "first_name": "Bot"}},
		"new_chat_member": map[string]any{"status": status, "user": map[string]any{"id": 1, "is_bot": true, "first_name": "Bot"}},
	}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}
