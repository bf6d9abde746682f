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

type conversationItem struct {
	Base
	chat.Conversation
}

func newConversationID() string { return ids.New(ids.Conversation) }

func conversationBase(cv *chat.Conversation, p retention.Periods) Base {
	pk := ConversationPK(cv.TenantID, cv.ID)
	return Base{
		PK: pk, SK: SKMeta, DataClass: retention.Communication, Entity: "conversation",
		GSI1PK: InboxKey(cv.TenantID, cv.Status, cv.ID, p.InboxShards), GSI1SK: TimeKey(cv.LastActivityAt) + "#" + cv.ID,
		GSI2PK:    RetentionKey(cv.TenantID, string(retention.Communication), DayEnd(cv.LastActivityAt), pk),
		GSI2SK:    RetentionSort(DayEnd(cv.LastActivityAt), pk),
		ExpiresAt: retention.ExpiresAt(p, retention.Communication, DayEnd(cv.LastActivityAt)),
	}
}

// Conversation reads a conversation; missing, expired or foreign is chat.ErrNotFound.
func (s *Store) Conversation(ctx context.Context, tenantID, convID string) (*chat.Conversation, error) {
	var it conversationItem
	ok, err := s.getLive(ctx, ConversationPK(tenantID, convID), SKMeta, false, &it)
	if err != nil {
		return nil, wrap("get conversation", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	it.Conversation.TenantID = tenantID
	return &it.Conversation, nil
}

// TouchConversation records activity at time at: it moves the conversation's
// lastActivityAt, its inbox position and its expiresAt (to keepUntil, the end
// of retention counted from at: a message's KeepUntil) forward, never back. A
// conversation on legal hold (no expiresAt) gets no expiresAt, and a zero
// keepUntil removes it. The retention basis and expiresAt are the end of
// their day (DayEnd), so they move once a day. With a step, only activity at
// least that much newer than the recorded one is written: moving the inbox
// key costs an index delete and put, so a busy conversation pays it once a
// step, and a skipped touch costs one failed conditional write. It returns the activity the conversation records
// afterwards, when known (zero otherwise): a caller that remembers it can
// skip touches that would not be written.
func (s *Store) TouchConversation(ctx context.Context, tenantID, convID string, at, keepUntil time.Time, step time.Duration) (time.Time, error) {
	pk := ConversationPK(tenantID, convID)
	vals := map[string]types.AttributeValue{
		":at":   &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)},
		":g1":   &types.AttributeValueMemberS{Value: TimeKey(at) + "#" + convID},
		":g2pk": &types.AttributeValueMemberS{Value: RetentionKey(tenantID, string(retention.Communication), DayEnd(at), pk)},
		":g2sk": &types.AttributeValueMemberS{Value: RetentionSort(DayEnd(at), pk)},
		":exp":  &types.AttributeValueMemberN{Value: itoa(DayEnd(keepUntil).Unix())},
		":old":  &types.AttributeValueMemberS{Value: TimeKey(at.Add(-step)) + "#" + convID},
	}
	// Attribute names of the embedded chat.Conversation are its Go field names;
	// GSI1SK starts with the fixed-width time, so it orders activity.
	set := "SET LastActivityAt = :at, GSI1SK = :g1, GSI2PK = :g2pk, GSI2SK = :g2sk"
	cond := "attribute_exists(PK) AND GSI1SK < :g1 AND GSI1SK <= :old"
	if keepUntil.IsZero() {
		// No end (the message was written under a tenant-wide legal hold): the
		// conversation is kept without one too.
		delete(vals, ":exp")
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(pk, SKMeta), ExpressionAttributeValues: vals,
			UpdateExpression: aws.String(set + " REMOVE expiresAt"), ConditionExpression: aws.String(cond),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		if err == nil {
			return at, nil
		}
		var cf *types.ConditionalCheckFailedException
		if !asCondition(err, &cf) {
			return time.Time{}, wrap("touch conversation", err)
		}
		return recordedActivity(cf.Item), nil // gone (zero), or this or newer activity already recorded
	}
	for _, held := range []bool{false, true} {
		in := &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(pk, SKMeta), ExpressionAttributeValues: vals}
		if held {
			delete(vals, ":exp")
			in.UpdateExpression, in.ConditionExpression = aws.String(set), aws.String(cond+" AND attribute_not_exists(expiresAt)")
		} else {
			in.UpdateExpression, in.ConditionExpression = aws.String(set+", expiresAt = :exp"), aws.String(cond+" AND attribute_exists(expiresAt)")
			in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		}
		_, err := s.db.UpdateItem(ctx, in)
		if err == nil {
			return at, nil
		}
		if !isConditionFailed(err) {
			return time.Time{}, wrap("touch conversation", err)
		}
		// Only a held conversation (one without expiresAt) is worth the second try.
		var cf *types.ConditionalCheckFailedException
		if asCondition(err, &cf) && cf.Item != nil {
			if _, hasExp := cf.Item["expiresAt"]; hasExp {
				return recordedActivity(cf.Item), nil
			}
		}
	}
	return time.Time{}, nil // gone, or newer activity already recorded
}

// recordedActivity is the activity time in a conversation item's inbox key.
func recordedActivity(item map[string]types.AttributeValue) time.Time {
	g, ok := item["GSI1SK"].(*types.AttributeValueMemberS)
	if !ok || len(g.Value) < len(timeKey) {
		return time.Time{}
	}
	t, err := time.Parse(timeKey, g.Value[:len(timeKey)])
	if err != nil {
		return time.Time{}
	}
	return t
}

// AssignConversation assigns a live conversation to an agent ("" unassigns
// it), changing only its assignee. Missing, expired or foreign is
// chat.ErrNotFound.
func (s *Store) AssignConversation(ctx context.Context, tenantID, convID, agentID string) (*chat.Conversation, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:                 &s.data,
		Key:                       key(ConversationPK(tenantID, convID), SKMeta),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (" + LiveFilter + ")"),
		ExpressionAttributeNames:  map[string]string{"#as": attrName(chat.Conversation{}, "AssigneeID")},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": s.nowValue()},
		ReturnValues:              types.ReturnValueAllNew,
	}
	if agentID == "" {
		in.UpdateExpression = aws.String("REMOVE #as")
	} else {
		in.UpdateExpression = aws.String("SET #as = :as")
		in.ExpressionAttributeValues[":as"] = str(agentID)
	}
	res, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("assign conversation", err)
	}
	return conversationOf(res.Attributes, tenantID)
}

// conversationOf decodes a conversation item a write returned.
func conversationOf(item map[string]types.AttributeValue, tenantID string) (*chat.Conversation, error) {
	var it conversationItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, wrap("unmarshal conversation", err)
	}
	it.Conversation.TenantID = tenantID
	return &it.Conversation, nil
}

// nameConversation copies the contact's name and email to its open
// conversation (the inbox shows them); a conversation gone since is no error.
func (s *Store) nameConversation(ctx context.Context, c *chat.Contact) error {
	if c.OpenConversationID == "" {
		return nil
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.data,
		Key:                 key(ConversationPK(c.TenantID, c.OpenConversationID), SKMeta),
		UpdateExpression:    aws.String("SET #n = :n, #e = :e"),
		ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: map[string]string{
			"#n": attrName(chat.Conversation{}, "ContactName"), "#e": attrName(chat.Conversation{}, "ContactEmail")},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": str(c.Name), ":e": str(c.Email)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("name conversation", err)
}
