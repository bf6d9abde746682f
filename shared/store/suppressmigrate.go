package store

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
)

// The move of suppression entries from their tenant's one legacy partition
// (T#t#SUPPRESS) to their shards (T#t#SUPPRESS#<hhh>, suppression.go).
//
// The retention sweep moves a tenant's legacy entries on each daily visit
// (MigrateSuppressions: each entry is put in its shard and deleted from the
// legacy partition in one transaction, so it is always in one of the two, and
// moving it twice, or from two runs at once, changes nothing more). Each run
// first notes itself in the migration marker (BeginSuppressMigration: the time
// of the first pass is kept); a run that started at least
// SuppressMigrationSettle after the first pass and moved the entries of every
// tenant records the move as done (FinishSuppressMigration). By then the
// deployment that brought the sharded layout is long finished and the old
// code's last invocations have ended (a function's timeout is at most 15
// minutes), so no legacy entry can appear again; with the daily schedule that
// is the second day's run. A done sweep moves nothing any more.
//
// A store reads the marker at its first suppression check, keeps "done" for
// its lifetime and "not done" for SuppressMarkerRecheck (one eventually
// consistent GetItem per function instance and minute at most); until it knows
// the move is done, IsSuppressed and LiftSuppression also look at the legacy
// key.

// MigrationsPK is the platform partition of data migrations' markers.
const MigrationsPK = "T#" + PlatformID + "#MIGRATIONS"

// SKSuppressSharded is the sort key of the suppression sharding's marker.
const SKSuppressSharded = "SUPPRESS-SHARDED"

// SuppressMarkerRecheck is how long a store trusts a marker that said "not done".
const SuppressMarkerRecheck = time.Minute

// SuppressMigrationSettle is how long after the first pass a complete pass
// must start to record the move as done: old code may still write legacy
// entries while the deployment that brought the sweep finishes.
const SuppressMigrationSettle = time.Hour

// SuppressMigration is the state of the move, as the marker holds it.
type SuppressMigration struct {
	// FirstPassAt is when the first sweep that moves entries began.
	FirstPassAt time.Time
	// Done is set once every entry is in its shard.
	Done bool
}

// migrationItem is the stored marker: technical data, renewed by each sweep.
type migrationItem struct {
	Base
	FirstPassAt time.Time  `dynamodbav:"firstPassAt"`
	DoneAt      *time.Time `dynamodbav:"doneAt,omitempty"`
}

// shardedCache is what a store (and its copies) knows of the marker.
type shardedCache struct {
	mu      sync.Mutex
	done    bool
	checked time.Time // when "not done" was last read (or the read failed)
}

func (c *shardedCache) markDone() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
}

// suppressionsSharded reports whether every suppression entry is known to be
// in its shard. It reads the marker at most once per SuppressMarkerRecheck
// until it says so, and never again after. A failed read counts as "not
// done", which only costs the legacy reads.
func (s *Store) suppressionsSharded(ctx context.Context) bool {
	c := s.sharded
	now := s.Now()
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return true
	}
	if !c.checked.IsZero() && !now.Before(c.checked) && now.Sub(c.checked) < SuppressMarkerRecheck {
		c.mu.Unlock()
		return false
	}
	c.checked = now // the checks while this read runs take "not done"
	c.mu.Unlock()
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.data, Key: key(MigrationsPK, SKSuppressSharded),
		ProjectionExpression: aws.String("doneAt"),
	})
	if err != nil || res.Item["doneAt"] == nil {
		return false
	}
	c.markDone()
	return true
}

// BeginSuppressMigration notes a sweep run in the marker (the first run's time
// is kept, the expiry renewed) and returns the state of the move.
func (s *Store) BeginSuppressMigration(ctx context.Context) (SuppressMigration, error) {
	now := s.Now()
	at, err := attributevalue.Marshal(now)
	if err != nil {
		return SuppressMigration{}, wrap("marshal firstPassAt", err)
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(MigrationsPK, SKSuppressSharded),
		UpdateExpression: aws.String("SET firstPassAt = if_not_exists(firstPassAt, :now), dataClass = :dc, entity = :en, expiresAt = :exp"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": at,
			":dc":  &types.AttributeValueMemberS{Value: string(retention.Technical)},
			":en":  &types.AttributeValueMemberS{Value: "migration"},
			":exp": &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(retention.Maximums, retention.Technical, now))},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return SuppressMigration{}, wrap("begin suppression migration", err)
	}
	var it migrationItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return SuppressMigration{}, wrap("unmarshal migration marker", err)
	}
	m := SuppressMigration{FirstPassAt: it.FirstPassAt, Done: it.DoneAt != nil}
	if m.Done {
		s.sharded.markDone()
	}
	return m, nil
}

// FinishSuppressMigration records in the marker that every suppression entry is
// in its shard. Only the sweep calls it, after a complete pass (see above).
func (s *Store) FinishSuppressMigration(ctx context.Context) error {
	at, err := attributevalue.Marshal(s.Now())
	if err != nil {
		return wrap("marshal doneAt", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(MigrationsPK, SKSuppressSharded),
		UpdateExpression:          aws.String("SET doneAt = if_not_exists(doneAt, :now)"),
		ConditionExpression:       aws.String("attribute_exists(firstPassAt)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": at},
	})
	if err != nil {
		return wrap("finish suppression migration", err)
	}
	s.sharded.markDone()
	return nil
}

// MigrateSuppressions moves the tenant's legacy suppression entries to their
// shards and returns how many it moved (or found just deleted from the legacy
// partition when the shard had it already). Each entry
// is copied with every attribute (expiresAt, dataClass, index attributes) but
// its PK, in one transaction with the delete of the legacy entry: the put
// only if the shard has no entry yet, the delete only if the legacy entry is
// still there. When the shard already has the entry (Suppress wrote it again)
// the legacy one is just deleted; when the legacy one is gone (moved by a
// concurrent run, or lifted) nothing is written. It can be re-run and run
// concurrently; a cancelled context stops it between entries.
func (s *Store) MigrateSuppressions(ctx context.Context, tenantID string) (int, error) {
	moved := 0
	var start map[string]types.AttributeValue
	for {
		res, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.data, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: LegacySuppressPK(tenantID)}},
			ConsistentRead:            aws.Bool(true), ExclusiveStartKey: start, Limit: aws.Int32(100),
		})
		if err != nil {
			return moved, wrap("query legacy suppressions", err)
		}
		for _, it := range res.Items {
			if err := ctx.Err(); err != nil {
				return moved, err
			}
			ok, err := s.moveSuppression(ctx, tenantID, it)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return moved, nil
		}
		start = res.LastEvaluatedKey
	}
}

func conditionFailed(r types.CancellationReason) bool {
	return aws.ToString(r.Code) == "ConditionalCheckFailed"
}

// moveSuppression moves one legacy entry (see MigrateSuppressions) and reports
// whether the move counts as this call's.
func (s *Store) moveSuppression(ctx context.Context, tenantID string, item map[string]types.AttributeValue) (bool, error) {
	sk, _ := item["SK"].(*types.AttributeValueMemberS)
	if sk == nil {
		return false, nil
	}
	_, hash, _ := strings.Cut(sk.Value, "#")
	if len(hash) < 2 {
		return false, nil // not an entry any check could name
	}
	old := key(LegacySuppressPK(tenantID), sk.Value)
	moved := maps.Clone(item)
	moved["PK"] = &types.AttributeValueMemberS{Value: SuppressPK(tenantID, hash)}
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.data, Item: moved, ConditionExpression: aws.String("attribute_not_exists(PK)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Delete: &types.Delete{TableName: &s.data, Key: old, ConditionExpression: aws.String("attribute_exists(PK)")}},
		}})
		if err == nil {
			return true, nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return false, wrap("move suppression", err)
		}
		if r := tc.CancellationReasons; len(r) == 2 && (conditionFailed(r[0]) || conditionFailed(r[1])) {
			if conditionFailed(r[1]) {
				// The legacy entry is gone: lifted, moved by a concurrent run,
				// or moved by this very transaction, whose answer was lost and
				// which the SDK sent again (DynamoDB answers such a retry from
				// its idempotency token; moto does not). A shard holding
				// exactly this copy counts as this call's move, as putNew
				// counts a put (a concurrent run's identical move counts for
				// both).
				return conditionFailed(r[0]) && reflect.DeepEqual(r[0].Item, moved), nil
			}
			// The shard has the entry already (Suppress wrote it again): the
			// legacy one just goes.
			res, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: old, ReturnValues: types.ReturnValueAllOld})
			if err != nil {
				return false, wrap("delete legacy suppression", err)
			}
			return len(res.Attributes) > 0, nil
		}
		if attempt == 5 {
			return false, wrap("move suppression", err)
		}
		// A conflict with another transaction on the same entry (a concurrent
		// move): try again shortly.
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}
