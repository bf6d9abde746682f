package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
	var items []connectionItem
	if err := s.queryLive(ctx, ContactPK(tenantID, contactID), prefConn, &items); err != nil {
		return nil, wrap("query connections", err)
	}
	out := make([]chat.Connection, len(items))
	for i, it := range items {
		out[i] = it.Connection
		out[i].TenantID = tenantID
	}
	return out, nil
}
