package store

import (
	"context"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Base holds the attributes every item has: its keys, its data class and, unless
// it is on legal hold, its expiresAt (Unix seconds, the tables' TTL attribute).
type Base struct {
	PK        string          `dynamodbav:"PK"`
	SK        string          `dynamodbav:"SK"`
	GSI1PK    string          `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK    string          `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK    string          `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK    string          `dynamodbav:"GSI2SK,omitempty"`
	DataClass retention.Class `dynamodbav:"dataClass"`
	ExpiresAt int64           `dynamodbav:"expiresAt,omitempty"`
	Entity    string          `dynamodbav:"entity"`
}

// Live reports whether the item is not past its expiresAt at now.
func (b Base) Live(now time.Time) bool { return !retention.Expired(b.ExpiresAt, now) }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}

// getLive reads one item into out and reports whether it exists and is live.
func (s *Store) getLive(ctx context.Context, pk, sk string, consistent bool, out any) (bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.data,
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil || res.Item == nil {
		return false, err
	}
	if ea, ok := res.Item["expiresAt"].(*types.AttributeValueMemberN); ok {
		var exp int64
		if err := attributevalue.Unmarshal(ea, &exp); err == nil && retention.Expired(exp, s.Now()) {
			return false, nil
		}
	}
	return true, attributevalue.UnmarshalMap(res.Item, out)
}

// LiveFilter is the filter expression that hides expired items from a Query;
// it takes the value :now.
const LiveFilter = "attribute_not_exists(expiresAt) OR expiresAt > :now"

func (s *Store) nowValue() types.AttributeValue {
	return &types.AttributeValueMemberN{Value: itoa(s.Now().Unix())}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// attrWriteMark is the attribute where a write leaves a mark of its own
// (newMark), so that the SDK's resend of the write after a lost answer knows
// the item it finds for its own (wroteBefore), and another write's for
// another's.
const attrWriteMark = "writeMark"

// newMark is a fresh write mark.
func newMark() types.AttributeValue { return str(ids.Secret(12)) }

// markOf is the part of an item that names the write of mark, for wroteBefore.
func markOf(mark types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrWriteMark: mark}
}

// wroteBefore reports whether an item, as a failed condition returned it
// (ALL_OLD), already holds every value of set: the SDK resent a write whose
// first answer was lost (DynamoDB had applied it), and the write is done. The
// values must be this write's own (a lease owner, a time to the nanosecond),
// so that no other write can have left them.
func wroteBefore(item map[string]types.AttributeValue, set map[string]types.AttributeValue) bool {
	if item == nil {
		return false
	}
	for k, v := range set {
		if !reflect.DeepEqual(item[k], v) {
			return false
		}
	}
	return true
}

// claimState records that an install link's OAuth state (the item at base's
// key) was used, once: a second claim returns false. The marker is technical
// data, only needed while the state is valid, so it expires an hour after the
// state at the latest. Each claim writes a mark of its own: the SDK's resend
// of this write after a lost answer finds it and is this claim; a second use
// of the link writes another mark and is refused.
func (s *Store) claimState(ctx context.Context, base Base, stateExpiry time.Time, p retention.Periods) (bool, error) {
	base.DataClass = retention.Technical
	base.ExpiresAt = retention.ExpiresAt(p, retention.Technical, s.Now())
	if e := stateExpiry.Add(time.Hour).Unix(); e < base.ExpiresAt || base.ExpiresAt == 0 {
		base.ExpiresAt = e
	}
	item, err := attributevalue.MarshalMap(base)
	if err != nil {
		return false, wrap("marshal "+base.Entity, err)
	}
	item[attrWriteMark] = newMark()
	fresh, err := s.putNew(ctx, item)
	return fresh, wrap("put "+base.Entity, err)
}

// putNew writes an item that must not exist yet. When the condition fails
// because the item already holds exactly what we write (our own write succeeded
// and the SDK retried it after a lost answer), it is a success; otherwise it
// reports created false.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue) (bool, error) {
	created, _, err := s.putNewOrOld(ctx, item)
	return created, err
}

// putNewOrOld is putNew that also returns the item found instead when it was
// not created (nil if the condition gave none).
func (s *Store) putNewOrOld(ctx context.Context, item map[string]types.AttributeValue) (bool, map[string]types.AttributeValue, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, nil, nil
	}
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		if cf.Item != nil && reflect.DeepEqual(cf.Item, item) {
			return true, nil, nil
		}
		return false, cf.Item, nil
	}
	return false, nil, err
}
