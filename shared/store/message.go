package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// messageRecord is a message as stored (and as it appears in stream records).
type messageRecord struct {
	Base
	ID                 string             `dynamodbav:"id"`
	ConversationID     string             `dynamodbav:"conversationId"`
	TenantID           string             `dynamodbav:"tenantId"`
	ContactID          string             `dynamodbav:"contactId"`
	AuthorKind         string             `dynamodbav:"authorKind"`
	AuthorName         string             `dynamodbav:"authorName,omitempty"`
	Text               string             `dynamodbav:"text"`
	Channel            string             `dynamodbav:"channel"`
	CreatedAt          time.Time          `dynamodbav:"createdAt"`
	ClientMessageID    string             `dynamodbav:"clientMessageId,omitempty"`
	OriginConnectionID string             `dynamodbav:"originConnectionId,omitempty"`
	Attachments        []attachmentRecord `dynamodbav:"attachments,omitempty"`
	Template           *chat.Template     `dynamodbav:"template,omitempty"`
	// The delivery to a messaging channel (channelsend.go): set after the
	// message is written, attribute by attribute.
	DeliveryStatus string `dynamodbav:"deliveryStatus,omitempty"`
	DeliveryError  string `dynamodbav:"deliveryError,omitempty"`
}

type attachmentRecord struct {
	Key         string `dynamodbav:"key"`
	Name        string `dynamodbav:"name,omitempty"`
	ContentType string `dynamodbav:"contentType,omitempty"`
	Size        int64  `dynamodbav:"size"`
	Omitted     string `dynamodbav:"omitted,omitempty"`
}

// Message returns the domain message of the item.
func (it *messageRecord) Message() *chat.Message {
	return &chat.Message{
		ID: it.ID, ConversationID: it.ConversationID, TenantID: it.TenantID, ContactID: it.ContactID,
		Author: chat.Author{Kind: it.AuthorKind, Name: it.AuthorName}, Text: it.Text, Channel: it.Channel,
		CreatedAt: it.CreatedAt, ClientMessageID: it.ClientMessageID, OriginConnectionID: it.OriginConnectionID,
		KeepUntil: unixTime(it.ExpiresAt), Template: it.Template, Attachments: attachmentsOf(it.Attachments),
		Delivery: deliveryOf(it.DeliveryStatus, it.DeliveryError),
	}
}

func attachmentsOf(recs []attachmentRecord) []chat.Attachment {
	var out []chat.Attachment
	for _, a := range recs {
		out = append(out, chat.Attachment{Key: a.Key, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Omitted: a.Omitted})
	}
	return out
}

func deliveryOf(status, code string) *chat.Delivery {
	if status == "" {
		return nil
	}
	return &chat.Delivery{Status: status, Error: code}
}

// unixTime is the time of Unix seconds s (zero for 0).
func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func messageItem(m *chat.Message, p retention.Periods) messageRecord {
	return messageRecord{
		Base: Base{PK: ConversationPK(m.TenantID, m.ConversationID), SK: MessageSK(m.CreatedAt, m.ID),
			DataClass: retention.Communication, Entity: "message",
			ExpiresAt: retention.ExpiresAt(p, retention.Communication, m.CreatedAt)},
		ID: m.ID, ConversationID: m.ConversationID, TenantID: m.TenantID, ContactID: m.ContactID,
		AuthorKind: m.Author.Kind, AuthorName: m.Author.Name, Text: m.Text, Channel: m.Channel,
		CreatedAt: m.CreatedAt.UTC(), ClientMessageID: m.ClientMessageID, OriginConnectionID: m.OriginConnectionID,
		Attachments: attachmentRecords(m.Attachments), Template: m.Template,
	}
}

func attachmentRecords(as []chat.Attachment) []attachmentRecord {
	var out []attachmentRecord
	for _, a := range as {
		out = append(out, attachmentRecord{Key: a.Key, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Omitted: a.Omitted})
	}
	return out
}

// The bounds of a message's SentAt: a client's clock may run a little ahead
// of the server's, and a resend after a long disconnection comes late.
const (
	MaxSentAhead = time.Minute
	MaxSentAge   = 24 * time.Hour
)

type markerItem struct {
	Base
	MessageSK string `dynamodbav:"messageSk"`
}

// PutMessage stores a message once and reports whether this call wrote it. m
// needs TenantID, ConversationID, ContactID, Author, Text and Channel;
// PutMessage sets ID and CreatedAt.
//
// With a ClientMessageID (or a provider's event id) it is idempotent across
// partial failure. A dedupe marker is written first, under a condition; it
// names the message's key, which holds the message's time and id. The message
// is then written at that key, also only if it is not there. A resend (or a
// second instance racing the first) that finds the marker returns the message
// at the marker's key; when an attempt stopped between the two writes, the
// message is not there yet, and the resend writes it with the marker's id and
// time. However the attempts interleave, one of them writes the message item
// once (the stream sees one INSERT) and all of them return it.
//
// With a ClientMessageID and a SentAt, the message is keyed by them instead:
// its time is SentAt and its id derives from the client message id, so one
// conditional write stores it once and a resend (which carries the same
// SentAt) finds it, with no marker. SentAt must lie within MaxSentAhead of
// the store's clock and MaxSentAge behind it.
func (s *Store) PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error) {
	if m.ClientMessageID != "" && !m.SentAt.IsZero() {
		now := s.Now()
		switch at := m.SentAt.UTC().Truncate(time.Millisecond); {
		case at.After(now.Add(MaxSentAhead)):
			return nil, false, chat.Errorf(chat.EInvalid, "sentAt is more than %v ahead of the server's clock; resend without it", MaxSentAhead)
		case at.Before(now.Add(-MaxSentAge)):
			return nil, false, chat.Errorf(chat.EInvalid, "sentAt is more than %v old; resend without it", MaxSentAge)
		case retention.Expired(retention.ExpiresAt(p, retention.Communication, at), now):
			return nil, false, chat.Errorf(chat.EInvalid, "sentAt is older than this conversation's messages are kept; resend without it")
		default:
			m.CreatedAt = at
			m.ID = ids.Derived(ids.Message, at, m.TenantID, m.ConversationID, m.ClientMessageID)
			return s.putMessageItem(ctx, m, p)
		}
	}
	// A key holds the time to the microsecond; the message gets exactly that
	// time, so that a message rebuilt from its key is the same message.
	m.ID, m.CreatedAt = ids.New(ids.Message), s.Now().Truncate(time.Microsecond)
	if m.ClientMessageID != "" {
		pk := ConversationPK(m.TenantID, m.ConversationID)
		sk, err := s.claimClientMessageID(ctx, m, p)
		if err != nil {
			return nil, false, err
		}
		if sk != MessageSK(m.CreatedAt, m.ID) {
			var it messageRecord
			ok, err := s.getLive(ctx, pk, sk, true, &it)
			if err != nil {
				return nil, false, wrap("get original message", err)
			}
			if ok {
				return it.Message(), false, nil
			}
			// An earlier attempt wrote the marker but not the message: write it
			// now, as that attempt would have.
			if m.CreatedAt, m.ID, err = parseMessageSK(sk); err != nil {
				return nil, false, err
			}
			if retention.Expired(retention.ExpiresAt(p, retention.Communication, m.CreatedAt), s.Now()) {
				return nil, false, chat.Errorf(chat.EConflict, "this clientMessageId was used for a message that has since expired")
			}
		}
	}
	return s.putMessageItem(ctx, m, p)
}

// claimClientMessageID writes the dedupe marker of m's client message id,
// naming m's key, unless the id already has one; it returns the message key
// the marker names.
func (s *Store) claimClientMessageID(ctx context.Context, m *chat.Message, p retention.Periods) (string, error) {
	pk := ConversationPK(m.TenantID, m.ConversationID)
	mk := markerItem{
		Base: Base{PK: pk, SK: prefCMID + m.ClientMessageID, DataClass: retention.Technical, Entity: "dedupe",
			ExpiresAt: retention.ExpiresAt(p, retention.Technical, m.CreatedAt)},
		MessageSK: MessageSK(m.CreatedAt, m.ID),
	}
	item, err := attributevalue.MarshalMap(mk)
	if err != nil {
		return "", wrap("marshal marker", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return mk.MessageSK, nil
	}
	if !isConditionFailed(err) {
		return "", wrap("put dedupe marker", err)
	}
	var prev markerItem
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) && cf.Item != nil {
		err = attributevalue.UnmarshalMap(cf.Item, &prev)
	} else {
		_, err = s.getLive(ctx, pk, mk.SK, true, &prev)
	}
	if err != nil {
		return "", wrap("read dedupe marker", err)
	}
	if !strings.HasPrefix(prev.MessageSK, prefMsg) {
		return "", fmt.Errorf("dedupe marker %s names no message", mk.SK)
	}
	return prev.MessageSK, nil
}

// putMessageItem writes the message item unless its key holds one. If it
// does, that message is returned, with created false, except when it is
// exactly what this call writes (the SDK retried a write whose answer was
// lost).
func (s *Store) putMessageItem(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error) {
	rec := messageItem(m, p)
	m.KeepUntil = unixTime(rec.ExpiresAt)
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, false, wrap("marshal message", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return m, true, nil
	}
	var cf *types.ConditionalCheckFailedException
	if !asCondition(err, &cf) {
		return nil, false, wrap("put message", err)
	}
	if cf.Item != nil && reflect.DeepEqual(cf.Item, item) {
		return m, true, nil
	}
	var it messageRecord
	if cf.Item != nil {
		err = attributevalue.UnmarshalMap(cf.Item, &it)
	} else if _, err = s.getLive(ctx, ConversationPK(m.TenantID, m.ConversationID), MessageSK(m.CreatedAt, m.ID), true, &it); err == nil && it.ID == "" {
		err = errors.New("message vanished")
	}
	if err != nil {
		return nil, false, wrap("read stored message", err)
	}
	return it.Message(), false, nil
}

// parseMessageSK returns the time and id a message key holds.
func parseMessageSK(sk string) (time.Time, string, error) {
	rest, _ := strings.CutPrefix(sk, prefMsg)
	at, id, ok := strings.Cut(rest, "#")
	t, err := time.Parse(timeKey, at)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", fmt.Errorf("malformed message key %q", sk)
	}
	return t, id, nil
}

// History returns up to limit live messages of a conversation older than the
// cursor, oldest first, and the cursor of the page before them ("" at the start).
func (s *Store) History(ctx context.Context, tenantID, convID, before string, limit int) ([]*chat.Message, string, error) {
	return s.history(ctx, s.data, tenantID, convID, before, limit)
}

// justBefore returns a key that sorts after every fixed-width ASCII key smaller
// than sk and before sk itself. sk must be a checked message key
// (historyCursorKey): its last byte is a base32 character, so it never wraps.
func justBefore(sk string) string {
	last := sk[len(sk)-1]
	return sk[:len(sk)-1] + string(rune(last-1)) + "~"
}
