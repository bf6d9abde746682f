package testaws

import (
	"context"
	"math"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Meter counts DynamoDB requests and the read and write units they cost,
// computed from item sizes as DynamoDB bills them (writes: 1 unit per KiB, twice
// in a transaction; reads: 1 unit per 4 KiB strongly consistent, half of that
// eventually consistent; a Query sums the sizes of the items it returns; a write
// that puts or moves an item in a global secondary index pays for the index
// entries too). Scan is counted too, so a test can prove there was none.
type Meter struct {
	mu    sync.Mutex
	Calls map[string]int
	Read  float64
	Write float64
	// actions counts the IAM actions the calls need: a call's own, except for
	// a transaction, which needs those of its items (there is no
	// dynamodb:TransactWriteItems action; a ConditionCheck needs
	// dynamodb:ConditionCheckItem).
	actions map[string]int
}

// NewMeter returns an empty meter.
func NewMeter() *Meter { return &Meter{Calls: map[string]int{}, actions: map[string]int{}} }

// Reset zeroes the meter.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls, m.Read, m.Write, m.actions = map[string]int{}, 0, 0, map[string]int{}
}

// Actions returns the IAM actions (without the "dynamodb:" prefix) the calls
// so far needed, with how often.
func (m *Meter) Actions() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := map[string]int{}
	for k, v := range m.actions {
		a[k] = v
	}
	return a
}

// Snapshot returns the counts so far.
func (m *Meter) Snapshot() (calls map[string]int, read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := map[string]int{}
	for k, v := range m.Calls {
		c[k] = v
	}
	return c, m.Read, m.Write
}

// Client returns a DynamoDB client for cfg whose every call the meter counts.
func (m *Meter) Client(cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("meter",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					m.count(in.Parameters, out.Result, err)
					return out, md, err
				}), middleware.After)
		})
	})
}

func (m *Meter) count(in, out any, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// call counts a call that needs the IAM action of its own name.
	call := func(name string) {
		m.Calls[name]++
		m.actions[name]++
	}
	write := func(item map[string]types.AttributeValue, factor float64) {
		m.Write += factor * math.Max(1, math.Ceil(float64(ItemSize(item))/1024))
	}
	read := func(size int, consistent *bool) {
		u := math.Max(1, math.Ceil(float64(size)/4096))
		if !aws.ToBool(consistent) {
			u /= 2
		}
		m.Read += u
	}
	switch v := in.(type) {
	case *dynamodb.GetItemInput:
		call("GetItem")
		size := 0
		if o, ok := out.(*dynamodb.GetItemOutput); ok && o != nil {
			size = ItemSize(o.Item)
		}
		read(size, v.ConsistentRead)
	case *dynamodb.PutItemInput:
		call("PutItem")
		write(v.Item, 1)
		m.Write += float64(indexEntries(v.Item))
	case *dynamodb.UpdateItemInput:
		call("UpdateItem")
		m.Write++
		if err == nil {
			// Moving an index key deletes the old index entry and puts the new one.
			expr := aws.ToString(v.UpdateExpression)
			for _, g := range []string{"GSI1", "GSI2"} {
				if strings.Contains(expr, g+"PK") || strings.Contains(expr, g+"SK") {
					m.Write += 2
				}
			}
		}
	case *dynamodb.DeleteItemInput:
		call("DeleteItem")
		m.Write++
	case *dynamodb.QueryInput:
		call("Query")
		size := 0
		if o, ok := out.(*dynamodb.QueryOutput); ok && o != nil {
			for _, it := range o.Items {
				size += ItemSize(it)
			}
		}
		read(size, v.ConsistentRead)
	case *dynamodb.TransactWriteItemsInput:
		m.Calls["TransactWriteItems"]++
		for _, t := range v.TransactItems {
			switch {
			case t.Put != nil:
				write(t.Put.Item, 2)
				m.actions["PutItem"]++
			default:
				m.Write += 2
				switch {
				case t.Update != nil:
					m.actions["UpdateItem"]++
				case t.Delete != nil:
					m.actions["DeleteItem"]++
				case t.ConditionCheck != nil:
					m.actions["ConditionCheckItem"]++
				}
			}
		}
	case *dynamodb.BatchWriteItemInput:
		call("BatchWriteItem")
		for _, reqs := range v.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					write(r.PutRequest.Item, 1)
				} else {
					m.Write++
				}
			}
		}
	case *dynamodb.ScanInput:
		call("Scan")
	default:
		call("other")
	}
}

// indexEntries counts the global secondary indexes an item is written to.
func indexEntries(item map[string]types.AttributeValue) int {
	n := 0
	for _, k := range []string{"GSI1PK", "GSI2PK"} {
		if _, ok := item[k]; ok {
			n++
		}
	}
	return n
}

// ItemSize is an item's size as DynamoDB counts it: attribute names plus values.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return len(t.Value)
	case *types.AttributeValueMemberN:
		return (len(t.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(t.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range t.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range t.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range t.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}
