package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/retention"
)

// Rate-limit counters (shared/ratelimit) are items of their own partition per
// subject, one item per (bucket, fixed window):
//
//	PK T#t#RATE#<subject>   SK <bucket>#<window ms>#<window index>   n, expiresAt
//
// A subject is a visitor (V#<visitorId>), an agent (A#<agentId>), an admin API key (K#<keyId>, the
// operator's under the platform pseudo-tenant) or a network (N#<prefix>). The
// window length is part of the sort key, so a changed limit never shares a
// counter with the old one.

// VisitorRateSubject is the rate-limit subject of a widget visitor.
func VisitorRateSubject(visitorID string) string { return "V#" + visitorID }

// AgentRateSubject is the rate-limit subject of an agent's console frames.
func AgentRateSubject(agentID string) string { return "A#" + agentID }

// KeyRateSubject is the rate-limit subject of an admin API key.
func KeyRateSubject(keyID string) string { return "K#" + keyID }

// NetworkRateSubject is the rate-limit subject of a client network, e.g.
// "203.0.113.0/24".
func NetworkRateSubject(prefix string) string { return "N#" + prefix }

// RatePK is the partition of a subject's rate-limit counters.
func RatePK(tenantID, subject string) string { return TenantPrefix(tenantID) + "RATE#" + subject }

// isRatePK reports whether pk is a partition of rate-limit counters.
func isRatePK(pk string) bool {
	t := TenantOfKey(pk)
	return t != "" && strings.HasPrefix(pk, TenantPrefix(t)+"RATE#")
}

// rateSK is the sort key of a bucket's counter for the window of that length
// and index (the window starts at index x length after the Unix epoch).
func rateSK(bucket string, window time.Duration, index int64) string {
	return bucket + "#" + strconv.FormatInt(window.Milliseconds(), 10) + "#" + strconv.FormatInt(index, 10)
}

// RateCounter names one fixed-window counter: a subject's count of a bucket in
// one window. It is opaque outside store and comparable, so it can key a map
// (the limiter's memory of full windows).
type RateCounter struct {
	table, pk, sk string
}

// RateCounter returns the counter of a tenant's subject in a bucket for the
// window of that length and index (the window starts at index x length after
// the Unix epoch).
func (s *Store) RateCounter(tenantID, subject, bucket string, window time.Duration, index int64) RateCounter {
	return RateCounter{table: s.data, pk: RatePK(tenantID, subject), sk: rateSK(bucket, window, index)}
}

// rateSlack keeps a counter a little past its window, so a clock that lags
// another instance's by less never meets a vanished counter it still counts in.
const rateSlack = time.Minute

// TakeRate counts one request in a fixed-window counter unless it already
// holds limit: one conditional UpdateItem, atomic across every Lambda
// instance. It reports whether the request was counted. The item is technical
// data and carries an expiresAt just past its window, so DynamoDB's TTL
// removes it (never held: a count is nobody's record).
func (s *Store) TakeRate(ctx context.Context, c RateCounter, limit int, windowEnd time.Time) (bool, error) {
	exp := windowEnd.Add(rateSlack + time.Second - 1).Unix()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &c.table,
		Key:                      key(c.pk, c.sk),
		UpdateExpression:         aws.String("ADD #n :one SET expiresAt = :exp, dataClass = :class, entity = :entity"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames: map[string]string{"#n": "n"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":    &types.AttributeValueMemberN{Value: "1"},
			":limit":  &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":exp":    &types.AttributeValueMemberN{Value: itoa(exp)},
			":class":  &types.AttributeValueMemberS{Value: string(retention.Technical)},
			":entity": &types.AttributeValueMemberS{Value: "ratecounter"},
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap("take rate", err)
	}
	return true, nil
}
