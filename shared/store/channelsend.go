package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// The records of our sends to a messaging channel:
//
//	item          PK              SK                                   class
//	send record   T#t#CONV#v      SEND#<messageId>                     communication  (parts sent, provider ids)
//	provider ref  T#t#CONTACT#c   OUT#<channel>#<provider message id>  communication  (conversationId, messageSk)
//
// A send is recorded before it is made and each part's provider id as soon as
// the provider answers, so a retry sends only the parts not yet answered: a
// message is sent at least once, and twice only if the provider took a part
// and its answer was lost. The provider ref finds our message from a delivery
// status, which names only the provider's id and the recipient.
const (
	prefSend = "SEND#"
	prefOut  = "OUT#"
)

// ChannelSend is the record of a message's send to a channel.
type ChannelSend struct {
	Channel     string    `dynamodbav:"channel"`
	MessageID   string    `dynamodbav:"messageId"`
	ContactID   string    `dynamodbav:"contactId"`
	ProviderIDs []string  `dynamodbav:"providerIds"`
	StartedAt   time.Time `dynamodbav:"startedAt"`
}

type sendItem struct {
	Base
	ChannelSend
}

type outRef struct {
	Base
	ConversationID string `dynamodbav:"conversationId"`
	MessageSK      string `dynamodbav:"messageSk"`
}

// BeginChannelSend records that m is being sent to channel, unless a record
// exists: it returns the record (with the provider ids of the parts already
// sent).
func (s *Store) BeginChannelSend(ctx context.Context, m *chat.Message, channel string, p retention.Periods) (*ChannelSend, error) {
	now := s.Now()
	rec := sendItem{
		Base: Base{PK: ConversationPK(m.TenantID, m.ConversationID), SK: prefSend + m.ID, DataClass: retention.Communication,
			Entity: "channelSend", ExpiresAt: retention.ExpiresAt(p, retention.Communication, m.CreatedAt)},
		ChannelSend: ChannelSend{Channel: channel, MessageID: m.ID, ContactID: m.ContactID, ProviderIDs: []string{}, StartedAt: now},
	}
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, wrap("marshal send record", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	if err == nil {
		return &rec.ChannelSend, nil
	}
	var cf *types.ConditionalCheckFailedException
	if !asCondition(err, &cf) {
		return nil, wrap("put send record", err)
	}
	var prev sendItem
	if cf.Item != nil {
		err = attributevalue.UnmarshalMap(cf.Item, &prev)
	} else {
		_, err = s.getLive(ctx, rec.PK, rec.SK, true, &prev)
	}
	if err != nil {
		return nil, wrap("read send record", err)
	}
	return &prev.ChannelSend, nil
}

// RecordSentPart records that part n (counted from 0) of m was taken by the
// provider as providerID: it appends the id to the send record, only if n
// parts are recorded so far, and writes the provider ref under the contact.
func (s *Store) RecordSentPart(ctx context.Context, m *chat.Message, channel string, n int, providerID string, p retention.Periods) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ConversationPK(m.TenantID, m.ConversationID), prefSend+m.ID),
		UpdateExpression:    aws.String("SET providerIds = list_append(providerIds, :id)"),
		ConditionExpression: aws.String("size(providerIds) = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id": &types.AttributeValueMemberL{Value: []types.AttributeValue{str(providerID)}},
			":n":  &types.AttributeValueMemberN{Value: itoa(int64(n))},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return wrap("record sent part", err)
	}
	ref, err := attributevalue.MarshalMap(outRef{
		Base: Base{PK: ContactPK(m.TenantID, m.ContactID), SK: prefOut + channel + "#" + providerID, DataClass: retention.Communication,
			Entity: "providerRef", ExpiresAt: retention.ExpiresAt(p, retention.Communication, m.CreatedAt)},
		ConversationID: m.ConversationID, MessageSK: MessageSK(m.CreatedAt, m.ID),
	})
	if err != nil {
		return wrap("marshal provider ref", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: ref})
	return wrap("put provider ref", err)
}

// SetDelivery sets the delivery status of message m (and the provider's error
// code, for a failure), unless it has a later status already: a status never
// moves back. It reports whether it changed the message.
func (s *Store) SetDelivery(ctx context.Context, m *chat.Message, status, code string) (bool, error) {
	return s.setDelivery(ctx, m.TenantID, m.ConversationID, MessageSK(m.CreatedAt, m.ID), status, code)
}

func (s *Store) setDelivery(ctx context.Context, tenantID, convID, messageSK, status, code string) (bool, error) {
	rank := chat.DeliveryRank(status)
	if rank == 0 {
		return false, fmt.Errorf("set delivery: unknown status %q", status)
	}
	vals := map[string]types.AttributeValue{":s": str(status), ":r": &types.AttributeValueMemberN{Value: itoa(int64(rank))}}
	upd := "SET deliveryStatus = :s, deliveryRank = :r"
	if code != "" {
		vals[":e"] = str(code)
		upd += ", deliveryError = :e"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ConversationPK(tenantID, convID), messageSK),
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(deliveryRank) OR deliveryRank < :r)"),
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("set delivery", err)
}

// ProviderStatus records a delivery status the provider reported for its
// message providerID, sent to the contact on channel: it finds our message
// through the provider ref. An unknown id (not ours, or erased) changes
// nothing and reports false.
func (s *Store) ProviderStatus(ctx context.Context, tenantID, contactID, channel, providerID, status, code string) (bool, error) {
	var ref outRef
	ok, err := s.getLive(ctx, ContactPK(tenantID, contactID), prefOut+channel+"#"+providerID, false, &ref)
	if err != nil || !ok {
		return false, wrap("get provider ref", err)
	}
	return s.setDelivery(ctx, tenantID, ref.ConversationID, ref.MessageSK, status, code)
}

// ChannelUser reads a channel user by its ids, without recording anything;
// unknown is chat.ErrNotFound.
func (s *Store) ChannelUser(ctx context.Context, tenantID, channel, account, user string) (*chat.ChannelUser, error) {
	var it channelUserItem
	ok, err := s.getLive(ctx, ChannelUserPK(tenantID, channel, account, user), skChannelUser, false, &it)
	if err != nil {
		return nil, wrap("get channel user", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return it.user(), nil
}
