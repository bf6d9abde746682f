package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// MessageItem is a message as stored (and as it appears in stream records).
type MessageItem struct {
	Base
	ID                 string    `dynamodbav:"id"`
	ConversationID     string    `dynamodbav:"conversationId"`
	TenantID           string    `dynamodbav:"tenantId"`
	ContactID          string    `dynamodbav:"contactId"`
	AuthorKind         string    `dynamodbav:"authorKind"`
	AuthorName         string    `dynamodbav:"authorName,omitempty"`
	Text               string    `dynamodbav:"text"`
	Channel            string    `dynamodbav:"channel"`
	CreatedAt          time.Time `dynamodbav:"createdAt"`
	ClientMessageID    string    `dynamodbav:"clientMessageId,omitempty"`
	OriginConnectionID string    `dynamodbav:"originConnectionId,omitempty"`
}

// Message returns the domain message of the item.
func (it *MessageItem) Message() *chat.Message {
	return &chat.Message{
		ID: it.ID, ConversationID: it.ConversationID, TenantID: it.TenantID, ContactID: it.ContactID,
		Author: chat.Author{Kind: it.AuthorKind, Name: it.AuthorName}, Text: it.Text, Channel: it.Channel,
		CreatedAt: it.CreatedAt, ClientMessageID: it.ClientMessageID, OriginConnectionID: it.OriginConnectionID,
	}
}

func messageItem(m *chat.Message, p retention.Periods) MessageItem {
	return MessageItem{
		Base: Base{PK: ConversationPK(m.TenantID, m.ConversationID), SK: MessageSK(m.CreatedAt, m.ID),
			DataClass: retention.Communication, Entity: "message",
			ExpiresAt: retention.ExpiresAt(p, retention.Communication, m.CreatedAt)},
		ID: m.ID, ConversationID: m.ConversationID, TenantID: m.TenantID, ContactID: m.ContactID,
		AuthorKind: m.Author.Kind, AuthorName: m.Author.Name, Text: m.Text, Channel: m.Channel,
		CreatedAt: m.CreatedAt.UTC(), ClientMessageID: m.ClientMessageID, OriginConnectionID: m.OriginConnectionID,
	}
}

type markerItem struct {
	Base
	MessageSK string `dynamodbav:"messageSk"`
}

// PutMessage stores a message once. m needs TenantID, ConversationID, ContactID,
// Author, Text and Channel; PutMessage sets ID and CreatedAt. With a
// ClientMessageID (or a provider's event id) it is idempotent: a dedupe marker is
// written first, under a condition, and a resend returns the original message with
// created false. The message itself is written at a key the marker fixes, so a
// retry after a crash between the two writes completes the first attempt.
func (s *Store) PutMessage(ctx context.Context, m *chat.Message, p retention.Periods) (*chat.Message, bool, error) {
	m.ID, m.CreatedAt = ids.New(ids.Message), s.Now()
	pk := ConversationPK(m.TenantID, m.ConversationID)
	created := true
	if m.ClientMessageID != "" {
		sk := MessageSK(m.CreatedAt, m.ID)
		marker, err := attributevalue.MarshalMap(markerItem{
			Base: Base{PK: pk, SK: prefCMID + m.ClientMessageID, DataClass: retention.Technical, Entity: "dedupe",
				ExpiresAt: retention.ExpiresAt(p, retention.Technical, m.CreatedAt)},
			MessageSK: sk,
		})
		if err != nil {
			return nil, false, wrap("marshal marker", err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.data, Item: marker,
			ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err != nil && !isConditionFailed(err) {
			return nil, false, wrap("put dedupe marker", err)
		}
		if err != nil {
			prev, err := s.original(ctx, pk, m.ClientMessageID, err)
			if err != nil {
				return nil, false, err
			}
			if prev != nil {
				return prev, false, nil
			}
			// The marker exists but its message was never written: finish that write.
			created = false
		}
	}
	item, err := attributevalue.MarshalMap(messageItem(m, p))
	if err != nil {
		return nil, false, wrap("marshal message", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item}); err != nil {
		return nil, false, wrap("put message", err)
	}
	return m, created, nil
}

// original returns the message a dedupe marker points to, taking the marker from
// the failed condition when DynamoDB returned it. When the message is missing it
// returns nil and sets nothing: the caller then writes it.
func (s *Store) original(ctx context.Context, pk, clientMessageID string, condErr error) (*chat.Message, error) {
	var mk markerItem
	var cf *types.ConditionalCheckFailedException
	if asCondition(condErr, &cf) && cf.Item != nil {
		if err := attributevalue.UnmarshalMap(cf.Item, &mk); err != nil {
			return nil, wrap("unmarshal marker", err)
		}
	} else if _, err := s.getLive(ctx, pk, prefCMID+clientMessageID, true, &mk); err != nil {
		return nil, wrap("get marker", err)
	}
	var it MessageItem
	ok, err := s.getLive(ctx, pk, mk.MessageSK, true, &it)
	if err != nil || !ok {
		return nil, wrap("get original message", err)
	}
	return it.Message(), nil
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
