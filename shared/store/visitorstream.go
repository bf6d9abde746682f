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
	pk, ok := rec.Change.Keys["PK"]
	if !ok || pk.DataType() != events.DataTypeString {
		return nil, nil
	}
	decode := func(img map[string]events.DynamoDBAttributeValue) (*conversationItem, error) {
		m, err := FromStreamImage(img)
		if err != nil {
			return nil, err
		}
		var it conversationItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return nil, fmt.Errorf("unmarshal conversation image: %w", err)
		}
		it.Conversation.TenantID = TenantOfKey(pk.String())
		return &it, nil
	}
	switch rec.EventName {
	case string(events.DynamoDBOperationTypeInsert):
	case string(events.DynamoDBOperationTypeModify):
		old, err := decode(rec.Change.OldImage)
		if err != nil {
			return nil, err
		}
		nw, err := decode(rec.Change.NewImage)
		if err != nil {
			return nil, err
		}
		o, n := old.Conversation, nw.Conversation
		if o.Status == n.Status && o.AssigneeID == n.AssigneeID && o.ContactName == n.ContactName && o.ContactEmail == n.ContactEmail {
			return nil, nil
		}
		return &nw.Conversation, nil
	default:
		return nil, nil
	}
	it, err := decode(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	if it.Entity != "conversation" {
		return nil, nil
	}
	return &it.Conversation, nil
}
