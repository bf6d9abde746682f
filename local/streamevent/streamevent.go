// Package streamevent reads DynamoDB stream records with the SDK and turns them
// into the aws-lambda-go event a stream-triggered function receives, as the
// Lambda event source mapping does. The local stack and the tests use it to feed
// functions the records moto's stream really holds.
package streamevent

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Record converts one SDK stream record to the Lambda event record shape.
func Record(r types.Record, streamArn string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   aws.ToString(r.EventVersion),
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventSourceArn: streamArn,
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys:           Image(d.Keys),
			NewImage:       Image(d.NewImage),
			OldImage:       Image(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

// Image converts an SDK item image.
func Image(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = value(v)
	}
	return out
}

func value(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(t.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(t.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(t.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(t.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(t.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(t.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(t.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(t.Value))
		for i, e := range t.Value {
			l[i] = value(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(Image(t.Value))
	}
	return events.NewNullAttribute()
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
				out = append(out, Record(rec, r.StreamArn))
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
