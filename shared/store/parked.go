package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// A parked delivery is a message that a destination with its own retries (the
// Slack thread) did not take, waiting for dispatch's retry run. It names the
// message by key and holds no message text.
//
//	item             PK                       SK                    GSI1PK / GSI1SK
//	parked delivery  T#t#PARKED#<destination>  <convId>#<message SK>  T#_platform#PARKED#<destination>[#n] / <tenantId>#<convId>#<message SK>
//
// The tenant's partition answers "does this tenant have parked deliveries?"
// with one strongly consistent read; the index lists every tenant's, in tenant,
// conversation and message order within each of its ParkedShards shards (a
// tenant's deliveries all in the shard of its id), for the retry run. When a
// destination is down for every tenant at once, every Slack tenant's visitor
// messages park: one index partition would take them all (docs/SCALE.md).

// parkedRecord is the stored form of a chat.ParkedDelivery.
type parkedRecord struct {
	Destination    string    `dynamodbav:"destination"`
	TenantID       string    `dynamodbav:"tenantId"`
	ConversationID string    `dynamodbav:"conversationId"`
	MessageSK      string    `dynamodbav:"messageSk"`
	ParkedAt       time.Time `dynamodbav:"parkedAt"`
}

type parkedItem struct {
	Base
	parkedRecord
}

// ParkedPK is the partition of a tenant's parked deliveries to a destination.
func ParkedPK(tenantID, destination string) string {
	return TenantPrefix(tenantID) + "PARKED#" + destination
}

// ParkedShards is the number of shards of the parked deliveries' index.
const ParkedShards = 256

// ParkedIndexKey is the GSI1 partition of a tenant's parked deliveries to a
// destination: the tenant's shard of the index of every tenant's.
func ParkedIndexKey(destination, tenantID string) string {
	return ShardKey(parkedIndexBase(destination), Shard(tenantID, ParkedShards))
}

// parkedIndexBase is shard 0 of the parked deliveries' index: its key before
// sharding, so deliveries parked then are still listed.
func parkedIndexBase(destination string) string {
	return TenantPrefix(PlatformID) + "PARKED#" + destination
}

// ParkDelivery parks the delivery of m to destination. Parking it again keeps
// the first one (and its time). Its expiresAt (technical data) only bounds a
// delivery nothing retries any more: the retry run gives up long before.
func (s *Store) ParkDelivery(ctx context.Context, destination string, m *chat.Message, p retention.Periods) error {
	now := s.Now()
	sk := m.ConversationID + "#" + MessageSK(m.CreatedAt, m.ID)
	item, err := attributevalue.MarshalMap(parkedItem{
		Base: Base{PK: ParkedPK(m.TenantID, destination), SK: sk, GSI1PK: ParkedIndexKey(destination, m.TenantID), GSI1SK: m.TenantID + "#" + sk,
			DataClass: retention.Technical, Entity: "parkedDelivery", ExpiresAt: retention.ExpiresAt(p, retention.Technical, now)},
		parkedRecord: parkedRecord{Destination: destination, TenantID: m.TenantID, ConversationID: m.ConversationID,
			MessageSK: MessageSK(m.CreatedAt, m.ID), ParkedAt: now.UTC()},
	})
	if err != nil {
		return wrap("marshal parked delivery", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("park delivery", err)
}

// HasParkedDeliveries reports whether the tenant has deliveries to destination
// parked (one strongly consistent Query of at most one item).
func (s *Store) HasParkedDeliveries(ctx context.Context, tenantID, destination string) (bool, error) {
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.data, KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: ParkedPK(tenantID, destination)}},
		ConsistentRead:            aws.Bool(true), Limit: aws.Int32(1),
	})
	if err != nil {
		return false, wrap("query parked deliveries", err)
	}
	return len(res.Items) > 0, nil
}

// ParkedDeliveries calls fn for every parked delivery to destination, shard
// after shard of the index, each by tenant, conversation and message (a
// tenant's deliveries are all in one shard, so each tenant's come together and
// in order), until fn returns false. The index is eventually consistent: a
// delivery parked a moment ago may show on the next call, and one removed a
// moment ago may still show. An idle run reads each shard once (0.5 RCU each).
func (s *Store) ParkedDeliveries(ctx context.Context, destination string, fn func(chat.ParkedDelivery) bool) error {
	for _, pk := range shardKeys(parkedIndexBase(destination), ParkedShards) {
		more, err := s.parkedShard(ctx, pk, fn)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// parkedShard calls fn for the parked deliveries of one index shard; false
// once fn stopped.
func (s *Store) parkedShard(ctx context.Context, pk string, fn func(chat.ParkedDelivery) bool) (bool, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.data, IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return false, wrap("list parked deliveries", err)
		}
		var items []parkedItem
		if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
			return false, wrap("unmarshal parked deliveries", err)
		}
		for _, it := range items {
			if !fn(chat.ParkedDelivery(it.parkedRecord)) {
				return false, nil
			}
		}
	}
	return true, nil
}

// UnparkDelivery removes a parked delivery (gone already is no error).
func (s *Store) UnparkDelivery(ctx context.Context, d chat.ParkedDelivery) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data,
		Key: key(ParkedPK(d.TenantID, d.Destination), d.ConversationID+"#"+d.MessageSK)})
	return wrap("unpark delivery", err)
}

// ParkedMessage reads the message a parked delivery names; a message that is
// gone (erased, expired) is chat.ErrNotFound.
func (s *Store) ParkedMessage(ctx context.Context, d chat.ParkedDelivery) (*chat.Message, error) {
	if !validMessageSK(d.MessageSK) {
		return nil, chat.ErrNotFound
	}
	var it messageRecord
	ok, err := s.getLive(ctx, ConversationPK(d.TenantID, d.ConversationID), d.MessageSK, false, &it)
	if err != nil {
		return nil, wrap("get parked message", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return it.Message(), nil
}
