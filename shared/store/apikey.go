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

// API keys live in the tenant's partition:
//
//	api key         T#t#TENANT                APIKEY#<keyId>          -                                     -
//
// so an authentication is one GetItem on tenant and key id, and listing them is a
// Query of that partition.
const prefAPIKey = "APIKEY#"

// APIKey is a tenant's admin API key as stored: never the key itself, only the
// SHA-256 hash of it.
type APIKey struct {
	ID        string     `dynamodbav:"id" json:"id"`
	TenantID  string     `dynamodbav:"tenantId" json:"-"`
	Name      string     `dynamodbav:"name" json:"name"`
	Role      string     `dynamodbav:"role" json:"role"`
	Prefix    string     `dynamodbav:"prefix" json:"prefix"`
	Hash      string     `dynamodbav:"hash" json:"-"`
	CreatedBy string     `dynamodbav:"createdBy" json:"createdBy"`
	CreatedAt time.Time  `dynamodbav:"createdAt" json:"createdAt"`
	RevokedAt *time.Time `dynamodbav:"revokedAt,omitempty" json:"revokedAt,omitempty"`
}

type apiKeyItem struct {
	Base
	APIKey
}

// APIKeyLifetime is how long a key works: keys are account data of the tenant
// (class personal) and expire after the platform's personal period, so a
// forgotten key does not live for ever. A revoked key's record is kept for the
// technical period, for the audit trail.
func apiKeyExpiry(createdAt time.Time) int64 {
	return retention.ExpiresAt(retention.Defaults, retention.Personal, createdAt)
}

// PutAPIKey stores a new key; it fails if the id is taken.
func (s *Store) PutAPIKey(ctx context.Context, k *APIKey) error {
	item, err := attributevalue.MarshalMap(apiKeyItem{
		Base: Base{PK: TenantPK(k.TenantID), SK: prefAPIKey + k.ID, DataClass: retention.Personal,
			Entity: "apiKey", ExpiresAt: apiKeyExpiry(k.CreatedAt)},
		APIKey: *k,
	})
	if err != nil {
		return wrap("marshal api key", err)
	}
	created, err := s.putNew(ctx, item)
	if err == nil && !created {
		return chat.Errorf(chat.EConflict, "api key exists")
	}
	return wrap("put api key", err)
}

// APIKey reads a key with a strongly consistent read, so a revoke takes effect at
// once; missing, expired or foreign is chat.ErrNotFound.
func (s *Store) APIKey(ctx context.Context, tenantID, keyID string) (*APIKey, error) {
	var it apiKeyItem
	ok, err := s.getLive(ctx, TenantPK(tenantID), prefAPIKey+keyID, true, &it)
	if err != nil {
		return nil, wrap("get api key", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	it.APIKey.TenantID = tenantID
	return &it.APIKey, nil
}

// APIKeys lists one page of a tenant's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, tenantID string, limit int, start map[string]types.AttributeValue) ([]APIKey, map[string]types.AttributeValue, error) {
	var items []apiKeyItem
	next, err := s.queryPage(ctx, TenantPK(tenantID), prefAPIKey, false, limit, start, &items)
	if err != nil {
		return nil, nil, wrap("query api keys", err)
	}
	out := make([]APIKey, len(items))
	for i, it := range items {
		out[i] = it.APIKey
		out[i].TenantID = tenantID
	}
	return out, next, nil
}

// RevokeAPIKey marks a live, unrevoked key revoked at at; its record then
// expires after the technical period. A missing, expired, foreign or already
// revoked key is chat.ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, p retention.Periods) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.data,
		Key:                 key(TenantPK(tenantID), prefAPIKey+keyID),
		UpdateExpression:    aws.String("SET revokedAt = :at, expiresAt = :exp"),
		ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(revokedAt) AND expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":  &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)},
			":exp": &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(p, retention.Technical, at))},
			":now": s.nowValue(),
		},
	})
	if isConditionFailed(err) {
		return chat.ErrNotFound
	}
	return wrap("revoke api key", err)
}
