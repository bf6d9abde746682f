package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Suppression entries remember, by a salted hash only, the identities of erased
// subjects, so that the same email, visitor (contact) id or channel identity is
// not silently re-created after an erasure (docs/CONTRACT.md, "Privacy rights").
//
//	item                PK                          SK
//	suppression         T#t#SUPPRESS#<hhh>          <kind>#<hmac-sha256 hex>
//	legacy suppression  T#t#SUPPRESS                <kind>#<hmac-sha256 hex>   (before sharding; moved by MigrateSuppressions)
//	migration marker    T#_platform#MIGRATIONS      SUPPRESS-SHARDED           (suppressmigrate.go)
//
// The kinds are chat's: chat.SuppressEmail, SuppressContact, SuppressChannel.
//
// <hhh> is the first three hex digits of the entry's own hmac: a tenant's
// entries are spread over 4,096 partition keys. Every WebSocket $connect,
// widget session, conversation start and archived message checks one entry (a
// strongly consistent GetItem, hit or miss), so with one partition key per
// tenant a big tenant's page loads all read the same partition; by the hash,
// each shard takes 1/4,096 of them. A point read is still one GetItem: the
// hash names the shard, and nothing lists a tenant's shards.
//
// Entries written before sharding sit under the legacy key until the
// retention sweep moves them (MigrateSuppressions); a complete pass that
// starts an hour or more after its first one writes the migration marker.
// Until a store has seen that marker, its checks also read the legacy key and
// its lifts delete there too (suppressmigrate.go).

// ErrNoSubjectKey is returned by the suppression methods of a store that was not
// given the subject hash key (WithSubjectKey).
var ErrNoSubjectKey = errors.New("subject hash key not configured")

// SuppressPK is the partition (shard) of the tenant's suppression entry whose
// hmac is hash: the tenant's suppression prefix and the hash's first three hex
// digits.
func SuppressPK(tenantID, hash string) string {
	return LegacySuppressPK(tenantID) + "#" + hash[:min(suppressShardDigits, len(hash))]
}

// suppressShardDigits is how many hex digits of an entry's hmac name its
// shard: 3, 4,096 shards.
const suppressShardDigits = 3

// LegacySuppressPK is the one partition of a tenant's suppression entries
// before they were sharded: read until the move is done, emptied by
// MigrateSuppressions, never written.
func LegacySuppressPK(tenantID string) string { return TenantPrefix(tenantID) + "SUPPRESS" }

// suppressSK is the sort key of an entry, in either layout.
func suppressSK(kind, hash string) string { return kind + "#" + hash }

// WithSubjectKey returns a copy of s that hashes subject identifiers with key
// (HMAC-SHA256). The key comes from the SUBJECT_HASH_SECRET environment variable.
func (s *Store) WithSubjectKey(key []byte) *Store {
	key = append([]byte(nil), key...)
	return s.WithSubjectKeyFrom(func() ([]byte, error) { return key, nil })
}

// WithSubjectKeyFrom returns a copy of s that asks key for the subject hash key
// each time it hashes (a function's secrets arrive after its cold start).
func (s *Store) WithSubjectKeyFrom(key func() ([]byte, error)) *Store {
	c := *s
	c.subjectKey = key
	return &c
}

// SubjectHash returns the salted hash of one identifier of a subject: HMAC-SHA256
// over tenant, kind and the normalized value, hex encoded. The same identity
// always gives the same hash within a tenant, and nothing else can be read from it.
func (s *Store) SubjectHash(tenantID, kind, value string) (string, error) {
	if s.subjectKey == nil {
		return "", ErrNoSubjectKey
	}
	key, err := s.subjectKey()
	if err != nil {
		return "", err
	}
	if len(key) == 0 {
		return "", ErrNoSubjectKey
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tenantID + "\x00" + kind + "\x00" + normalizeIdentity(kind, value)))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func normalizeIdentity(kind, value string) string {
	v := strings.TrimSpace(value)
	if kind == chat.SuppressEmail {
		v = strings.ToLower(v)
	}
	return v
}

type suppressionItem struct {
	Base
	Kind      string `dynamodbav:"kind"`
	Hash      string `dynamodbav:"hash"`
	RequestID string `dynamodbav:"requestId"`
	CreatedAt string `dynamodbav:"createdAt"`
}

// Suppress records that the identity (kind, value) of a tenant was erased by the
// request. Only the salted hash is stored. Suppressions are compliance records:
// they are kept for the platform's longest personal-data period, whatever the
// tenant chose. Writing the same entry again is no error. It is written to its
// shard only, whether or not a legacy entry exists (MigrateSuppressions then
// keeps this one).
func (s *Store) Suppress(ctx context.Context, tenantID, kind, value, requestID string) error {
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return wrap("suppress", err)
	}
	now := s.Now()
	item, err := attributevalue.MarshalMap(suppressionItem{
		Base: Base{PK: SuppressPK(tenantID, h), SK: suppressSK(kind, h), DataClass: retention.Personal, Entity: "suppression",
			ExpiresAt: retention.ExpiresAt(retention.Maximums, retention.Personal, now)},
		Kind: kind, Hash: h, RequestID: requestID, CreatedAt: TimeKey(now),
	})
	if err != nil {
		return wrap("marshal suppression", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put suppression", err)
}

// IsSuppressed reports whether the identity (kind, value) of the tenant belongs to
// an erased subject. An empty value is never suppressed. Once the store has
// seen the migration marker it is one strongly consistent GetItem of the
// entry's shard; before, the legacy key is read first and the shard only when
// it has no entry. That order matters: MigrateSuppressions moves an entry in
// one transaction (put in its shard, delete of the legacy entry), so a legacy
// entry that is not there was never there, was lifted, or is already in its
// shard for the read that follows; reading the shard first could miss an
// entry moved between the two reads.
func (s *Store) IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error) {
	if strings.TrimSpace(value) == "" {
		return false, nil
	}
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return false, wrap("is suppressed", err)
	}
	var it suppressionItem
	if !s.suppressionsSharded(ctx) {
		ok, err := s.getLive(ctx, LegacySuppressPK(tenantID), suppressSK(kind, h), true, &it)
		if err != nil {
			return false, wrap("get legacy suppression", err)
		}
		if ok {
			return true, nil
		}
	}
	ok, err := s.getLive(ctx, SuppressPK(tenantID, h), suppressSK(kind, h), true, &it)
	if err != nil {
		return false, wrap("get suppression", err)
	}
	return ok, nil
}

// LiftSuppression removes a suppression entry (the tenant lifts it) and reports
// whether there was one. Until the store has seen the migration marker it
// deletes the legacy entry too, that one first: a move that has not happened
// yet then finds no legacy entry and writes nothing, and one that has
// happened left the entry in its shard, which is deleted next.
func (s *Store) LiftSuppression(ctx context.Context, tenantID, kind, value string) (bool, error) {
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return false, wrap("lift suppression", err)
	}
	found := false
	if !s.suppressionsSharded(ctx) {
		res, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.data), Key: key(LegacySuppressPK(tenantID), suppressSK(kind, h)),
			ReturnValues: types.ReturnValueAllOld,
		})
		if err != nil {
			return false, wrap("delete legacy suppression", err)
		}
		found = len(res.Attributes) > 0
	}
	res, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.data), Key: key(SuppressPK(tenantID, h), suppressSK(kind, h)),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return false, wrap("delete suppression", err)
	}
	return found || len(res.Attributes) > 0, nil
}

// SetReingestAfterErasure stores the tenant's choice for erased identities that
// come back (chat.Tenant.ReingestAfterErasure) and returns the tenant.
func (s *Store) SetReingestAfterErasure(ctx context.Context, tenantID, value string) (*chat.Tenant, error) {
	return s.SetPrivacySettings(ctx, tenantID, &value, nil)
}

// SetPrivacySettings sets the tenant's re-ingest choice and analytics consent
// choice, each when given, in one conditional update (the tenant version
// moves, so caches read it again), and returns the tenant. A missing tenant
// is chat.ErrNotFound.
func (s *Store) SetPrivacySettings(ctx context.Context, tenantID string, reingest, consent *string) (*chat.Tenant, error) {
	var set []string
	names, vals := map[string]string{}, map[string]types.AttributeValue{}
	for i, f := range []struct {
		field string
		v     *string
	}{{"ReingestAfterErasure", reingest}, {"AnalyticsConsent", consent}} {
		if f.v == nil {
			continue
		}
		n, v := fmt.Sprintf("#f%d", i), fmt.Sprintf(":v%d", i)
		set = append(set, n+" = "+v)
		names[n] = attrName(chat.Tenant{}, f.field)
		vals[v] = &types.AttributeValueMemberS{Value: *f.v}
	}
	if len(set) == 0 {
		return s.Tenant(ctx, tenantID)
	}
	res, err := s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	}))
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("set privacy settings", err)
	}
	return updatedTenant(res.Attributes)
}
