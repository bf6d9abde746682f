package store

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// A history cursor names the oldest message of the page just read, bound to its
// conversation: base64url("<conversationId>#" + the message's sort key
// "MSG#<fixed-width time>#<message id>"). It is not sealed: it holds nothing the
// reader has not just been given, and the partition it pages is always the one
// the caller may read (the conversation id comes from the caller, never from the
// cursor). It is checked strictly instead, so the only keys a query ever gets
// are the exact sort keys of messages, and a cursor of another conversation
// (say the visitor's previous one) is refused rather than paging the wrong one.

// maxHistoryCursor bounds a cursor before it is decoded: a conversation id and
// a message sort key are well under 128 bytes.
const maxHistoryCursor = 256

var errBadCursor = chat.Errorf(chat.EInvalid, "bad cursor")

// historyCursor returns the cursor of the page before the message with sort key sk.
func historyCursor(convID, sk string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(convID + "#" + sk))
}

// historyCursorKey checks a cursor of convID's history and returns the sort key
// of the message it names.
func historyCursorKey(convID, cursor string) (string, error) {
	if len(cursor) > maxHistoryCursor {
		return "", errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", errBadCursor
	}
	conv, sk, ok := strings.Cut(string(raw), "#")
	if !ok || conv != convID || !validMessageSK(sk) {
		return "", errBadCursor
	}
	return sk, nil
}

// validMessageSK reports whether sk is exactly a message sort key as MessageSK
// writes it: the prefix, a fixed-width UTC time that reads back unchanged, "#"
// and a message id.
func validMessageSK(sk string) bool {
	rest, ok := strings.CutPrefix(sk, prefMsg)
	if !ok || len(rest) <= len(timeKey) || rest[len(timeKey)] != '#' {
		return false
	}
	at, id := rest[:len(timeKey)], rest[len(timeKey)+1:]
	t, err := time.Parse(timeKey, at)
	return err == nil && TimeKey(t) == at && ids.Valid(ids.Message, id)
}
