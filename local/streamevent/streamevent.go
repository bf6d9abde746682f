// Package streamevent is the one converter from DynamoDB items and stream
// records to the aws-lambda-go event a stream-triggered function receives, as
// the Lambda event source mapping delivers it: for the local stack's stream
// mappings (local/streams), its TTL process (local/ttl) and the tests
// (local/testaws, Reader). Images, keys and records of both SDK shapes (the
// DynamoDB API's items, the Streams API's records) go through Value.
package streamevent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Value converts an attribute value of the DynamoDB API.
func Value(v ddb.AttributeValue) events.DynamoDBAttributeValue {
	switch t := v.(type) {
	case *ddb.AttributeValueMemberS:
		return events.NewStringAttribute(t.Value)
	case *ddb.AttributeValueMemberN:
		return events.NewNumberAttribute(t.Value)
	case *ddb.AttributeValueMemberB:
		return events.NewBinaryAttribute(t.Value)
	case *ddb.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(t.Value)
	case *ddb.AttributeValueMemberSS:
		return events.NewStringSetAttribute(t.Value)
	case *ddb.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(t.Value)
	case *ddb.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(t.Value)
	case *ddb.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(t.Value))
		for i, e := range t.Value {
			l[i] = Value(e)
		}
		return events.NewListAttribute(l)
	case *ddb.AttributeValueMemberM:
		return events.NewMapAttribute(Image(t.Value))
	}
	return events.NewNullAttribute() // NULL, and nothing else DynamoDB stores
}

// Image converts an item, or its keys (nil stays nil).
func Image(item map[string]ddb.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = Value(v)
	}
	return out
}

// StreamImage converts an image of the Streams API.
func StreamImage(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	item, err := attributevalue.FromDynamoDBStreamsMap(m)
	if err != nil {
		return nil, err
	}
	return Image(item), nil
}

// Record converts one record of the Streams API to the Lambda event record of
// the stream streamArn. Lambda gives the creation time in whole seconds, and
// the region and event version moto may leave out.
func Record(r types.Record, streamArn string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   aws.ToString(r.EventVersion),
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventSourceArn: streamArn,
	}
	if out.EventVersion == "" {
		out.EventVersion = "1.1"
	}
	if out.AWSRegion == "" {
		out.AWSRegion = "us-east-1"
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	d := r.Dynamodb
	if d == nil {
		return out, nil
	}
	c := &out.Change
	c.SequenceNumber, c.SizeBytes, c.StreamViewType = aws.ToString(d.SequenceNumber), aws.ToInt64(d.SizeBytes), string(d.StreamViewType)
	if d.ApproximateCreationDateTime != nil {
		c.ApproximateCreationDateTime = events.SecondsEpochTime{Time: d.ApproximateCreationDateTime.Truncate(time.Second)}
	}
	var err error
	if c.Keys, err = StreamImage(d.Keys); err != nil {
		return out, fmt.Errorf("record %s keys: %w", out.EventID, err)
	}
	if c.NewImage, err = StreamImage(d.NewImage); err != nil {
		return out, fmt.Errorf("record %s new image: %w", out.EventID, err)
	}
	if c.OldImage, err = StreamImage(d.OldImage); err != nil {
		return out, fmt.Errorf("record %s old image: %w", out.EventID, err)
	}
	return out, nil
}

// ServiceIdentity is the user identity of DynamoDB's own TTL deletions;
// deletions by users and functions carry none.
func ServiceIdentity() *events.DynamoDBUserIdentity {
	return &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
}

var seq atomic.Int64

// RemoveRecord returns the stream record of the removal of item (keys PK and
// SK): by DynamoDB's TTL when ttl is set (the service identity), else a
// user's delete (no userIdentity).
func RemoveRecord(item map[string]ddb.AttributeValue, ttl bool, at time.Time) events.DynamoDBEventRecord {
	n := seq.Add(1)
	r := events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("ev-%d", n), EventName: "REMOVE", EventSource: "aws:dynamodb", EventVersion: "1.1",
		AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys:                        Image(map[string]ddb.AttributeValue{"PK": item["PK"], "SK": item["SK"]}),
			OldImage:                    Image(item),
			SequenceNumber:              fmt.Sprintf("%021d", n),
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	if ttl {
		r.UserIdentity = ServiceIdentity()
	}
	return r
}

// Wire returns the record in its JSON form, as the function's payload carries
// it and as filter patterns see it ({"dynamodb":{"Keys":{"PK":{"S":"..."}}}}).
// A record without a creation time has none.
func Wire(r events.DynamoDBEventRecord) (map[string]any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if r.Change.ApproximateCreationDateTime.IsZero() {
		delete(out["dynamodb"].(map[string]any), "ApproximateCreationDateTime")
	}
	return out, nil
}

// Reader reads a stream from where it last stopped, shard by shard.
type Reader struct {
	Client    *dynamodbstreams.Client
	StreamArn string
	iters     map[string]*string // shard id -> next iterator
}

// Read returns every record written since the last Read (from the start of the
// stream on the first call).
func (r *Reader) Read(ctx context.Context) ([]events.DynamoDBEventRecord, error) {
	if r.iters == nil {
		r.iters = map[string]*string{}
	}
	desc, err := r.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &r.StreamArn})
	if err != nil {
		return nil, fmt.Errorf("describe stream: %w", err)
	}
	var out []events.DynamoDBEventRecord
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		it, ok := r.iters[id]
		if !ok {
			res, err := r.Client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: &r.StreamArn, ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return nil, fmt.Errorf("shard iterator: %w", err)
			}
			it = res.ShardIterator
		}
		for it != nil {
			res, err := r.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return nil, fmt.Errorf("get records: %w", err)
			}
			for _, rec := range res.Records {
				e, err := Record(rec, r.StreamArn)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			r.iters[id] = res.NextShardIterator
			if len(res.Records) == 0 {
				break
			}
			it = res.NextShardIterator
		}
	}
	return out, nil
}
