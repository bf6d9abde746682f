package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Each API key has a partition of its own, and the tenant's keys are listed
// in GSI1:
//
//	api key         T#t#APIKEY#<keyId>        KEY                     T#t#APIKEYS / <keyId>                 -
//
// An authentication is one strongly consistent GetItem of the key's own
// partition (1 RCU): the tenant's admin traffic spreads over its keys'
// partitions instead of all landing on one partition key, as it did while
// keys lived in the tenant's partition (T#t#TENANT / APIKEY#<keyId>; keys still
// there are moved on first use, see apikeymove.go). Listing the keys is a
// Query of the index partition, in key id order.

// SKAPIKey is the sort key of an API key in its own partition.
const SKAPIKey = "KEY"

// APIKeyPK is the partition of one API key.
func APIKeyPK(tenantID, keyID string) string { return TenantPrefix(tenantID) + "APIKEY#" + keyID }

// APIKeysIndexKey is the GSI1 partition that lists a tenant's API keys (GSI1SK
// = key id).
func APIKeysIndexKey(tenantID string) string { return TenantPrefix(tenantID) + "APIKEYS" }

// apiKeyRecord is an API key as stored: never the key itself, only the
// SHA-256 hash of it.
type apiKeyRecord struct {
	ID        string     `dynamodbav:"id"`
	TenantID  string     `dynamodbav:"tenantId"`
	Name      string     `dynamodbav:"name"`
	Role      string     `dynamodbav:"role"`
	Prefix    string     `dynamodbav:"prefix"`
	Hash      string     `dynamodbav:"hash"`
	CreatedBy string     `dynamodbav:"createdBy"`
	CreatedAt time.Time  `dynamodbav:"createdAt"`
	RevokedAt *time.Time `dynamodbav:"revokedAt,omitempty"`
}

type apiKeyItem struct {
	Base
	apiKeyRecord
}

// apiKey is the key of the record, of tenant tenantID.
func (r apiKeyRecord) apiKey(tenantID string) *chat.APIKey {
	return &chat.APIKey{ID: r.ID, TenantID: tenantID, Name: r.Name, Role: r.Role, Prefix: r.Prefix,
		Hash: r.Hash, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
}

// APIKeyLifetime is how long a key works: keys are account data of the tenant
// (class personal) and expire after the platform's personal period, so a
// forgotten key does not live for ever. A revoked key's record is kept for the
// technical period, for the audit trail.
func apiKeyExpiry(createdAt time.Time) int64 {
	return retention.ExpiresAt(retention.Defaults, retention.Personal, createdAt)
}

// PutAPIKey stores a new key; it fails if the id is taken.
func (s *Store) PutAPIKey(ctx context.Context, k *chat.APIKey) error {
	item, err := attributevalue.MarshalMap(apiKeyItem{
		Base: Base{PK: APIKeyPK(k.TenantID, k.ID), SK: SKAPIKey,
			GSI1PK: APIKeysIndexKey(k.TenantID), GSI1SK: k.ID,
			DataClass: retention.Personal, Entity: "apiKey", ExpiresAt: apiKeyExpiry(k.CreatedAt)},
		apiKeyRecord: apiKeyRecord{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Role: k.Role, Prefix: k.Prefix,
			Hash: k.Hash, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt},
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
// once; missing, expired or foreign is chat.ErrNotFound. It reads the key's own
// partition only (a key still in the tenant's partition is moved first).
func (s *Store) APIKey(ctx context.Context, tenantID, keyID string) (*chat.APIKey, error) {
	item, err := s.apiKeyItem(ctx, tenantID, keyID)
	if err != nil {
		return nil, wrap("get api key", err)
	}
	if item == nil {
		return nil, chat.ErrNotFound
	}
	var it apiKeyItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, wrap("unmarshal api key", err)
	}
	if !it.Live(s.Now()) {
		return nil, chat.ErrNotFound
	}
	return it.apiKey(tenantID), nil
}

// getItem reads one item strongly consistently; nil if there is none.
func (s *Store) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return res.Item, nil
}

// APIKeys lists one page of a tenant's keys, oldest first (ids are time
// ordered), from cursor ("" for the first page), and returns the cursor of the
// next page ("" at the end). A cursor that is not of this list is
// ErrBadPageCursor. It reads the index partition of the tenant's keys and,
// while keys may still be in the tenant's partition, that partition's keys
// from the same position, and merges the two in id order (apikeymove.go).
func (s *Store) APIKeys(ctx context.Context, tenantID string, limit int, cursor string) ([]chat.APIKey, string, error) {
	l := apiKeyPages(tenantID)
	start, err := l.startKey(cursor)
	if err != nil {
		return nil, "", err
	}
	after := ""
	if g, ok := start["GSI1SK"].(*types.AttributeValueMemberS); ok {
		after = g.Value
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.data, IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :pk"),
		FilterExpression:       aws.String(LiveFilter),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: APIKeysIndexKey(tenantID)}, ":now": s.nowValue(),
		},
		Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start,
	})
	if err != nil {
		return nil, "", wrap("query api keys", err)
	}
	page := keyPage{items: res.Items}
	if g, ok := res.LastEvaluatedKey["GSI1SK"].(*types.AttributeValueMemberS); ok {
		page.more, page.last = true, g.Value
	}
	legacy, err := s.legacyAPIKeyPage(ctx, tenantID, limit, after)
	if err != nil {
		return nil, "", wrap("query api keys", err)
	}
	items, last, err := mergeKeyPages(limit, page, legacy)
	if err != nil {
		return nil, "", wrap("api keys", err)
	}
	next := ""
	if last != "" {
		if next, err = l.cursorAt(last); err != nil {
			return nil, "", wrap("api keys", err)
		}
	}
	out := make([]chat.APIKey, len(items))
	for i, it := range items {
		out[i] = *it.apiKey(tenantID)
	}
	return out, next, nil
}

// keyPage is one page of a Query of keys, in id order: the items it returned
// and, when the Query stopped before the end, the id of the last key it
// evaluated (the next page starts after it).
type keyPage struct {
	items []map[string]types.AttributeValue
	more  bool
	last  string
}

// mergeKeyPages merges pages of keys read from the same position, in id
// order, at most limit: a key in both is taken from the first page that has
// it. It returns the items and the id to start the next page after ("" at the
// end). A page that stopped early bounds the merge: past its last evaluated
// id, only it knows what follows, so the page ends there.
func mergeKeyPages(limit int, pages ...keyPage) ([]apiKeyItem, string, error) {
	byID := map[string]apiKeyItem{}
	bound := ""
	for _, p := range pages {
		var items []apiKeyItem
		if err := attributevalue.UnmarshalListOfMaps(p.items, &items); err != nil {
			return nil, "", err
		}
		for _, it := range items {
			if _, ok := byID[it.ID]; !ok {
				byID[it.ID] = it
			}
		}
		if p.more && (bound == "" || p.last < bound) {
			bound = p.last
		}
	}
	idList := slices.Sorted(maps.Keys(byID))
	var out []apiKeyItem
	for _, id := range idList {
		if bound != "" && id > bound {
			break
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		out = append(out, byID[id])
	}
	return out, bound, nil
}

// ErrLastOwnerKey refuses to revoke the tenant's last active owner key: with
// it gone no key could manage the tenant, and no route of the tenant's own
// could make a new owner key.
var ErrLastOwnerKey = chat.Errorf(chat.EConflict, "the last active owner key cannot be revoked; create another owner key first")

// roleOwner is the role of a key that may manage the tenant (adminapi.RoleOwner).
const roleOwner = "owner"

// revokeAttempts bounds the retries of an owner key's revoke whose witness was
// revoked (or whose transaction collided) between the read and the write.
const revokeAttempts = 5

// RevokeAPIKey marks a live, unrevoked key revoked at at; its record then
// expires after the technical period. A missing, expired, foreign or already
// revoked key is chat.ErrNotFound; the tenant's last active owner key (live,
// unrevoked, role owner) is ErrLastOwnerKey.
//
// A key that is not an owner key is revoked by one conditional update, as
// always. An owner key is revoked only together with a witness: in one
// transaction the key is revoked and another owner key of the tenant is
// checked to be active (unrevoked and not past its expiresAt). DynamoDB
// serializes transactions, so of two owners revoking the last two owner keys at
// once on two instances (each the other's witness) exactly one commits; the
// other's check fails and, read again, finds no witness. Nothing is counted, so
// tenants created before this rule need no migration, and an expired owner key
// never counts as active.
//
// Witnesses are found in the tenant's key list (GSI1, eventually consistent):
// a key the list shows active but that was revoked meanwhile fails the check
// in the transaction, which reads the key itself, so a stale list never lets
// the last owner key go. An owner key created a moment before (before the
// index shows it, usually well under a second) is not found yet: the revoke is
// then refused as if it were the last, and succeeds when tried again.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, p retention.Periods) error {
	now := s.nowValue()
	vals := map[string]types.AttributeValue{
		":at":    &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)},
		":exp":   &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(p, retention.Technical, at))},
		":now":   now,
		":owner": &types.AttributeValueMemberS{Value: roleOwner},
	}
	names := map[string]string{"#role": "role"}
	const revocable = "attribute_exists(PK) AND attribute_not_exists(revokedAt) AND expiresAt > :now"
	var cf *types.ConditionalCheckFailedException
	for moved := false; ; moved = true {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           &s.data,
			Key:                                 key(APIKeyPK(tenantID, keyID), SKAPIKey),
			UpdateExpression:                    aws.String("SET revokedAt = :at, expiresAt = :exp"),
			ConditionExpression:                 aws.String(revocable + " AND #role <> :owner"),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           vals,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if !asCondition(err, &cf) {
			return wrap("revoke api key", err)
		}
		if wroteBefore(cf.Item, map[string]types.AttributeValue{"revokedAt": vals[":at"], "expiresAt": vals[":exp"]}) {
			return nil // the SDK's resend of this revoke
		}
		if cf.Item != nil || moved {
			break
		}
		// Transition: the key may still be in the tenant's partition. Move it,
		// then revoke it at its place.
		item, err := s.apiKeyItem(ctx, tenantID, keyID)
		if err != nil {
			return wrap("revoke api key", err)
		}
		if item == nil {
			return chat.ErrNotFound
		}
	}
	if !s.activeOwnerKey(cf.Item) {
		return chat.ErrNotFound
	}
	// Transition: keys still in the tenant's partition are moved first, so the
	// transaction checks each witness at its one place; the owner keys moved
	// now are tried before the list, which may not show them yet.
	moved, err := s.MoveTenantAPIKeys(ctx, tenantID)
	if err != nil {
		return wrap("revoke owner api key", err)
	}
	for range revokeAttempts {
		witness, err := s.otherActiveOwnerKey(ctx, tenantID, keyID, moved)
		if err != nil {
			return err
		}
		if witness == "" {
			return ErrLastOwnerKey
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: &s.data, Key: key(APIKeyPK(tenantID, keyID), SKAPIKey),
				UpdateExpression:          aws.String("SET revokedAt = :at, expiresAt = :exp"),
				ConditionExpression:       aws.String(revocable + " AND #role = :owner"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: vals,
			}},
			{ConditionCheck: &types.ConditionCheck{
				TableName: &s.data, Key: key(APIKeyPK(tenantID, witness), SKAPIKey),
				ConditionExpression:      aws.String(revocable + " AND #role = :owner"),
				ExpressionAttributeNames: names,
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":now": now, ":owner": vals[":owner"],
				},
			}},
		}})
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return wrap("revoke owner api key", err)
		}
		if len(tc.CancellationReasons) > 0 && aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			// The key itself went meanwhile (revoked by another request, or expired).
			return chat.ErrNotFound
		}
		// The witness went meanwhile, or the transaction collided with another
		// one: read again.
	}
	return chat.Errorf(chat.EConflict, "the tenant's API keys changed during the revoke; try again")
}

// activeOwnerKey reports whether a raw key item is an owner key that works.
func (s *Store) activeOwnerKey(item map[string]types.AttributeValue) bool {
	var it apiKeyItem
	if item == nil || attributevalue.UnmarshalMap(item, &it) != nil {
		return false
	}
	return it.Role == roleOwner && it.RevokedAt == nil && it.ExpiresAt > 0 && it.Live(s.Now())
}

// otherActiveOwnerKey returns the id of an active owner key of the tenant other
// than keyID, or "" if there is none. It reads first the keys of first (owner
// keys just moved, which the index may not show yet) strongly consistently,
// then the tenant's key list in the index, and stops at the first.
func (s *Store) otherActiveOwnerKey(ctx context.Context, tenantID, keyID string, first []string) (string, error) {
	for _, id := range first {
		if id == keyID {
			continue
		}
		item, err := s.getItem(ctx, APIKeyPK(tenantID, id), SKAPIKey)
		if err != nil {
			return "", wrap("get api key", err)
		}
		if s.activeOwnerKey(item) {
			return id, nil
		}
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.data, IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: APIKeysIndexKey(tenantID)},
		},
	})
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return "", wrap("query api keys", err)
		}
		for _, item := range res.Items {
			var it apiKeyItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return "", wrap("unmarshal api key", err)
			}
			if it.ID != keyID && s.activeOwnerKey(item) {
				return it.ID, nil
			}
		}
	}
	return "", nil
}
