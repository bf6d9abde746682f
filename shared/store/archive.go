package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// The Archive table holds communication items that expired from the Data table,
// under the same PK and SK, with their own later expiresAt (the archive period
// counted from when they left the hot table, kept as hotExpiresAt) and the time
// they were archived. Their only index is the archive's retention index:
//
//	archived item   GSI2PK T#t#RET#archive#<yyyy-mm of hotExpiresAt>   GSI2SK <hotExpiresAt time>#PK#SK
//
// so retention-sweep finds them by month when a tenant shortens its archive period.

// ArchiveClass labels the archive's retention index partitions (it is not a
// data class: archived items keep their class, communication).
const ArchiveClass = "archive"

// RemovedItem is an item the Data table's stream reported removed: the facts
// the archive function decides on, read from its keys and attributes, and the
// item itself (opaque outside store), to archive or put back.
type RemovedItem struct {
	// TenantID is the tenant the item belongs to; "" for the platform's own
	// bookkeeping and for keys of no tenant.
	TenantID string
	// ContactID is the contact whose partition held the item, else the
	// contact it names ("" if none).
	ContactID string
	// ConversationID is the conversation whose partition held the item.
	ConversationID string
	Class          retention.Class
	Entity         string
	// ExpiresAt is the item's expiresAt when it was removed (0 if none).
	ExpiresAt int64
	// Holdable is whether a legal hold keeps the item (connections and rate
	// counters it does not).
	Holdable bool
	item     map[string]types.AttributeValue
}

// RemovedFromStream reads the old image of a stream record's REMOVE.
func RemovedFromStream(img map[string]events.DynamoDBAttributeValue) (*RemovedItem, error) {
	item, err := FromStreamImage(img)
	if err != nil {
		return nil, err
	}
	return removedItem(item), nil
}

func removedItem(item map[string]types.AttributeValue) *RemovedItem {
	str := func(name string) string {
		v, _ := item[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	pk, sk := str("PK"), str("SK")
	r := &RemovedItem{Class: retention.Class(str("dataClass")), Entity: str("entity"), Holdable: holdable(pk, sk), item: item}
	if t := TenantOfKey(pk); t != PlatformID {
		r.TenantID = t
	}
	if n, ok := item["expiresAt"].(*types.AttributeValueMemberN); ok {
		r.ExpiresAt, _ = parseInt(n.Value)
	}
	r.ContactID, r.ConversationID = subjectOf(pk, "", map[string]string{"contactId": str("contactId"), "ContactID": str("ContactID")})
	return r
}

// ArchiveItem copies an item the Data table's TTL removed into the Archive table
// with expiresAt set to expiresAt (0 for an item on legal hold). It writes only
// if the item is not there yet, so a redelivered stream record archives once; it
// reports whether it wrote.
func (s *Store) ArchiveItem(ctx context.Context, removed *RemovedItem, expiresAt int64) (bool, error) {
	item := removed.item
	out := make(map[string]types.AttributeValue, len(item)+2)
	for k, v := range item {
		switch k {
		case "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "expiresAt":
		default:
			out[k] = v
		}
	}
	if hot, ok := item["expiresAt"]; ok {
		out["hotExpiresAt"] = hot
		if n, ok := hot.(*types.AttributeValueMemberN); ok {
			if sec, err := parseInt(n.Value); err == nil {
				t := time.Unix(sec, 0).UTC()
				pk, _ := item["PK"].(*types.AttributeValueMemberS)
				sk, _ := item["SK"].(*types.AttributeValueMemberS)
				if pk != nil && sk != nil {
					out["GSI2PK"] = &types.AttributeValueMemberS{Value: RetentionKey(TenantOfKey(pk.Value), ArchiveClass, t, pk.Value)}
					out["GSI2SK"] = &types.AttributeValueMemberS{Value: RetentionSort(t, pk.Value+"#"+sk.Value)}
				}
			}
		}
	}
	out["archivedAt"] = &types.AttributeValueMemberN{Value: itoa(s.Now().Unix())}
	if expiresAt != 0 {
		out["expiresAt"] = &types.AttributeValueMemberN{Value: itoa(expiresAt)}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.archive, Item: out,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("archive item", err)
	}
	return true, nil
}

// RestoreHeld puts an item that TTL removed back into the Data table without
// expiresAt, because its subject or tenant is on legal hold: held data is never
// lost to expiry. It never overwrites a newer item at the same key.
func (s *Store) RestoreHeld(ctx context.Context, removed *RemovedItem) error {
	out := make(map[string]types.AttributeValue, len(removed.item))
	for k, v := range removed.item {
		if k != "expiresAt" {
			out[k] = v
		}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: out,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("restore held item", err)
}

// ArchivedConversation reads a conversation from the Archive table, marked
// Archived; missing, past its archive period or foreign is chat.ErrNotFound.
func (s *Store) ArchivedConversation(ctx context.Context, tenantID, convID string) (*chat.Conversation, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.archive, Key: key(ConversationPK(tenantID, convID), SKMeta)})
	if err != nil {
		return nil, wrap("get archived conversation", err)
	}
	var it conversationItem
	if res.Item == nil {
		return nil, chat.ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return nil, wrap("unmarshal archived conversation", err)
	}
	if !it.Live(s.Now()) {
		return nil, chat.ErrNotFound
	}
	it.Conversation.TenantID, it.Conversation.Archived = tenantID, true
	return &it.Conversation, nil
}

// ConversationOrArchived reads a conversation from the Data table, or, once it
// has expired from there, from the Archive table (marked Archived) until the
// archive period ends.
func (s *Store) ConversationOrArchived(ctx context.Context, tenantID, convID string) (*chat.Conversation, error) {
	cv, err := s.Conversation(ctx, tenantID, convID)
	if errors.Is(err, chat.ErrNotFound) {
		return s.ArchivedConversation(ctx, tenantID, convID)
	}
	return cv, err
}

// ArchivedHistory pages through the live archived messages of a conversation like
// History does for the Data table: up to limit messages older than the cursor,
// oldest first, and the cursor of the page before them.
func (s *Store) ArchivedHistory(ctx context.Context, tenantID, convID, before string, limit int) ([]*chat.Message, string, error) {
	return s.history(ctx, s.archive, tenantID, convID, before, limit)
}

// HistoryOrArchived reads a conversation's messages from the Data table, or from
// the Archive table when the conversation is archived. Messages of a live
// conversation that expired earlier are in the archive too; this reads one table
// per call, chosen by where the conversation is.
func (s *Store) HistoryOrArchived(ctx context.Context, tenantID string, cv *chat.Conversation, before string, limit int) ([]*chat.Message, string, error) {
	if cv.Archived {
		return s.ArchivedHistory(ctx, tenantID, cv.ID, before, limit)
	}
	return s.History(ctx, tenantID, cv.ID, before, limit)
}

// history pages through the live messages of a conversation in table, newest
// page first, each page oldest first.
func (s *Store) history(ctx context.Context, table, tenantID, convID, before string, limit int) ([]*chat.Message, string, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	pk := ConversationPK(tenantID, convID)
	cond := "PK = :pk AND begins_with(SK, :msg)"
	vals := map[string]types.AttributeValue{
		":pk":  &types.AttributeValueMemberS{Value: pk},
		":msg": &types.AttributeValueMemberS{Value: prefMsg},
		":now": s.nowValue(),
	}
	if before != "" {
		sk, err := historyCursorKey(convID, before)
		if err != nil {
			return nil, "", err
		}
		cond = "PK = :pk AND SK BETWEEN :msg AND :before"
		vals[":before"] = &types.AttributeValueMemberS{Value: justBefore(sk)}
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: aws.String(cond),
		FilterExpression: aws.String(LiveFilter), ExpressionAttributeValues: vals,
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, "", wrap("query history", err)
	}
	var items []messageRecord
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
		return nil, "", wrap("unmarshal history", err)
	}
	msgs := make([]*chat.Message, len(items))
	for i := range items {
		msgs[len(items)-1-i] = items[i].Message()
	}
	next := ""
	if res.LastEvaluatedKey != nil {
		if sk, ok := res.LastEvaluatedKey["SK"].(*types.AttributeValueMemberS); ok {
			next = historyCursor(convID, sk.Value)
		}
	}
	return msgs, next, nil
}

// ArchiveExpiry is the archive expiresAt of an item that left the hot table at
// hotExpiresAt (Unix seconds), under p.
func ArchiveExpiry(p retention.Periods, hotExpiresAt int64) int64 {
	return retention.ArchiveExpiresAt(p, time.Unix(hotExpiresAt, 0))
}

// ConversationContact returns the contact of a conversation from the Data table,
// or from the Archive table once it has left it ("" when it is in neither).
func (s *Store) ConversationContact(ctx context.Context, tenantID, convID string) (string, error) {
	for _, table := range []string{s.data, s.archive} {
		res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
			Key: key(ConversationPK(tenantID, convID), SKMeta)})
		if err != nil {
			return "", wrap("get conversation contact", err)
		}
		if res.Item != nil {
			var it conversationItem
			if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
				return "", wrap("unmarshal conversation", err)
			}
			return it.ContactID, nil
		}
	}
	return "", nil
}

// ForgetOpenConversation clears a contact's open conversation when it is convID:
// a conversation that expired is no longer the one the visitor's next message
// goes to (the next message opens a new one).
func (s *Store) ForgetOpenConversation(ctx context.Context, tenantID, contactID, convID string) error {
	open := attrName(chat.Contact{}, "OpenConversationID")
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ContactPK(tenantID, contactID), SKProfile),
		UpdateExpression:          aws.String("REMOVE #open"),
		ConditionExpression:       aws.String("#open = :conv"),
		ExpressionAttributeNames:  map[string]string{"#open": open},
		ExpressionAttributeValues: map[string]types.AttributeValue{":conv": &types.AttributeValueMemberS{Value: convID}},
	})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("forget open conversation", err)
}
