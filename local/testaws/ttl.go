package testaws

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/streamevent"
)

// StreamImage converts an item to a stream record image, as aws-lambda-go
// decodes it.
func StreamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	return streamevent.Image(item)
}

// RemoveRecord returns the stream record of the removal of item: by DynamoDB's
// TTL when ttl is set (userIdentity Service / dynamodb.amazonaws.com), else a
// user's delete (no userIdentity).
func RemoveRecord(item map[string]types.AttributeValue, ttl bool, at time.Time) events.DynamoDBEventRecord {
	return streamevent.RemoveRecord(item, ttl, at)
}

// ScanAll reads every item of a table (tests only: the store has no Scan).
func (tt *Tables) ScanAll(tb testing.TB, table string) []map[string]types.AttributeValue {
	tb.Helper()
	var out []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(tt.DB, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		res, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("scan %s: %v", table, err)
		}
		out = append(out, res.Items...)
	}
	return out
}

// ExpireTTL plays DynamoDB's TTL on the Data table at now: it deletes every item
// whose TTL attribute has passed and returns the REMOVE records the stream would
// carry for them, with the TTL identity.
func (tt *Tables) ExpireTTL(tb testing.TB, now time.Time) []events.DynamoDBEventRecord {
	tb.Helper()
	var recs []events.DynamoDBEventRecord
	for _, it := range tt.expire(tb, tt.data, now) {
		recs = append(recs, RemoveRecord(it, true, now))
	}
	return recs
}

// ExpireArchiveTTL plays TTL on the Archive table at now and returns how many
// items it removed.
func (tt *Tables) ExpireArchiveTTL(tb testing.TB, now time.Time) int {
	tb.Helper()
	return len(tt.expire(tb, tt.archive, now))
}

// expire deletes the items of t whose TTL attribute, a Number, is at or
// before now, and returns them.
func (tt *Tables) expire(tb testing.TB, t moto.Table, now time.Time) []map[string]types.AttributeValue {
	tb.Helper()
	var gone []map[string]types.AttributeValue
	for _, it := range tt.ScanAll(tb, t.Name) {
		n, ok := it[t.TTLAttribute].(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		if exp, err := strconv.ParseInt(n.Value, 10, 64); err != nil || exp > now.Unix() {
			continue
		}
		key := map[string]types.AttributeValue{}
		for _, k := range t.KeyNames {
			key[k] = it[k]
		}
		if _, err := tt.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(t.Name), Key: key}); err != nil {
			tb.Fatalf("ttl delete in %s: %v", t.Name, err)
		}
		gone = append(gone, it)
	}
	return gone
}
