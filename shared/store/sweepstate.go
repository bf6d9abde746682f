package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
)

// SweepState is retention-sweep's bookkeeping for one tenant, stored next to the
// tenant profile (PK T#t#TENANT, SK SWEEP): the periods its items are known to
// be in line with, where an unfinished job stopped, and a lease so two sweeps
// never work on one tenant at once. It is technical data, renewed on each visit.
type SweepState struct {
	TenantID string `dynamodbav:"tenantId"`
	// Applied are the periods existing items are in line with; zero until the
	// first sweep, which then assumes the platform maximums.
	Applied retention.Periods `dynamodbav:"applied"`
	// Cursor is where an unfinished job stopped; nil when none.
	Cursor *SweepCursor `dynamodbav:"cursor,omitempty"`
	// Purged is set once the personal data of a closed account was deleted.
	Purged bool `dynamodbav:"purged"`
	// HoldApplied is whether the items are stripped for a tenant-wide legal hold.
	HoldApplied bool   `dynamodbav:"holdApplied"`
	LeaseOwner  string `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntil  int64  `dynamodbav:"leaseUntil"`
}

// SweepCursor is a checkpoint inside a job: the job, the class and month of the
// retention index partition, and the index position after which to continue.
type SweepCursor struct {
	Job   string            `dynamodbav:"job"`
	Class retention.Class   `dynamodbav:"class"`
	Month string            `dynamodbav:"month"`
	After map[string]string `dynamodbav:"after,omitempty"`
}

type sweepStateItem struct {
	Base
	SweepState
}

// AppliedOrMax returns the applied periods, or the platform maximums before the
// first sweep.
func (st *SweepState) AppliedOrMax() retention.Periods {
	if st.Applied == (retention.Periods{}) {
		return retention.Maximums
	}
	return st.Applied
}

// AcquireSweep takes the tenant's sweep lease for owner until until, creating the
// state on the first visit. It returns nil when another sweep holds the lease.
func (s *Store) AcquireSweep(ctx context.Context, tenantID, owner string, until time.Time) (*SweepState, error) {
	now := s.Now()
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKSweep),
		UpdateExpression:    aws.String("SET leaseOwner = :o, leaseUntil = :u, tenantId = :t, dataClass = :dc, entity = :en, expiresAt = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(leaseUntil) OR leaseUntil < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o":   &types.AttributeValueMemberS{Value: owner},
			":u":   &types.AttributeValueMemberN{Value: itoa(until.Unix())},
			":t":   &types.AttributeValueMemberS{Value: tenantID},
			":dc":  &types.AttributeValueMemberS{Value: string(retention.Technical)},
			":en":  &types.AttributeValueMemberS{Value: "sweepState"},
			":exp": &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(retention.Maximums, retention.Technical, now))},
			":now": &types.AttributeValueMemberN{Value: itoa(now.Unix())},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("acquire sweep lease", err)
	}
	var it sweepStateItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return nil, wrap("unmarshal sweep state", err)
	}
	return &it.SweepState, nil
}

// SaveSweep writes the state (a checkpoint, or the end of a visit with the lease
// released when LeaseUntil is 0), only while st.LeaseOwner still holds the lease.
// It returns false when the lease was lost to another sweep.
func (s *Store) SaveSweep(ctx context.Context, st *SweepState) (bool, error) {
	item, err := attributevalue.MarshalMap(sweepStateItem{
		Base: Base{PK: TenantPK(st.TenantID), SK: SKSweep, DataClass: retention.Technical, Entity: "sweepState",
			ExpiresAt: retention.ExpiresAt(retention.Maximums, retention.Technical, s.Now())},
		SweepState: *st,
	})
	if err != nil {
		return false, wrap("marshal sweep state", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression:       aws.String("leaseOwner = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: st.LeaseOwner}}})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("save sweep state", err)
}
