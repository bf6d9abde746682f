package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
//	item         PK                  SK
//	suppression  T#t#SUPPRESS        <kind>#<hmac-sha256 hex>
//
// The kinds are chat's: chat.SuppressEmail, SuppressContact, SuppressChannel.

// ErrNoSubjectKey is returned by the suppression methods of a store that was not
// given the subject hash key (WithSubjectKey).
var ErrNoSubjectKey = errors.New("subject hash key not configured")

// SuppressPK is the partition of a tenant's suppression entries.
func SuppressPK(tenantID string) string { return TenantPrefix(tenantID) + "SUPPRESS" }

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
// tenant chose. Writing the same entry again is no error.
func (s *Store) Suppress(ctx context.Context, tenantID, kind, value, requestID string) error {
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return wrap("suppress", err)
	}
	now := s.Now()
	item, err := attributevalue.MarshalMap(suppressionItem{
		Base: Base{PK: SuppressPK(tenantID), SK: kind + "#" + h, DataClass: retention.Personal, Entity: "suppression",
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
// an erased subject. An empty value is never suppressed.
func (s *Store) IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error) {
	if strings.TrimSpace(value) == "" {
		return false, nil
	}
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return false, wrap("is suppressed", err)
	}
	var it suppressionItem
	ok, err := s.getLive(ctx, SuppressPK(tenantID), kind+"#"+h, true, &it)
	if err != nil {
		return false, wrap("get suppression", err)
	}
	return ok, nil
}

// LiftSuppression removes a suppression entry (the tenant lifts it) and reports
// whether there was one.
func (s *Store) LiftSuppression(ctx context.Context, tenantID, kind, value string) (bool, error) {
	h, err := s.SubjectHash(tenantID, kind, value)
	if err != nil {
		return false, wrap("lift suppression", err)
	}
	res, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.data), Key: key(SuppressPK(tenantID), kind+"#"+h),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return false, wrap("delete suppression", err)
	}
	return len(res.Attributes) > 0, nil
}

// SetReingestAfterErasure stores the tenant's choice for erased identities that
// come back (chat.Tenant.ReingestAfterErasure) and returns the tenant.
func (s *Store) SetReingestAfterErasure(ctx context.Context, tenantID, value string) (*chat.Tenant, error) {
	res, err := s.db.UpdateItem(ctx, versioned(&dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(TenantPK(tenantID), SKProfile),
		UpdateExpression:          aws.String("SET #r = :v"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#r": attrName(chat.Tenant{}, "ReingestAfterErasure")},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}},
		ReturnValues:              types.ReturnValueAllNew,
	}))
	if isConditionFailed(err) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, wrap("set reingest after erasure", err)
	}
	var it tenantItem
	if err := attributevalue.UnmarshalMap(res.Attributes, &it); err != nil {
		return nil, wrap("unmarshal tenant", err)
	}
	return &it.Tenant, nil
}
