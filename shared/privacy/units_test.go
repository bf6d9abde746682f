package privacy_test

import (
	"context"
	"math"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/store"
)

// unitCounter is a store.Client that passes every call to a real client and
// computes the DynamoDB capacity units the call would consume on AWS, from the
// sizes of the items it reads and writes (moto's ConsumedCapacity is a constant,
// so it cannot be used): reads are 4 KB units per page (half for eventually
// consistent reads), writes 1 KB units per item, doubled in transactions, plus one
// write per global secondary index the item is in. The sizes of items deleted by
// BatchWriteItem come from the Query that found them (the eraser always queries
// before it deletes); unknown ones count as one unit.
type unitCounter struct {
	db store.Client

	mu       sync.Mutex
	RCU, WCU float64
	Calls    int
	sizes    map[string]int // table|PK|SK -> size of an item seen
	gsis     map[string]int // table|PK|SK -> GSIs the item is in
}

var _ store.Client = (*unitCounter)(nil)

func newUnitCounter(db store.Client) *unitCounter {
	return &unitCounter{db: db, sizes: map[string]int{}, gsis: map[string]int{}}
}

func (c *unitCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.RCU, c.WCU, c.Calls = 0, 0, 0
}

func (c *unitCounter) Snapshot() (rcu, wcu float64, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.RCU, c.WCU, c.Calls
}

func itemSize(m map[string]types.AttributeValue) int { return testaws.ItemSize(m) }

func gsiCount(m map[string]types.AttributeValue) int {
	n := 0
	for _, k := range []string{"GSI1PK", "GSI2PK"} {
		if _, ok := m[k]; ok {
			n++
		}
	}
	return n
}

func keyOf(table string, m map[string]types.AttributeValue) string {
	return table + "|" + str(m["PK"]) + "|" + str(m["SK"])
}

func wunits(size int) float64 { return math.Max(1, math.Ceil(float64(size)/1024)) }

func (c *unitCounter) remember(table string, m map[string]types.AttributeValue) {
	k := keyOf(table, m)
	c.sizes[k], c.gsis[k] = itemSize(m), gsiCount(m)
}

// write counts a write of an item of size and index count, mult times.
func (c *unitCounter) write(size, gsis int, mult float64) {
	c.WCU += mult * wunits(size) * float64(1+gsis)
}

func (c *unitCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := c.db.GetItem(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	size := 0
	if err == nil && out.Item != nil {
		size = itemSize(out.Item)
		c.remember(*in.TableName, out.Item)
	}
	u := math.Max(1, math.Ceil(float64(size)/4096))
	if in.ConsistentRead == nil || !*in.ConsistentRead {
		u /= 2
	}
	c.RCU += u
	return out, err
}

func (c *unitCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.db.Query(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	size := 0
	if err == nil {
		for _, m := range out.Items {
			size += itemSize(m)
			if in.IndexName == nil {
				c.remember(*in.TableName, m)
			}
		}
	}
	u := math.Max(1, math.Ceil(float64(size)/4096))
	if in.ConsistentRead == nil || !*in.ConsistentRead {
		u /= 2
	}
	c.RCU += u
	return out, err
}

func (c *unitCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.db.PutItem(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	c.write(itemSize(in.Item), gsiCount(in.Item), 1)
	return out, err
}

func (c *unitCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	asked := in.ReturnValues
	if asked == "" || asked == types.ReturnValueNone {
		cp := *in
		cp.ReturnValues = types.ReturnValueAllNew
		in = &cp
	}
	out, err := c.db.UpdateItem(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	size, g := 1, 0
	if err == nil && out.Attributes != nil {
		size, g = itemSize(out.Attributes), gsiCount(out.Attributes)
		if asked == "" || asked == types.ReturnValueNone {
			out.Attributes = nil
		}
	}
	c.write(size, g, 1)
	return out, err
}

func (c *unitCounter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	asked := in.ReturnValues
	if asked == "" || asked == types.ReturnValueNone {
		cp := *in
		cp.ReturnValues = types.ReturnValueAllOld
		in = &cp
	}
	out, err := c.db.DeleteItem(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	size, g := 1, 0
	if err == nil && out.Attributes != nil {
		size, g = itemSize(out.Attributes), gsiCount(out.Attributes)
		if asked == "" || asked == types.ReturnValueNone {
			out.Attributes = nil
		}
	}
	c.write(size, g, 1)
	return out, err
}

func (c *unitCounter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := c.db.TransactWriteItems(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	for _, w := range in.TransactItems {
		switch {
		case w.Put != nil:
			c.write(itemSize(w.Put.Item), gsiCount(w.Put.Item), 2)
		case w.Update != nil:
			k := keyOf(*w.Update.TableName, w.Update.Key)
			c.write(max(c.sizes[k], 1), c.gsis[k], 2)
		case w.Delete != nil:
			k := keyOf(*w.Delete.TableName, w.Delete.Key)
			c.write(max(c.sizes[k], 1), c.gsis[k], 2)
		default:
			c.write(1, 0, 2)
		}
	}
	return out, err
}

func (c *unitCounter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := c.db.BatchWriteItem(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls++
	for table, reqs := range in.RequestItems {
		for _, r := range reqs {
			switch {
			case r.PutRequest != nil:
				c.write(itemSize(r.PutRequest.Item), gsiCount(r.PutRequest.Item), 1)
			case r.DeleteRequest != nil:
				k := keyOf(table, r.DeleteRequest.Key)
				c.write(max(c.sizes[k], 1), c.gsis[k], 1)
			}
		}
	}
	return out, err
}
