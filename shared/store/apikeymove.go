package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// The move of API keys out of the tenant's partition (transition code).
//
// Keys used to live next to the tenant profile:
//
//	api key (old)   T#t#TENANT                APIKEY#<keyId>          -                                     -
//
// so every admin request's strongly consistent key read landed on the
// tenant's one partition key. Keys are now written to their own partitions
// (apikey.go); a key still at the old place is moved when it is first needed:
//
//   - authentication (APIKey) reads the new place; only when the key is not
//     there does it read the old one and, if found, move it: one transaction
//     puts the copy (attribute_not_exists(PK)) and deletes the old item under
//     the condition that it is exactly as read, so a revoke written to the old
//     item meanwhile cancels the move (and the key is read again) instead of
//     being lost. From then on the key's requests read its own partition only.
//     The copy keeps every attribute (data class, entity, expiresAt, GSI2 keys
//     if any) and gets the new keys and its GSI1 list entry.
//   - a revoke moves its key first when it is not at the new place, and an
//     owner key's revoke moves all of the tenant's old keys before it looks
//     for a witness, so the transaction always checks keys at their one place.
//   - the list merges the index with the old partition (read only; nothing is
//     moved by a GET).
//
// A key never used, revoked or moved stays at the old place until it expires
// (TTL, at most the personal period). To end the transition, run
// MoveTenantAPIKeys for every tenant of the tenants index once; then this file
// and its callers' fallbacks can go.

// legacyPrefAPIKey starts the sort key of a key in the tenant's partition.
const legacyPrefAPIKey = "APIKEY#"

// moveAttempts bounds the reads and moves of a key that other requests move
// or change at the same time.
const moveAttempts = 3

// apiKeyItem reads a key at its place strongly consistently, moving it there
// first if it is still in the tenant's partition; nil if it is in neither.
// Expired keys are returned (and moved) like any other.
func (s *Store) apiKeyItem(ctx context.Context, tenantID, keyID string) (map[string]types.AttributeValue, error) {
	for range moveAttempts {
		it, err := s.getItem(ctx, APIKeyPK(tenantID, keyID), SKAPIKey)
		if err != nil || it != nil {
			return it, err
		}
		old, err := s.getItem(ctx, TenantPK(tenantID), legacyPrefAPIKey+keyID)
		if err != nil {
			return nil, err
		}
		if old == nil {
			// In neither place, unless another request moved it between the
			// two reads.
			return s.getItem(ctx, APIKeyPK(tenantID, keyID), SKAPIKey)
		}
		moved, ok, err := s.moveAPIKey(ctx, tenantID, old)
		if err != nil || ok {
			return moved, err
		}
		// Another request moved or changed it meanwhile: read again.
	}
	return nil, chat.Errorf(chat.EConflict, "the API key changed while it was read; try again")
}

// moveAPIKey moves one key item read from the tenant's partition to the key's
// own partition, in one transaction (see above). It returns the item as now
// stored and true, or false when the transaction was cancelled: the key is
// already at the new place, or the old item changed or went meanwhile, or
// another transaction collided; the caller reads again.
func (s *Store) moveAPIKey(ctx context.Context, tenantID string, old map[string]types.AttributeValue) (map[string]types.AttributeValue, bool, error) {
	sk, _ := old["SK"].(*types.AttributeValueMemberS)
	if sk == nil || !strings.HasPrefix(sk.Value, legacyPrefAPIKey) {
		return nil, false, chat.Errorf(chat.EInternal, "not an api key item of the tenant's partition")
	}
	keyID := strings.TrimPrefix(sk.Value, legacyPrefAPIKey)
	moved := maps.Clone(old)
	moved["PK"] = &types.AttributeValueMemberS{Value: APIKeyPK(tenantID, keyID)}
	moved["SK"] = &types.AttributeValueMemberS{Value: SKAPIKey}
	moved["GSI1PK"] = &types.AttributeValueMemberS{Value: APIKeysIndexKey(tenantID)}
	moved["GSI1SK"] = &types.AttributeValueMemberS{Value: keyID}
	cond, names, vals := unchangedCondition(old)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.data, Item: moved, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Delete: &types.Delete{TableName: &s.data, Key: key(TenantPK(tenantID), sk.Value),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: vals}},
	}})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("move api key", err)
	}
	return moved, true, nil
}

// unchangedCondition is a condition that holds while an item is exactly as
// read: each of its scalar attributes has the value read, and the attributes a
// change adds to a key (revokedAt, expiresAt) are still absent if they were.
func unchangedCondition(item map[string]types.AttributeValue) (string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{}
	vals := map[string]types.AttributeValue{}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(item)) {
		switch item[k].(type) {
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberBOOL, *types.AttributeValueMemberB:
		default:
			continue
		}
		n := "#a" + itoa(int64(len(names)))
		names[n] = k
		vals[":v"+n[2:]] = item[k]
		parts = append(parts, n+" = :v"+n[2:])
	}
	for _, k := range []string{"revokedAt", "expiresAt"} {
		if _, ok := item[k]; !ok {
			n := "#a" + itoa(int64(len(names)))
			names[n] = k
			parts = append(parts, "attribute_not_exists("+n+")")
		}
	}
	return strings.Join(parts, " AND "), names, vals
}

// MoveTenantAPIKeys moves every key of the tenant still in the tenant's
// partition to its own partition, and returns the ids of the owner keys among
// them (moved now, or found moved or changed by another request meanwhile).
// A tenant whose keys are all moved costs one strongly consistent Query of no
// items.
func (s *Store) MoveTenantAPIKeys(ctx context.Context, tenantID string) ([]string, error) {
	in := s.prefixQuery(TenantPK(tenantID), legacyPrefAPIKey, false)
	in.ConsistentRead = aws.Bool(true)
	var owners []string
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("query old api keys", err)
		}
		for _, item := range res.Items {
			if _, _, err := s.moveAPIKey(ctx, tenantID, item); err != nil {
				return nil, err
			}
			var it apiKeyItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, wrap("unmarshal api key", err)
			}
			if it.Role == roleOwner {
				owners = append(owners, strings.TrimPrefix(it.SK, legacyPrefAPIKey))
			}
		}
	}
	return owners, nil
}

// legacyAPIKeyPage reads one page of the live keys still in the tenant's
// partition, in id order, after the key id after ("" from the start).
func (s *Store) legacyAPIKeyPage(ctx context.Context, tenantID string, limit int, after string) (keyPage, error) {
	in := s.prefixQuery(TenantPK(tenantID), legacyPrefAPIKey, true)
	in.Limit = aws.Int32(int32(limit))
	if after != "" {
		in.ExclusiveStartKey = key(TenantPK(tenantID), legacyPrefAPIKey+after)
	}
	res, err := s.db.Query(ctx, in)
	if err != nil {
		return keyPage{}, err
	}
	page := keyPage{items: res.Items}
	if sk, ok := res.LastEvaluatedKey["SK"].(*types.AttributeValueMemberS); ok {
		page.more, page.last = true, strings.TrimPrefix(sk.Value, legacyPrefAPIKey)
	}
	return page, nil
}
