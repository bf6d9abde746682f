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

// sweepState is the stored shape of retention-sweep's bookkeeping for one
// tenant (chat.SweepState), next to the tenant profile (PK T#t#TENANT, SK
// SWEEP). It is technical data, renewed on each visit.
type sweepState struct {
	TenantID    string            `dynamodbav:"tenantId"`
	Applied     retention.Periods `dynamodbav:"applied"`
	Cursor      *sweepCursor      `dynamodbav:"cursor,omitempty"`
	Purged      bool              `dynamodbav:"purged"`
	HoldApplied bool              `dynamodbav:"holdApplied"`
	// SlackStripped: chat.SweepState.SlackStripped.
	SlackStripped bool   `dynamodbav:"slackStripped,omitempty"`
	LeaseOwner    string `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntil    int64  `dynamodbav:"leaseUntil"`
}

// sweepCursor is the stored shape of a chat.SweepCursor: the opaque position
// is kept as the retention index month, shard and key it encodes (a cursor
// stored before sharding has no shard: shard 0, the month's old partition).
type sweepCursor struct {
	Job   string            `dynamodbav:"job"`
	Class retention.Class   `dynamodbav:"class"`
	Month string            `dynamodbav:"month"`
	Shard int               `dynamodbav:"shard,omitempty"`
	After map[string]string `dynamodbav:"after,omitempty"`
}

type sweepStateItem struct {
	Base
	sweepState
}

func (r *sweepState) domain() *chat.SweepState {
	st := &chat.SweepState{TenantID: r.TenantID, Applied: r.Applied, Purged: r.Purged, HoldApplied: r.HoldApplied,
		SlackStripped: r.SlackStripped, LeaseOwner: r.LeaseOwner, LeaseUntil: r.LeaseUntil}
	if c := r.Cursor; c != nil {
		st.Cursor = &chat.SweepCursor{Job: c.Job, Class: c.Class, After: encodeCursor(indexPos{Month: c.Month, Shard: c.Shard, After: c.After})}
	}
	return st
}

func sweepStateOf(st *chat.SweepState) (sweepState, error) {
	r := sweepState{TenantID: st.TenantID, Applied: st.Applied, Purged: st.Purged, HoldApplied: st.HoldApplied,
		SlackStripped: st.SlackStripped, LeaseOwner: st.LeaseOwner, LeaseUntil: st.LeaseUntil}
	if c := st.Cursor; c != nil {
		pos, err := decodeCursor(c.After)
		if err != nil {
			return r, err
		}
		r.Cursor = &sweepCursor{Job: c.Job, Class: c.Class, Month: pos.Month, Shard: pos.Shard, After: pos.After}
	}
	return r, nil
}

// AcquireSweep takes the tenant's sweep lease for owner until until, creating the
// state on the first visit. It returns nil when another sweep holds the lease.
func (s *Store) AcquireSweep(ctx context.Context, tenantID, owner string, until time.Time) (*chat.SweepState, error) {
	now := s.Now()
	lease := map[string]types.AttributeValue{"leaseOwner": str(owner), "leaseUntil": &types.AttributeValueMemberN{Value: itoa(until.Unix())}}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKSweep),
		UpdateExpression:    aws.String("SET leaseOwner = :o, leaseUntil = :u, tenantId = :t, dataClass = :dc, entity = :en, expiresAt = :exp"),
		ConditionExpression: aws.String("attribute_not_exists(leaseUntil) OR leaseUntil < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o":   lease["leaseOwner"],
			":u":   lease["leaseUntil"],
			":t":   &types.AttributeValueMemberS{Value: tenantID},
			":dc":  &types.AttributeValueMemberS{Value: string(retention.Technical)},
			":en":  &types.AttributeValueMemberS{Value: "sweepState"},
			":exp": &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(retention.Maximums, retention.Technical, now))},
			":now": &types.AttributeValueMemberN{Value: itoa(now.Unix())},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	state := map[string]types.AttributeValue(nil)
	var cf *types.ConditionalCheckFailedException
	switch {
	case asCondition(err, &cf) && wroteBefore(cf.Item, lease):
		state = cf.Item // this lease's SDK resend: the state is as the first attempt left it
	case asCondition(err, &cf):
		return nil, nil // another sweep holds the lease
	case err != nil:
		return nil, wrap("acquire sweep lease", err)
	default:
		state = res.Attributes
	}
	var it sweepStateItem
	if err := attributevalue.UnmarshalMap(state, &it); err != nil {
		return nil, wrap("unmarshal sweep state", err)
	}
	return it.domain(), nil
}

// SaveSweep writes the state (a checkpoint, or the end of a visit with the lease
// released when LeaseUntil is 0), only while st.LeaseOwner still holds the lease.
// It returns false when the lease was lost to another sweep.
func (s *Store) SaveSweep(ctx context.Context, st *chat.SweepState) (bool, error) {
	rec, err := sweepStateOf(st)
	if err != nil {
		return false, err
	}
	item, err := attributevalue.MarshalMap(sweepStateItem{
		Base: Base{PK: TenantPK(st.TenantID), SK: SKSweep, DataClass: retention.Technical, Entity: "sweepState",
			ExpiresAt: retention.ExpiresAt(retention.Maximums, retention.Technical, s.Now())},
		sweepState: rec,
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
