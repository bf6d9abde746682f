package store

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/livesupportbot/backend/shared/chat"
)

// InsertedMessage is the message a Data stream record inserted, or nil when
// the record is anything else (another item, a modify or a removal).
func InsertedMessage(rec events.DynamoDBEventRecord) (*chat.Message, error) {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return nil, nil
	}
	sk, ok := rec.Change.Keys["SK"]
	if !ok || sk.DataType() != events.DataTypeString || !isMessageKey(sk.String()) {
		return nil, nil
	}
	it, err := messageFromStream(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return it.Message(), nil
}

// ChangedConversation is the conversation a Data stream record opened or
// changed in a way agents see (status, assignee, contact's name or email), or
// nil when the record is anything else: another item, a removal, or a change
// of activity alone (which moves with every message, and is told by the
// message itself).
func ChangedConversation(rec events.DynamoDBEventRecord) (*chat.Conversation, error) {
	sk, ok := rec.Change.Keys["SK"]
	if !ok || sk.DataType() != events.DataTypeString || sk.String() != SKMeta {
		return nil, nil
	}
	switch rec.EventName {
	case string(events.DynamoDBOperationTypeInsert):
		return conversationImage(rec.Change.NewImage)
	case string(events.DynamoDBOperationTypeModify):
		o, err := conversationImage(rec.Change.OldImage)
		if err != nil || o == nil {
			return nil, err
		}
		n, err := conversationImage(rec.Change.NewImage)
		if err != nil || n == nil {
			return nil, err
		}
		if o.Status == n.Status && o.AssigneeID == n.AssigneeID && o.ContactName == n.ContactName && o.ContactEmail == n.ContactEmail {
			return nil, nil
		}
		return n, nil
	}
	return nil, nil
}

// conversationImage decodes a conversation from a stream image (nil for an
// item of another entity).
func conversationImage(img map[string]events.DynamoDBAttributeValue) (*chat.Conversation, error) {
	m, err := FromStreamImage(img)
	if err != nil {
		return nil, err
	}
	var it conversationItem
	if err := attributevalue.UnmarshalMap(m, &it); err != nil {
		return nil, fmt.Errorf("unmarshal conversation image: %w", err)
	}
	if it.Entity != "conversation" {
		return nil, nil
	}
	it.Conversation.TenantID = TenantOfKey(it.PK)
	return &it.Conversation, nil
}
