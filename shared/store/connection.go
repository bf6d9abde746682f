package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

type connectionItem struct {
	Base
	chat.Connection
}

// PutConnection records a live WebSocket connection of a visitor, kept for
// retention.ConnectionTTL at most (technical data).
func (s *Store) PutConnection(ctx context.Context, c *chat.Connection) error {
	item, err := attributevalue.MarshalMap(connectionItem{
		Base: Base{PK: ContactPK(c.TenantID, c.ContactID), SK: prefConn + c.ID, DataClass: retention.Technical,
			Entity: "connection", ExpiresAt: c.ConnectedAt.Add(retention.ConnectionTTL).Unix()},
		Connection: *c,
	})
	if err != nil {
		return wrap("marshal connection", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put connection", err)
}

// DeleteConnection removes one connection record; a missing one is no error.
func (s *Store) DeleteConnection(ctx context.Context, tenantID, contactID, connectionID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.data, Key: key(ContactPK(tenantID, contactID), prefConn+connectionID),
	})
	return wrap("delete connection", err)
}

// Connections lists the live connections of a contact, by Query on its partition.
func (s *Store) Connections(ctx context.Context, tenantID, contactID string) ([]chat.Connection, error) {
	var out []chat.Connection
	in := &dynamodb.QueryInput{
		TableName:              &s.data,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :c)"),
		FilterExpression:       aws.String(LiveFilter),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":  &types.AttributeValueMemberS{Value: ContactPK(tenantID, contactID)},
			":c":   &types.AttributeValueMemberS{Value: prefConn},
			":now": s.nowValue(),
		},
	}
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("query connections", err)
		}
		var items []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(res.Items, &items); err != nil {
			return nil, wrap("unmarshal connections", err)
		}
		for _, it := range items {
			it.Connection.TenantID = tenantID
			out = append(out, it.Connection)
		}
	}
	return out, nil
}
