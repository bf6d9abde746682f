package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
)

// A channel's shared access token (WeChat's stable_token, X's OAuth 2.0
// user token), next to the integration:
//
//	item     PK            SK                 class
//	token    T#t#CHANNELS  TOKEN#<channel>    personal (as the integration)
//
// The token is kept encrypted by the caller (blob) with its expiry, for the
// integration it belongs to (its webhook id: a reconnect starts afresh). One
// instance at a time refreshes it: it takes the lease (leaseOwner until
// leaseUntil), refreshes, and puts the new token under the condition that
// it still holds the lease; the others wait for the item to change. A
// refresh by two instances would invalidate one's token (a forced WeChat
// stable_token) or lose a rotated refresh token (X).
const prefChannelToken = "TOKEN#"

// ChannelToken is a channel's shared access token as stored.
type ChannelToken struct {
	// Integration is the webhook id of the integration the token is of.
	Integration string `dynamodbav:"integration,omitempty"`
	// Blob is the token, encrypted; empty before the first refresh.
	Blob []byte `dynamodbav:"tokenBlob,omitempty"`
	// Expires is when the access token expires (TimeKey).
	Expires    string `dynamodbav:"tokenExpiresAt,omitempty"`
	LeaseOwner string `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntil string `dynamodbav:"leaseUntil,omitempty"`
}

// ExpiresAt is when the access token expires (zero: none kept).
func (t *ChannelToken) ExpiresAt() time.Time {
	at, _ := time.Parse(timeKey, t.Expires)
	return at
}

// ErrLeaseLost is returned by PutChannelToken when another instance holds
// the lease now (this one's ran out).
var ErrLeaseLost = errors.New("channel token lease lost")

// ChannelTokenOf reads a tenant's shared token of a channel (strongly
// consistent: a waiting instance sees the refresh at once); none is a zero
// ChannelToken.
func (s *Store) ChannelTokenOf(ctx context.Context, tenantID, channel string) (*ChannelToken, error) {
	var it struct {
		Base
		ChannelToken
	}
	if _, err := s.getLive(ctx, ChannelsPK(tenantID), prefChannelToken+channel, true, &it); err != nil {
		return nil, wrap("get channel token", err)
	}
	return &it.ChannelToken, nil
}

// LeaseChannelToken takes the lease of a tenant's channel token for owner
// until until, if no one holds it at now; it reports whether it did.
func (s *Store) LeaseChannelToken(ctx context.Context, tenantID, channel, owner string, now, until time.Time) (bool, error) {
	lease := map[string]types.AttributeValue{"leaseOwner": str(owner), "leaseUntil": str(TimeKey(until))}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefChannelToken+channel),
		UpdateExpression:    aws.String("SET leaseOwner = :o, leaseUntil = :u, dataClass = :c, entity = :e"),
		ConditionExpression: aws.String("attribute_not_exists(leaseUntil) OR leaseUntil < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": lease["leaseOwner"], ":u": lease["leaseUntil"], ":now": str(TimeKey(now)),
			":c": str(string(retention.Personal)), ":e": str("channelToken")},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		return wroteBefore(cf.Item, lease), nil // held by another, or this lease's SDK resend
	}
	return err == nil, wrap("lease channel token", err)
}

// PutChannelToken stores the token owner refreshed and gives up its lease;
// ErrLeaseLost if owner no longer holds it. The item expires with the
// integration's data: a personal period after now.
func (s *Store) PutChannelToken(ctx context.Context, tenantID, channel, owner string, t ChannelToken, now time.Time, p retention.Periods) error {
	set := "SET integration = :i, tokenBlob = :b, tokenExpiresAt = :x REMOVE leaseOwner, leaseUntil"
	vals := map[string]types.AttributeValue{":i": str(t.Integration), ":b": &types.AttributeValueMemberB{Value: t.Blob},
		":x": str(t.Expires), ":o": str(owner)}
	if exp := retention.ExpiresAt(p, retention.Personal, now); exp > 0 {
		set = "SET integration = :i, tokenBlob = :b, tokenExpiresAt = :x, expiresAt = :exp REMOVE leaseOwner, leaseUntil"
		vals[":exp"] = &types.AttributeValueMemberN{Value: itoa(exp)}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefChannelToken+channel),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		// The new token (its sealed blob) is this write's own, and the lease
		// it freed is still free: the first attempt stored it and the SDK
		// resent it.
		_, leased := cf.Item["leaseOwner"]
		if !leased && wroteBefore(cf.Item, map[string]types.AttributeValue{"tokenBlob": vals[":b"], "tokenExpiresAt": vals[":x"]}) {
			return nil
		}
		return ErrLeaseLost
	}
	return wrap("put channel token", err)
}

// ReleaseChannelToken gives up owner's lease without a new token (its
// refresh failed), so another instance may try at once.
func (s *Store) ReleaseChannelToken(ctx context.Context, tenantID, channel, owner string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefChannelToken+channel),
		UpdateExpression: aws.String("REMOVE leaseOwner, leaseUntil"), ConditionExpression: aws.String("leaseOwner = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(owner)}})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("release channel token", err)
}

// deleteChannelToken removes a channel's shared token (with its integration).
func (s *Store) deleteChannelToken(ctx context.Context, tenantID, channel string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefChannelToken+channel)})
	return wrap("delete channel token", err)
}
