package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

// The admin lists (API keys, audit events, contacts by email, conversations by
// status) are read a page at a time with an opaque cursor string.
//
// A page cursor names the last item a page read by its sort key in the
// partition the list reads (the table's SK, or GSI1SK for a list of the
// index), bound to that partition: base64url(tag + sort key), the tag being the
// first bytes of the SHA-256 of the partition key, so a cursor holds no email
// of a contact search and still opens for no other partition. It is not sealed
// (the admin API seals it for the client) and the partition a page reads always
// comes from the caller, never from the cursor. It is checked strictly: the
// sort key must be exactly one of the list's own, and the whole start key is
// rebuilt from it, so a query only ever starts from a key of the list's own
// partition. A malformed cursor, or one of another list or partition, is
// ErrBadPageCursor.

// ErrBadPageCursor refuses a page cursor that is malformed or not of the list
// it is given to.
var ErrBadPageCursor = chat.Errorf(chat.EInvalid, "bad cursor")

// maxPageCursor bounds a cursor before it is decoded: a tag and a sort key are
// well under 128 bytes.
const maxPageCursor = 256

// pageTagLen is the length of a cursor's partition tag.
const pageTagLen = 8

// pageList is one list's partition and the form of its keys.
type pageList struct {
	// partition is the partition key value the list reads (PK, or GSI1PK).
	partition string
	// sortAttr is the attribute of the sort key: "SK", or "GSI1SK".
	sortAttr string
	// start returns the whole start key of the item with sort key sk, or false
	// when sk is not exactly a sort key of the list.
	start func(sk string) (map[string]types.AttributeValue, bool)
}

func (l pageList) tag() []byte {
	h := sha256.Sum256([]byte("page cursor\x00" + l.sortAttr + "\x00" + l.partition))
	return h[:pageTagLen]
}

// startKey checks a cursor of the list and returns the key to start from (nil
// for the first page).
func (l pageList) startKey(cursor string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	if len(cursor) > maxPageCursor {
		return nil, ErrBadPageCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) <= pageTagLen || !bytes.Equal(raw[:pageTagLen], l.tag()) {
		return nil, ErrBadPageCursor
	}
	k, ok := l.start(string(raw[pageTagLen:]))
	if !ok {
		return nil, ErrBadPageCursor
	}
	return k, nil
}

// after checks a cursor of the list and returns the sort key it names (""
// for the first page): where a list kept in shards continues (mergedPage).
func (l pageList) after(cursor string) (string, error) {
	k, err := l.startKey(cursor)
	if err != nil || k == nil {
		return "", err
	}
	return k[l.sortAttr].(*types.AttributeValueMemberS).Value, nil
}

// cursor returns the cursor of the page after the last evaluated key lek (""
// at the end). A key not of the list's form is an error: it would make a
// cursor the list refuses.
func (l pageList) cursor(lek map[string]types.AttributeValue) (string, error) {
	if len(lek) == 0 {
		return "", nil
	}
	sk, ok := lek[l.sortAttr].(*types.AttributeValueMemberS)
	if !ok {
		return "", chat.Errorf(chat.EInternal, "page key without %s", l.sortAttr)
	}
	return l.cursorAt(sk.Value)
}

// cursorAt returns the cursor of the page after the item with sort key sk (a
// sort key of the list, else an error; "" for "": the end of the list).
func (l pageList) cursorAt(sk string) (string, error) {
	if sk == "" {
		return "", nil
	}
	if _, ok := l.start(sk); !ok {
		return "", chat.Errorf(chat.EInternal, "page key %s is not of the list", l.sortAttr)
	}
	return base64.RawURLEncoding.EncodeToString(append(l.tag(), sk...)), nil
}

// tablePage is a list of one partition of the table whose sort keys start
// with prefix and end in a part valid tells.
func tablePage(pk, prefix string, valid func(rest string) bool) pageList {
	return pageList{partition: pk, sortAttr: "SK", start: func(sk string) (map[string]types.AttributeValue, bool) {
		rest, ok := strings.CutPrefix(sk, prefix)
		if !ok || !valid(rest) {
			return nil, false
		}
		return key(pk, sk), true
	}}
}

// indexPage is a list of one GSI1 partition whose items are the (pk, sk) that
// item names for a GSI1 sort key (false: not one of the list's).
func indexPage(gsi1pk string, item func(gsi1sk string) (pk, sk string, ok bool)) pageList {
	return pageList{partition: gsi1pk, sortAttr: "GSI1SK", start: func(g string) (map[string]types.AttributeValue, bool) {
		pk, sk, ok := item(g)
		if !ok {
			return nil, false
		}
		k := key(pk, sk)
		k["GSI1PK"] = &types.AttributeValueMemberS{Value: gsi1pk}
		k["GSI1SK"] = &types.AttributeValueMemberS{Value: g}
		return k, true
	}}
}

// apiKeyPages is the list of a tenant's API keys: GSI1SK <keyId>, the key in
// its own partition.
func apiKeyPages(tenantID string) pageList {
	return indexPage(APIKeysIndexKey(tenantID), func(g string) (string, string, bool) {
		if !ids.Valid(ids.APIKey, g) {
			return "", "", false
		}
		return APIKeyPK(tenantID, g), SKAPIKey, true
	})
}

// auditPages is the list of a tenant's audit events: EVT#<time>#<eventId>,
// over all its shards (the partition its cursors are bound to is shard 0's).
func auditPages(tenantID string) pageList {
	return tablePage(auditKey(tenantID), prefAudit, func(rest string) bool {
		_, id, ok := timeAndID(rest)
		return ok && ids.Valid(ids.Event, id)
	})
}

// contactEmailPages is the list of a tenant's contacts with an email: GSI1SK
// CONTACT#<contactId>, the contact's profile.
func contactEmailPages(tenantID, email string) pageList {
	return indexPage(EmailKey(tenantID, email), func(g string) (string, string, bool) {
		id, ok := strings.CutPrefix(g, prefContactIndex)
		if !ok || !ids.Valid(ids.Contact, id) {
			return "", "", false
		}
		return ContactPK(tenantID, id), SKProfile, true
	})
}

// conversationStatusPages is the list of a tenant's conversations with a
// status: GSI1SK <last activity>#<convId>, the conversation's meta.
func conversationStatusPages(tenantID, status string) pageList {
	return indexPage(StatusKey(tenantID, status), func(g string) (string, string, bool) {
		_, id, ok := timeAndID(g)
		if !ok || !ids.Valid(ids.Conversation, id) {
			return "", "", false
		}
		return ConversationPK(tenantID, id), SKMeta, true
	})
}

// prefContactIndex starts the GSI1 sort key of a contact in its email's partition.
const prefContactIndex = "CONTACT#"

// timeAndID splits "<fixed-width time>#<id>", the time exactly as TimeKey
// writes it.
func timeAndID(s string) (at, id string, ok bool) {
	if len(s) <= len(timeKey) || s[len(timeKey)] != '#' {
		return "", "", false
	}
	at, id = s[:len(timeKey)], s[len(timeKey)+1:]
	t, err := time.Parse(timeKey, at)
	if err != nil || TimeKey(t) != at {
		return "", "", false
	}
	return at, id, true
}
