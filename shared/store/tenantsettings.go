package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// UpdateTenantSettings changes a tenant's settings in one conditional update and
// returns the tenant as stored after it; a missing tenant is chat.ErrNotFound.
func (s *Store) UpdateTenantSettings(ctx context.Context, tenantID string, u chat.TenantSettings) (*chat.Tenant, error) {
	names := map[string]string{}
	vals := map[string]types.AttributeValue{}
	var sets []string
	set := func(field string, v any) error {
		av, err := attributevalue.Marshal(v)
		if err != nil {
			return err
		}
		n := "#" + field
		names[n], vals[":"+field] = attrName(chat.Tenant{}, field), av
		sets = append(sets, n+" = :"+field)
		return nil
	}
	var err error
	if u.Name != nil {
		err = set("Name", *u.Name)
	}
	if u.AllowedOrigins != nil && err == nil {
		origins := *u.AllowedOrigins
		if origins == nil {
			origins = []string{}
		}
		err = set("AllowedOrigins", origins)
	}
	if u.Retention != nil && err == nil {
		err = set("Retention", *u.Retention)
	}
	if u.RateLimits != nil && err == nil {
		err = set("RateLimits", *u.RateLimits)
	}
	if err != nil {
		return nil, wrap("marshal tenant settings", err)
	}
	if len(sets) == 0 {
		return s.Tenant(ctx, tenantID)
	}
	expr := "SET "
	for i, x := range sets {
		if i > 0 {
			expr += ", "
		}
		expr += x
	}
	res, err := s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		ReturnValues: types.ReturnValueAllNew,
	}))
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("update tenant settings", err)
	}
	return updatedTenant(res.Attributes)
}

// SetInboxShards sets a tenant's inbox shards to n. Shard counts only grow
// (shard.go): a smaller n than the tenant has is chat.EConflict, a missing
// tenant chat.ErrNotFound. The tenant's version moves, so caches of it reload.
func (s *Store) SetInboxShards(ctx context.Context, tenantID string, n int) (*chat.Tenant, error) {
	name := attrName(chat.Tenant{}, "InboxShards")
	res, err := s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression:         aws.String("SET #n = :n"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND (attribute_not_exists(#n) OR #n <= :n)"),
		ExpressionAttributeNames: map[string]string{"#n": name},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": &types.AttributeValueMemberN{Value: itoa(int64(n))},
		},
		ReturnValues: types.ReturnValueAllNew,
	}))
	if isConditionFailed(err) {
		t, gerr := s.Tenant(ctx, tenantID)
		if gerr != nil {
			return nil, gerr
		}
		return nil, chat.Errorf(chat.EConflict, "the tenant has %d inbox shards; shards only grow", InboxShards(t.InboxShards))
	}
	if err != nil {
		return nil, wrap("set inbox shards", err)
	}
	return updatedTenant(res.Attributes)
}

// updatedTenant is the tenant an update of its profile returned (ALL_NEW).
func updatedTenant(item map[string]types.AttributeValue) (*chat.Tenant, error) {
	var it tenantItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, wrap("unmarshal tenant", err)
	}
	return &it.Tenant, nil
}
