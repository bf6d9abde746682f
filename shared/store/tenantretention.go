package store

import (
	"context"
	"errors"
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

// attrGraceEndsAt is the profile attribute (Unix seconds) of a closed
// account's end of grace: closedAt plus the tenant's closedGraceDays, stamped
// at close so a reopen can be refused by a condition alone.
const attrGraceEndsAt = "graceEndsAt"

// closeAttempts bounds the retries of a close whose tenant changed between
// its read and its conditional write.
const closeAttempts = 5

// CloseTenant closes a tenant account at the store's time: its widget and keys
// stop working, its profile expires after the grace period, and retention-sweep
// deletes everything the account holds (but the compliance records) when that
// period ends. Closing a closed account changes nothing; a missing one is
// chat.ErrNotFound.
//
// The write is conditional on the version read, so a settings change (say a
// shorter closedGraceDays) racing with the close cannot leave a grace end that
// no longer matches the tenant's periods; a lost race is read again.
func (s *Store) CloseTenant(ctx context.Context, tenantID string) error {
	for range closeAttempts {
		rec, err := s.TenantRecord(ctx, tenantID)
		if err != nil {
			return err
		}
		if rec.Expired || rec.Tenant.Status == "closed" {
			return nil
		}
		err = s.closeAt(ctx, &rec.Tenant, s.Now())
		if !isConditionFailed(err) {
			return wrap("close tenant", err)
		}
	}
	return chat.Errorf(chat.EConflict, "the tenant changed while it was being closed; try again")
}

// closeAt writes the close of t (as read) at now, only if the tenant is still
// open and unchanged since.
func (s *Store) closeAt(ctx context.Context, t *chat.Tenant, now time.Time) error {
	at, err := attributevalue.Marshal(&now)
	if err != nil {
		return err
	}
	p := t.Periods()
	set := "SET #st = :closed, #at = :at, " + attrGraceEndsAt + " = :grace"
	vals := map[string]types.AttributeValue{
		":closed": &types.AttributeValueMemberS{Value: "closed"}, ":at": at,
		":grace": &types.AttributeValueMemberN{Value: itoa(retention.GraceEnds(p, now).Unix())},
		":v":     &types.AttributeValueMemberN{Value: itoa(t.Version)},
	}
	if exp := retention.TenantExpiresAt(p, &now, now); exp != 0 {
		set += ", expiresAt = :exp"
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(exp)}
	}
	cond := "attribute_exists(PK) AND #st <> :closed AND "
	if t.Version == 0 {
		cond += "(attribute_not_exists(#version) OR #version = :v)"
	} else {
		cond += "#version = :v"
	}
	_, err = s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(t.ID), SKProfile),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#st": attrName(chat.Tenant{}, "Status"), "#at": attrName(chat.Tenant{}, "ClosedAt")},
		ExpressionAttributeValues: vals,
	}))
	return err
}

// Why a reopen was refused.
var (
	// ErrNotClosed: the account is open.
	ErrNotClosed = chat.Errorf(chat.EConflict, "the account is not closed")
	// ErrGraceOver: the grace period ended; the account's data is being (or
	// was) deleted and it cannot come back.
	ErrGraceOver = chat.Errorf(chat.EConflict, "the account's grace period is over: its data is deleted and it cannot be reopened")
)

// ReopenTenant cancels the close of an account within its grace period: the
// status is active again, closedAt and the grace end are removed and
// expiresAt is an active tenant's (none on legal hold). One conditional
// update decides (closed, grace not over, profile still there, so not
// purged): a reopen racing with a close, another reopen or the purge either
// wins whole or is refused. A missing (or purged) account is
// chat.ErrNotFound; an open one ErrNotClosed; one past its grace ErrGraceOver.
func (s *Store) ReopenTenant(ctx context.Context, tenantID string) error {
	now := s.Now()
	// This reopen's own mark: the SDK's resend of the write after a lost
	// answer finds it and is this reopen, not a reopen of an open account.
	mark := newMark()
	for _, held := range []bool{false, true} {
		old, err := s.reopen(ctx, tenantID, held, now, mark)
		if err == nil {
			return nil
		}
		if !isConditionFailed(err) {
			return wrap("reopen tenant", err)
		}
		if wroteBefore(old, markOf(mark)) {
			return nil
		}
		if why := reopenRefusal(old, now); why != nil {
			return why
		}
		// The hold differs from the one assumed: try the other form.
	}
	return chat.Errorf(chat.EConflict, "the tenant changed while it was being reopened; try again")
}

// reopen writes the reopen of a closed tenant within grace, its legal hold
// as assumed (held: no expiresAt), with the reopen's mark. On a failed
// condition it returns the item as it was.
func (s *Store) reopen(ctx context.Context, tenantID string, held bool, now time.Time, mark types.AttributeValue) (map[string]types.AttributeValue, error) {
	set := "SET #st = :active, " + attrWriteMark + " = :mark REMOVE #at, " + attrGraceEndsAt + ", expiresAt"
	cond := "#st = :closed AND " + attrGraceEndsAt + " > :now AND "
	vals := map[string]types.AttributeValue{
		":active": &types.AttributeValueMemberS{Value: "active"},
		":closed": &types.AttributeValueMemberS{Value: "closed"},
		":now":    &types.AttributeValueMemberN{Value: itoa(now.Unix())},
		":true":   &types.AttributeValueMemberBOOL{Value: true},
		":mark":   mark,
	}
	if held {
		cond += "#h = :true"
	} else {
		set = "SET #st = :active, " + attrWriteMark + " = :mark, expiresAt = :exp REMOVE #at, " + attrGraceEndsAt
		cond += "(attribute_not_exists(#h) OR #h <> :true)"
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(retention.TenantExpiresAt(retention.Periods{}, nil, now))}
	}
	_, err := s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#st": attrName(chat.Tenant{}, "Status"),
			"#at": attrName(chat.Tenant{}, "ClosedAt"), "#h": attrName(chat.Tenant{}, "LegalHold")},
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}))
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return cf.Item, err
	}
	return nil, err
}

// reopenRefusal says why a profile as it was (nil: missing) cannot be
// reopened at now; nil when it can (the hold was not as assumed).
func reopenRefusal(old map[string]types.AttributeValue, now time.Time) error {
	if old == nil {
		return chat.ErrNotFound
	}
	if st, _ := old[attrName(chat.Tenant{}, "Status")].(*types.AttributeValueMemberS); st == nil || st.Value != "closed" {
		return ErrNotClosed
	}
	g, _ := old[attrGraceEndsAt].(*types.AttributeValueMemberN)
	if g == nil {
		return ErrGraceOver // closed before grace ends were stamped: not reopenable by condition
	}
	if end, err := parseInt(g.Value); err != nil || end <= now.Unix() {
		return ErrGraceOver
	}
	return nil
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
