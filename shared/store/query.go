package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The store's queries of one partition by sort-key prefix, in one place.

// prefixQuery is the Query of the items of partition pk whose sort key starts
// with prefix ("": every item, as DynamoDB refuses begins_with with an empty
// string); with live set it hides items past their expiresAt.
func (s *Store) prefixQuery(pk, prefix string, live bool) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 &s.data,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :p)")
		in.ExpressionAttributeValues[":p"] = &types.AttributeValueMemberS{Value: prefix}
	}
	if live {
		in.FilterExpression = aws.String(LiveFilter)
		in.ExpressionAttributeValues[":now"] = s.nowValue()
	}
	return in
}

// queryEach calls fn for every item of a partition whose SK starts with prefix,
// hiding expired items when live is set.
func (s *Store) queryEach(ctx context.Context, pk, prefix string, live bool, fn func(map[string]types.AttributeValue) error) error {
	return s.queryAll(ctx, s.prefixQuery(pk, prefix, live), fn)
}

// queryAll calls fn for every item of every page of a Query.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput, fn func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range res.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// queryLive reads every live item of partition pk whose sort key starts with
// prefix into out (a pointer to a slice of item structs).
func (s *Store) queryLive(ctx context.Context, pk, prefix string, out any) error {
	var all []map[string]types.AttributeValue
	err := s.queryEach(ctx, pk, prefix, true, func(it map[string]types.AttributeValue) error {
		all = append(all, it)
		return nil
	})
	if err != nil {
		return err
	}
	return attributevalue.UnmarshalListOfMaps(all, out)
}

// queryPage reads one page (at most limit items, from start) of the live items
// of partition pk whose sort key starts with prefix into out, and returns the
// key to start the next page from (nil at the end).
func (s *Store) queryPage(ctx context.Context, pk, prefix string, newestFirst bool, limit int, start map[string]types.AttributeValue, out any) (map[string]types.AttributeValue, error) {
	in := s.prefixQuery(pk, prefix, true)
	in.ScanIndexForward = aws.Bool(!newestFirst)
	in.Limit = aws.Int32(int32(limit))
	in.ExclusiveStartKey = start
	res, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := attributevalue.UnmarshalListOfMaps(res.Items, out); err != nil {
		return nil, err
	}
	return res.LastEvaluatedKey, nil
}
