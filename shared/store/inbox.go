package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// ConversationsByStatus lists one page of a tenant's conversations with a
// status, newest activity first, from the GSI1 partitions of that status
// (T#t#CONVS#<status>, in the tenant's shards inbox shards, merged). It reads
// about twice limit index items, however many conversations the tenant has.
// It starts from cursor ("" for the first page) and returns the cursor of the
// next page ("" at the end). A cursor that is not of this list is
// ErrBadPageCursor.
func (s *Store) ConversationsByStatus(ctx context.Context, tenantID, status string, shards, limit int, cursor string) ([]chat.Conversation, string, error) {
	l := conversationStatusPages(tenantID, status)
	after, err := l.after(cursor)
	if err != nil {
		return nil, "", err
	}
	raw, last, err := s.mergedPage(ctx, mergedList{index: "GSI1", pkAttr: "GSI1PK", skAttr: "GSI1SK",
		parts: shardKeys(StatusKey(tenantID, status), InboxShards(shards))}, limit, after)
	if err != nil {
		return nil, "", wrap("query conversations", err)
	}
	var items []conversationItem
	if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
		return nil, "", wrap("unmarshal conversations", err)
	}
	out := make([]chat.Conversation, len(items))
	for i, it := range items {
		out[i] = it.Conversation
		out[i].TenantID = tenantID
	}
	next, err := l.cursorAt(last)
	if err != nil {
		return nil, "", wrap("conversations by status", err)
	}
	return out, next, nil
}

// SetConversationStatus opens or closes a live conversation and moves it to the
// inbox list (its GSI1 shard among the tenant's shards inbox shards) of its
// new status. Closing clears the contact's
// openConversationId when it names this conversation, so the visitor's next
// message opens a new conversation; reopening points a contact that has no open
// conversation back at this one. Missing, expired or foreign is chat.ErrNotFound.
func (s *Store) SetConversationStatus(ctx context.Context, tenantID, convID, status string, shards int) (*chat.Conversation, error) {
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.data,
		Key:                      key(ConversationPK(tenantID, convID), SKMeta),
		UpdateExpression:         aws.String("SET #st = :st, GSI1PK = :g1"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND (" + LiveFilter + ")"),
		ExpressionAttributeNames: map[string]string{"#st": attrName(chat.Conversation{}, "Status")},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":st":  &types.AttributeValueMemberS{Value: status},
			":g1":  &types.AttributeValueMemberS{Value: InboxKey(tenantID, status, convID, shards)},
			":now": s.nowValue(),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("set conversation status", err)
	}
	cv, err := conversationOf(res.Attributes, tenantID)
	if err != nil {
		return nil, err
	}

	open := attrName(chat.Contact{}, "OpenConversationID")
	in := &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ContactPK(tenantID, cv.ContactID), SKProfile),
		ExpressionAttributeNames:  map[string]string{"#oc": open},
		ExpressionAttributeValues: map[string]types.AttributeValue{":cv": &types.AttributeValueMemberS{Value: convID}},
	}
	if status == chat.StatusClosed {
		in.UpdateExpression, in.ConditionExpression = aws.String("REMOVE #oc"), aws.String("#oc = :cv")
	} else {
		in.UpdateExpression = aws.String("SET #oc = :cv")
		in.ConditionExpression = aws.String("attribute_exists(PK) AND (attribute_not_exists(#oc) OR #oc = :cv)")
	}
	if _, err := s.db.UpdateItem(ctx, in); err != nil && !isConditionFailed(err) {
		return nil, wrap("update contact open conversation", err)
	}
	return cv, nil
}
