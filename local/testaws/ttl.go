package testaws

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TTL identities of stream records: DynamoDB's TTL deletes carry this user
// identity; deletes by users and functions carry none.
var ttlIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

// StreamImage converts SDK attribute values to a stream record image, as
// aws-lambda-go decodes it.
func StreamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(StreamImage(x.Value))
	}
	panic(fmt.Sprintf("unknown attribute value %T", v))
}

var seq atomic.Int64

// RemoveRecord returns the stream record of the removal of item: by DynamoDB's
// TTL when ttl is set (userIdentity Service / dynamodb.amazonaws.com), else a
// user's delete (no userIdentity).
func RemoveRecord(item map[string]types.AttributeValue, ttl bool, at time.Time) events.DynamoDBEventRecord {
	n := seq.Add(1)
	r := events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("ev-%d", n), EventName: "REMOVE", EventSource: "aws:dynamodb", EventVersion: "1.1",
		AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys:                        StreamImage(map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}),
			OldImage:                    StreamImage(item),
			SequenceNumber:              fmt.Sprintf("%021d", n),
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	if ttl {
		id := *ttlIdentity
		r.UserIdentity = &id
	}
	return r
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
// whose expiresAt has passed and returns the REMOVE records the stream would
// carry for them, with the TTL identity.
func (tt *Tables) ExpireTTL(tb testing.TB, now time.Time) []events.DynamoDBEventRecord {
	tb.Helper()
	var recs []events.DynamoDBEventRecord
	for _, it := range tt.ScanAll(tb, tt.Data) {
		n, ok := it["expiresAt"].(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		exp, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || exp > now.Unix() {
			continue
		}
		if _, err := tt.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(tt.Data),
			Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
			tb.Fatalf("ttl delete: %v", err)
		}
		recs = append(recs, RemoveRecord(it, true, now))
	}
	return recs
}

// ExpireArchiveTTL plays TTL on the Archive table at now and returns how many
// items it removed.
func (tt *Tables) ExpireArchiveTTL(tb testing.TB, now time.Time) int {
	tb.Helper()
	n := 0
	for _, it := range tt.ScanAll(tb, tt.Archive) {
		a, ok := it["expiresAt"].(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		if exp, _ := strconv.ParseInt(a.Value, 10, 64); exp > now.Unix() {
			continue
		}
		if _, err := tt.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(tt.Archive),
			Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
			tb.Fatalf("archive ttl delete: %v", err)
		}
		n++
	}
	return n
}
