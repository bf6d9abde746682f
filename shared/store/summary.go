package store

import (
	"context"
	"errors"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// A conversation's summary is what the inbox shows of it besides its own item:
// the start of its last message and how many visitor messages no agent has
// answered or read. It is an item of the conversation's partition that no
// index projects, so keeping it current costs one write per message (the
// conversation's own item is in the inbox index, where every change is a
// second write):
//
//	summary   T#t#CONV#v   SUMMARY
//
// It lives and goes with the conversation's partition (legal hold, erasure,
// export, account purge) and expires with its last message; the archive skips
// it, since it only repeats that message.
const (
	SKSummary     = "SUMMARY"
	EntitySummary = "conversationSummary"
)

// Summary is a conversation's summary.
type Summary struct {
	LastMessage *chat.MessagePreview `dynamodbav:"lastMessage"`
	Unread      int                  `dynamodbav:"unread"`
	// LastSK is the sort key of the last message: a message is recorded only
	// if it sorts after it, so a redelivered one is not counted twice.
	LastSK string `dynamodbav:"lastSK"`
}

// RecordLastMessage records m as its conversation's last message, unless a
// message that sorts after it (or m itself) is recorded already: a visitor
// message adds one to the unread count, an agent's reply sets it back to 0.
// It returns the summary afterwards (or as it stands, when m was not newer).
// Its expiry is m's (KeepUntil), except that a summary under legal hold (one
// without expiresAt) stays without one.
func (s *Store) RecordLastMessage(ctx context.Context, m *chat.Message) (*Summary, error) {
	lm, err := attributevalue.Marshal(chat.PreviewOf(m))
	if err != nil {
		return nil, wrap("marshal preview", err)
	}
	vals := map[string]types.AttributeValue{
		":lm": lm, ":sk": str(MessageSK(m.CreatedAt, m.ID)),
		":dc": str(string(retention.Communication)), ":en": str(EntitySummary),
		":zero": &types.AttributeValueMemberN{Value: "0"},
	}
	set := "SET lastMessage = :lm, lastSK = :sk, dataClass = :dc, entity = :en"
	switch m.Author.Kind {
	case chat.AuthorVisitor:
		set += ", unread = if_not_exists(unread, :zero) + :one"
		vals[":one"] = &types.AttributeValueMemberN{Value: "1"}
	case chat.AuthorAgent:
		set += ", unread = :zero"
	default:
		set += ", unread = if_not_exists(unread, :zero)"
	}
	newer := "(attribute_not_exists(lastSK) OR lastSK < :sk)"
	in := &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(ConversationPK(m.TenantID, m.ConversationID), SKSummary),
		ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
	if m.KeepUntil.IsZero() {
		// Written under a tenant-wide legal hold: no end.
		in.UpdateExpression, in.ConditionExpression = aws.String(set+" REMOVE expiresAt"), aws.String(newer)
	} else {
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(m.KeepUntil.Unix())}
		in.UpdateExpression = aws.String(set + ", expiresAt = :exp")
		in.ConditionExpression = aws.String(newer + " AND (attribute_not_exists(PK) OR attribute_exists(expiresAt))")
	}
	in.ExpressionAttributeValues = vals
	res, err := s.db.UpdateItem(ctx, in)
	if err == nil {
		return summaryOf(res.Attributes)
	}
	var cf *types.ConditionalCheckFailedException
	if !asCondition(err, &cf) {
		return nil, wrap("record last message", err)
	}
	old := cf.Item
	if _, hasExp := old["expiresAt"]; hasExp || !lessSK(old, MessageSK(m.CreatedAt, m.ID)) {
		return summaryOf(old) // m, or a later message, is recorded already
	}
	// Held (no expiresAt) and m is newer: record it and stay held.
	delete(vals, ":exp")
	in.UpdateExpression, in.ConditionExpression = aws.String(set), aws.String(newer+" AND attribute_not_exists(expiresAt)")
	res, err = s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return s.summary(ctx, m.TenantID, m.ConversationID)
	}
	if err != nil {
		return nil, wrap("record last message", err)
	}
	return summaryOf(res.Attributes)
}

// lessSK reports whether the summary item records a message sorting before sk.
func lessSK(item map[string]types.AttributeValue, sk string) bool {
	v, ok := item["lastSK"].(*types.AttributeValueMemberS)
	return item != nil && (!ok || v.Value < sk)
}

func summaryOf(item map[string]types.AttributeValue) (*Summary, error) {
	var sum Summary
	if item == nil {
		return &sum, nil
	}
	if err := attributevalue.UnmarshalMap(item, &sum); err != nil {
		return nil, wrap("unmarshal summary", err)
	}
	return &sum, nil
}

func (s *Store) summary(ctx context.Context, tenantID, convID string) (*Summary, error) {
	var sum Summary
	if _, err := s.getLive(ctx, ConversationPK(tenantID, convID), SKSummary, true, &sum); err != nil {
		return nil, wrap("get summary", err)
	}
	return &sum, nil
}

// MarkConversationRead sets a conversation's unread count back to 0; a
// conversation without a summary has nothing unread.
func (s *Store) MarkConversationRead(ctx context.Context, tenantID, convID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(ConversationPK(tenantID, convID), SKSummary),
		UpdateExpression:          aws.String("SET unread = :zero"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": &types.AttributeValueMemberN{Value: "0"}},
	})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("mark conversation read", err)
}

// WithSummaries fills in the last message and unread count of conversations
// of one tenant, by BatchGetItem of their summaries (100 at a time).
func (s *Store) WithSummaries(ctx context.Context, tenantID string, cvs []chat.Conversation) error {
	byPK := map[string]int{}
	var keys []map[string]types.AttributeValue
	for i, cv := range cvs {
		pk := ConversationPK(tenantID, cv.ID)
		byPK[pk] = i
		keys = append(keys, key(pk, SKSummary))
	}
	now := s.Now()
	for len(keys) > 0 {
		n := min(len(keys), 100)
		req := map[string]types.KeysAndAttributes{s.data: {Keys: keys[:n]}}
		keys = keys[n:]
		for tries := 0; len(req) > 0; tries++ {
			if tries == 5 {
				return wrap("get summaries", errors.New("unprocessed keys after 5 tries"))
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return wrap("get summaries", err)
			}
			for _, it := range res.Responses[s.data] {
				var sum struct {
					Base
					Summary
				}
				if err := attributevalue.UnmarshalMap(it, &sum); err != nil {
					return wrap("unmarshal summary", err)
				}
				if i, ok := byPK[sum.PK]; ok && sum.Live(now) {
					cvs[i].LastMessage, cvs[i].Unread = sum.LastMessage, sum.Unread
				}
			}
			req = maps.Clone(res.UnprocessedKeys)
			if len(req) > 0 {
				conflictPause()
			}
		}
	}
	return nil
}
