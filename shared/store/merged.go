package store

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/livesupportbot/backend/shared/chat"
)

// mergedList is a list kept in shards (shard.go): partitions whose items
// share one order, their sort key, read newest (greatest) first.
type mergedList struct {
	index  string // "" for the table, or the index's name
	pkAttr string // the partition key attribute (PK, GSI1PK)
	skAttr string // the sort key attribute (SK, GSI1SK)
	prefix string // the items' sort keys start with it ("" for any)
	parts  []string
}

// shardCursor is one shard's place in a merged read.
type shardCursor struct {
	part string
	buf  []map[string]types.AttributeValue // read, not yet taken; greatest first
	lek  map[string]types.AttributeValue
	done bool
}

// mergedPage reads up to limit live items of the list, greatest sort key
// first, below the sort key after ("" from the top). It returns them and the
// sort key to continue below ("" once every shard is read to its end).
//
// Each shard is read a few items at a time (Limit: twice its share of the
// page), all of them at first and then only the shard whose next item is due:
// a k-way merge that reads about 2 x limit items over all shards when the
// items spread evenly, instead of limit from each.
func (s *Store) mergedPage(ctx context.Context, l mergedList, limit int, after string) ([]map[string]types.AttributeValue, string, error) {
	if limit <= 0 {
		return nil, "", chat.Errorf(chat.EInvalid, "a page holds at least one item")
	}
	per := limit
	if n := len(l.parts); n > 1 {
		per = min(limit, max(1, (2*limit+n-1)/n))
	}
	cur := make([]*shardCursor, len(l.parts))
	errs := make([]error, len(l.parts))
	var wg sync.WaitGroup
	for i, p := range l.parts {
		cur[i] = &shardCursor{part: p}
		wg.Go(func() { errs[i] = s.fillShard(ctx, l, cur[i], per, after) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, "", err
		}
	}
	var out []map[string]types.AttributeValue
	for len(out) < limit {
		var best *shardCursor
		for _, c := range cur {
			if err := s.fillShard(ctx, l, c, per, after); err != nil {
				return nil, "", err
			}
			if len(c.buf) > 0 && (best == nil || sortKey(c.buf[0], l.skAttr) > sortKey(best.buf[0], l.skAttr)) {
				best = c
			}
		}
		if best == nil {
			return out, "", nil // every shard read to its end
		}
		out = append(out, best.buf[0])
		best.buf = best.buf[1:]
	}
	for _, c := range cur {
		if len(c.buf) > 0 || !c.done {
			return out, sortKey(out[len(out)-1], l.skAttr), nil
		}
	}
	return out, "", nil
}

// fillShard reads the shard's next items when it has none left to take and
// is not at its end (a page can hold none: expired items are filtered out).
func (s *Store) fillShard(ctx context.Context, l mergedList, c *shardCursor, per int, after string) error {
	for len(c.buf) == 0 && !c.done {
		in := &dynamodb.QueryInput{
			TableName:                &s.data,
			ExpressionAttributeNames: map[string]string{"#pk": l.pkAttr},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: c.part}, ":now": s.nowValue(),
			},
			FilterExpression: aws.String(LiveFilter),
			ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(per)), ExclusiveStartKey: c.lek,
		}
		if l.index != "" {
			in.IndexName = aws.String(l.index)
		}
		if after != "" || l.prefix != "" {
			in.ExpressionAttributeNames["#sk"] = l.skAttr
		}
		switch {
		case after != "":
			// Sort keys of the list all start with prefix; after is one of them.
			in.KeyConditionExpression = aws.String("#pk = :pk AND #sk < :after")
			in.ExpressionAttributeValues[":after"] = &types.AttributeValueMemberS{Value: after}
			if l.prefix != "" {
				in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :p AND :after")
				in.ExpressionAttributeValues[":p"] = &types.AttributeValueMemberS{Value: l.prefix}
			}
		case l.prefix != "":
			in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :p)")
			in.ExpressionAttributeValues[":p"] = &types.AttributeValueMemberS{Value: l.prefix}
		default:
			in.KeyConditionExpression = aws.String("#pk = :pk")
		}
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return wrap("query "+c.part, err)
		}
		for _, it := range res.Items {
			if sortKey(it, l.skAttr) != after { // BETWEEN includes after itself
				c.buf = append(c.buf, it)
			}
		}
		c.lek, c.done = res.LastEvaluatedKey, len(res.LastEvaluatedKey) == 0
	}
	return nil
}

func sortKey(item map[string]types.AttributeValue, attr string) string {
	v, _ := item[attr].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}
