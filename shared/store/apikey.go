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

// API keys live in the tenant's partition:
//
//	api key         T#t#TENANT                APIKEY#<keyId>          -                                     -
//
// so an authentication is one GetItem on tenant and key id, and listing them is a
// Query of that partition.
const prefAPIKey = "APIKEY#"

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
		Base: Base{PK: TenantPK(k.TenantID), SK: prefAPIKey + k.ID, DataClass: retention.Personal,
			Entity: "apiKey", ExpiresAt: apiKeyExpiry(k.CreatedAt)},
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
// once; missing, expired or foreign is chat.ErrNotFound.
func (s *Store) APIKey(ctx context.Context, tenantID, keyID string) (*chat.APIKey, error) {
	var it apiKeyItem
	ok, err := s.getLive(ctx, TenantPK(tenantID), prefAPIKey+keyID, true, &it)
	if err != nil {
		return nil, wrap("get api key", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return it.apiKey(tenantID), nil
}

// APIKeys lists one page of a tenant's keys, oldest first, from cursor (""
// for the first page), and returns the cursor of the next page ("" at the
// end). A cursor that is not of this list is ErrBadPageCursor.
func (s *Store) APIKeys(ctx context.Context, tenantID string, limit int, cursor string) ([]chat.APIKey, string, error) {
	l := apiKeyPages(tenantID)
	start, err := l.startKey(cursor)
	if err != nil {
		return nil, "", err
	}
	var items []apiKeyItem
	lek, err := s.queryPage(ctx, TenantPK(tenantID), prefAPIKey, false, limit, start, &items)
	if err != nil {
		return nil, "", wrap("query api keys", err)
	}
	next, err := l.cursor(lek)
	if err != nil {
		return nil, "", wrap("api keys", err)
	}
	out := make([]chat.APIKey, len(items))
	for i, it := range items {
		out[i] = *it.apiKey(tenantID)
	}
	return out, next, nil
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
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.data,
		Key:                                 key(TenantPK(tenantID), prefAPIKey+keyID),
		UpdateExpression:                    aws.String("SET revokedAt = :at, expiresAt = :exp"),
		ConditionExpression:                 aws.String(revocable + " AND #role <> :owner"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if !asCondition(err, &cf) {
		return wrap("revoke api key", err)
	}
	if !s.activeOwnerKey(cf.Item) {
		return chat.ErrNotFound
	}
	for range revokeAttempts {
		witness, err := s.otherActiveOwnerKey(ctx, tenantID, keyID)
		if err != nil {
			return err
		}
		if witness == "" {
			return ErrLastOwnerKey
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: &s.data, Key: key(TenantPK(tenantID), prefAPIKey+keyID),
				UpdateExpression:          aws.String("SET revokedAt = :at, expiresAt = :exp"),
				ConditionExpression:       aws.String(revocable + " AND #role = :owner"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: vals,
			}},
			{ConditionCheck: &types.ConditionCheck{
				TableName: &s.data, Key: key(TenantPK(tenantID), prefAPIKey+witness),
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
// than keyID, or "" if there is none. It reads the tenant's keys strongly
// consistently (an owner key created just before counts) and stops at the first.
func (s *Store) otherActiveOwnerKey(ctx context.Context, tenantID, keyID string) (string, error) {
	in := s.prefixQuery(TenantPK(tenantID), prefAPIKey, true)
	in.ConsistentRead = aws.Bool(true)
	p := dynamodb.NewQueryPaginator(s.db, in)
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
