package testaws

import (
	"maps"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Partition names one partition key value of a table, or of one of its
// global secondary indexes: what DynamoDB keeps on one partition (a partition
// key value is never split across partitions, so its load must stay under one
// partition's 3,000 read and 1,000 write units a second).
type Partition struct {
	Table string
	Index string // "" for the table itself
	Key   string // the partition key value; "*" for a Scan
}

// PartitionUse is what calls asked of one partition: the requests that
// addressed it (a GetItem's or Query's partition, each item of a write or
// transaction; not the index writes a table write causes) and the units it
// took, index writes included.
type PartitionUse struct {
	Requests    int
	Read, Write float64
}

// ByPartition returns the requests and units so far by partition key value.
func (m *Meter) ByPartition() map[Partition]PartitionUse {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.byPart)
}

// use notes a request (when req is set) and units on partition p.
func (b *biller) use(p Partition, req bool, read, write float64) {
	if b.parts == nil {
		b.parts = map[Partition]PartitionUse{}
	}
	u := b.parts[p]
	if req {
		u.Requests++
	}
	u.Read += read
	u.Write += write
	b.parts[p] = u
}

// partitionOf is the partition of item (a whole item, a key or an index
// entry) in table tbl, or in its index ix.
func (b *biller) partitionOf(tbl, ix string, item attrs) Partition {
	t, err := b.m.table(b.ctx, b.db, tbl)
	if err != nil {
		b.failed = true
		return Partition{Table: tbl, Index: ix}
	}
	attr := t.hash
	for _, i := range t.indexes {
		if i.name == ix {
			attr = i.hash
		}
	}
	return Partition{Table: tbl, Index: ix, Key: keyString(item[attr])}
}

// keyString is a key attribute's value as text (S and N; B as its bytes).
func keyString(v types.AttributeValue) string {
	switch k := v.(type) {
	case *types.AttributeValueMemberS:
		return k.Value
	case *types.AttributeValueMemberN:
		return k.Value
	case *types.AttributeValueMemberB:
		return string(k.Value)
	}
	return ""
}

var keyEquality = regexp.MustCompile(`([#A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)`)

// queryPartition is the partition a Query reads: the value its key condition
// gives the table's or index's partition key.
func (b *biller) queryPartition(v *dynamodb.QueryInput) Partition {
	tbl, ix := aws.ToString(v.TableName), aws.ToString(v.IndexName)
	t, err := b.m.table(b.ctx, b.db, tbl)
	if err != nil {
		b.failed = true
		return Partition{Table: tbl, Index: ix}
	}
	attr := t.hash
	for _, i := range t.indexes {
		if i.name == ix {
			attr = i.hash
		}
	}
	for _, m := range keyEquality.FindAllStringSubmatch(aws.ToString(v.KeyConditionExpression), -1) {
		name := m[1]
		if n, ok := v.ExpressionAttributeNames[name]; ok {
			name = n
		}
		if name == attr {
			return Partition{Table: tbl, Index: ix, Key: keyString(v.ExpressionAttributeValues[m[2]])}
		}
	}
	return Partition{Table: tbl, Index: ix}
}
