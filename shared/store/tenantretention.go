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

// PlatformID is the pseudo-tenant of the platform's own bookkeeping partitions.
// Tenant ids come from shared/ids and never contain '_', so it cannot collide.
const PlatformID = "_platform"

// tenantsKey is the GSI2 partition that lists every tenant profile (the tenants
// index): retention-sweep reads it with a Query to visit each tenant once a day,
// at a cost that grows with the number of tenants, never with their items.
func tenantsKey() string { return TenantPrefix(PlatformID) + "TENANTS" }

// SKSweep is the sort key of a tenant's retention-sweep state, next to its profile.
const SKSweep = "SWEEP"

// tenantBase returns the keys and retention attributes of a tenant profile: it
// is personal data that lives while the account is active (renewed daily by the
// sweep) and for the grace period after it closes, and is listed in the tenants
// index.
func tenantBase(t *chat.Tenant, now time.Time) Base {
	return Base{
		PK: TenantPK(t.ID), SK: SKProfile, DataClass: retention.Personal, Entity: "tenant",
		GSI2PK: tenantsKey(), GSI2SK: t.ID,
		ExpiresAt: retention.TenantExpiresAt(t.Periods(), t.ClosedAt, now),
	}
}

// TenantRecord reads a tenant profile even when it is past its expiresAt (a
// closed account at the end of its grace period still needs its personal data
// purged). A missing one is chat.ErrNotFound.
func (s *Store) TenantRecord(ctx context.Context, tenantID string) (*chat.TenantRecord, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, wrap("get tenant "+tenantID, err)
	}
	if res.Item == nil {
		return nil, chat.ErrNotFound
	}
	var it tenantItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return nil, wrap("unmarshal tenant", err)
	}
	return &chat.TenantRecord{Tenant: it.Tenant, ExpiresAt: it.ExpiresAt, Expired: !it.Live(s.Now())}, nil
}

// TenantIDs lists the tenants of the tenants index, a page at a time: it returns
// up to limit ids after the id start ("" for the first page) and whether more follow.
func (s *Store) TenantIDs(ctx context.Context, start string, limit int) ([]string, bool, error) {
	vals := map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tenantsKey()}}
	cond := "GSI2PK = :pk"
	if start != "" {
		cond += " AND GSI2SK > :start"
		vals[":start"] = &types.AttributeValueMemberS{Value: start}
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.data, IndexName: aws.String("GSI2"),
		KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
		ProjectionExpression: aws.String("GSI2SK"), Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, false, wrap("query tenants index", err)
	}
	out := make([]string, 0, len(res.Items))
	for _, it := range res.Items {
		if v, ok := it["GSI2SK"].(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out, res.LastEvaluatedKey != nil, nil
}

// RenewTenant moves an active tenant's expiresAt forward (the account is alive).
// Closed or held tenants are left alone.
func (s *Store) RenewTenant(ctx context.Context, tenantID string) error {
	now := s.Now()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression:         aws.String("SET expiresAt = :exp"),
		ConditionExpression:      aws.String("attribute_exists(expiresAt) AND expiresAt < :exp AND #st <> :closed"),
		ExpressionAttributeNames: map[string]string{"#st": attrName(chat.Tenant{}, "Status")},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":exp":    &types.AttributeValueMemberN{Value: itoa(retention.TenantExpiresAt(retention.Periods{}, nil, now))},
			":closed": &types.AttributeValueMemberS{Value: "closed"},
		},
	})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("renew tenant", err)
}

// CloseTenant closes a tenant account at the store's time: its widget stops
// working, its profile expires after the grace period, and retention-sweep
// deletes the personal data of its contacts when that period ends.
func (s *Store) CloseTenant(ctx context.Context, tenantID string) error {
	rec, err := s.TenantRecord(ctx, tenantID)
	if err != nil {
		return err
	}
	if rec.Expired || rec.Tenant.Status == "closed" {
		return nil
	}
	now := s.Now()
	t := rec.Tenant
	t.ClosedAt = &now
	set := "SET #st = :closed, #at = :at"
	at, err := attributevalue.Marshal(&now)
	if err != nil {
		return wrap("marshal closedAt", err)
	}
	vals := map[string]types.AttributeValue{":closed": &types.AttributeValueMemberS{Value: "closed"}, ":at": at}
	if exp := retention.TenantExpiresAt(t.Periods(), &now, now); exp != 0 {
		set += ", expiresAt = :exp"
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(exp)}
	}
	_, err = s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: map[string]string{"#st": attrName(chat.Tenant{}, "Status"), "#at": attrName(chat.Tenant{}, "ClosedAt")}, ExpressionAttributeValues: vals,
	}))
	return wrap("close tenant", err)
}

// DeleteClosedTenant deletes the profile of a closed account (not one on legal
// hold) once retention-sweep has purged its personal data; it reports whether it
// deleted.
func (s *Store) DeleteClosedTenant(ctx context.Context, tenantID string) (bool, error) {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		ConditionExpression:      aws.String("#st = :closed AND attribute_exists(expiresAt)"),
		ExpressionAttributeNames: map[string]string{"#st": attrName(chat.Tenant{}, "Status")},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":closed": &types.AttributeValueMemberS{Value: "closed"},
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("delete closed tenant", err)
}
