package testaws

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"regexp"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Meter counts DynamoDB requests and the read and write units they cost on an
// on-demand table, computed from item sizes by the rules of the DynamoDB
// Developer Guide ("DynamoDB read and write operations", "Global secondary
// indexes: provisioned throughput considerations", "Capacity management for
// transactions"); each rule is quoted in brief where it is applied. Scan is
// counted too, so a test can prove there was none.
//
// To bill as DynamoDB does the meter reads what the call itself does not
// return, through an unmetered client of the same configuration: each written
// item before and after the write (a strongly consistent GetItem), the
// table's key schema and indexes (DescribeTable, once per table) and, for a
// Query or Scan with a filter, a projection or a Select, the same page again
// without them. Those reads are not counted. Metered calls run one at a time,
// so no other call through the meter changes an item between its reads.
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
	// byOp splits the units by operation.
	byOp map[string]Units
	// byPart splits the requests and units by the partition they were spent on.
	byPart map[Partition]PartitionUse
	// tables caches each table's key schema and indexes, by name.
	tables map[string]*table
	// serial lets one metered call (with the meter's own reads) run at a time.
	serial sync.Mutex
}

// NewMeter returns an empty meter.
func NewMeter() *Meter {
	return &Meter{Calls: map[string]int{}, actions: map[string]int{}, byOp: map[string]Units{}, byPart: map[Partition]PartitionUse{}, tables: map[string]*table{}}
}

// Partition names one partition key value of a table ("" Index) or of one of
// its global secondary indexes: where DynamoDB spends the units of a call. A
// partition key value is never split across partitions, so its load must stay
// under one partition's 3,000 read and 1,000 write units a second.
type Partition struct{ Table, Index, Key string }

// PartitionUse is what calls asked of one partition: the requests that
// addressed it (a GetItem's or Query's partition, each item of a write or a
// transaction; not the index writes a table write causes) and the units it
// took, index writes included.
type PartitionUse struct {
	Requests    int
	Read, Write float64
}

// ByPartition returns the requests and units so far by the partition they
// were spent on: a write's on its item's partition and on each index entry's
// partition, a read's on the partition it read (a Scan's Key is "*").
func (m *Meter) ByPartition() map[Partition]PartitionUse {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.byPart)
}

// spend notes units the call spent on partition p (billed with the call), and
// a request addressed to it when req is set.
func (b *biller) spend(p Partition, req bool, read, write float64) {
	if b.parts == nil {
		b.parts = map[Partition]PartitionUse{}
	}
	u := b.parts[p]
	if req {
		u.Requests++
	}
	b.parts[p] = PartitionUse{u.Requests, u.Read + read, u.Write + write}
}

// Units are the read and write units of some calls.
type Units struct{ Read, Write float64 }

// ByOperation returns the units so far by operation ("UpdateItem", ...).
func (m *Meter) ByOperation() map[string]Units {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.byOp)
}

// Reset zeroes the meter.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls, m.Read, m.Write, m.actions, m.byOp, m.byPart = map[string]int{}, 0, 0, map[string]int{}, map[string]Units{}, map[Partition]PartitionUse{}
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
	raw := dynamodb.NewFromConfig(cfg)
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("meter",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					m.serial.Lock()
					defer m.serial.Unlock()
					b := &biller{m: m, db: raw, ctx: ctx}
					b.before(in.Parameters)
					m.mu.Lock()
					r0, w0 := m.Read, m.Write
					m.mu.Unlock()
					out, md, err := next.HandleInitialize(ctx, in)
					b.after(in.Parameters, out.Result, err)
					m.mu.Lock()
					op := m.byOp[middleware.GetOperationName(ctx)]
					m.byOp[middleware.GetOperationName(ctx)] = Units{op.Read + m.Read - r0, op.Write + m.Write - w0}
					m.mu.Unlock()
					return out, md, err
				}), middleware.After)
		})
	})
}

// attrs is an item's attributes.
type attrs = map[string]types.AttributeValue

// table is what the meter knows of a table: its key attributes and indexes.
type table struct {
	name    string
	keys    []string // the hash key first
	indexes []index
}

// index is a global secondary index: its key attributes and projection.
type index struct {
	name string
	keys []string        // the hash key first
	all  bool            // ProjectionType ALL
	also map[string]bool // INCLUDE's NonKeyAttributes (none for KEYS_ONLY)
}

// table returns the key schema and indexes of the named table, described once
// through the unmetered client.
func (m *Meter) table(ctx context.Context, db *dynamodb.Client, name string) (*table, error) {
	m.mu.Lock()
	t, ok := m.tables[name]
	m.mu.Unlock()
	if ok {
		return t, nil
	}
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	t = &table{name: name, keys: hashFirst(out.Table.KeySchema)}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		ix := index{name: aws.ToString(g.IndexName), keys: hashFirst(g.KeySchema), also: map[string]bool{}}
		if g.Projection != nil {
			ix.all = g.Projection.ProjectionType == types.ProjectionTypeAll
			for _, a := range g.Projection.NonKeyAttributes {
				ix.also[a] = true
			}
		}
		t.indexes = append(t.indexes, ix)
	}
	m.mu.Lock()
	m.tables[name] = t
	m.mu.Unlock()
	return t, nil
}

// hashFirst is the attribute names of a key schema, the hash key first.
func hashFirst(ks []types.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		if k.KeyType == types.KeyTypeHash {
			out = append([]string{aws.ToString(k.AttributeName)}, out...)
		} else {
			out = append(out, aws.ToString(k.AttributeName))
		}
	}
	return out
}

// partitionOf is the partition (of the table, or of index ix when not "")
// whose hash key value item holds.
func partitionOf(table, ix, hashAttr string, item attrs) Partition {
	return Partition{Table: table, Index: ix, Key: keyValue(item[hashAttr])}
}

// keyValue is the value of a key attribute (a string, number or binary) as a
// string; "" for anything else.
func keyValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return string(v.Value)
	}
	return ""
}

// keyString is the values of item's key attributes (names) as one string.
func keyString(item attrs, names []string) string {
	var k []byte
	for _, n := range names {
		k = append(append(k, keyValue(item[n])...), 0)
	}
	return string(k)
}

// pick returns the named attributes of item that it has.
func pick(item attrs, names []string) attrs {
	k := attrs{}
	for _, n := range names {
		if v, ok := item[n]; ok {
			k[n] = v
		}
	}
	return k
}

// entry is item's entry in the index: the table's key, the index's key and
// the projected attributes; nil when the item lacks an index key attribute
// (a sparse index holds only the items that have them).
func (ix index) entry(t *table, item attrs) attrs {
	for _, k := range ix.keys {
		if _, ok := item[k]; !ok {
			return nil
		}
	}
	if ix.all {
		return item
	}
	e := pick(item, append(append([]string{}, t.keys...), ix.keys...))
	for a := range ix.also {
		if v, ok := item[a]; ok {
			e[a] = v
		}
	}
	return e
}

// writeUnits is what DynamoDB bills for changing an item from old to now (nil
// for no item) in a table: the base write and the index writes.
//
// Base table: "PutItem [...] If an item with the same primary key exists in
// the table, the operation replaces the item. For calculating provisioned
// throughput consumption, the item size that matters is the larger of the
// two." The same holds for UpdateItem (the item before and after the update)
// and DeleteItem (the deleted item's size); each is rounded up to the next
// 1 KB, one write unit per KB, at least one.
//
// Each global secondary index ("Provisioned throughput considerations for
// global secondary indexes", sized by the index entry: table key, index key
// and projected attributes, rounded up to 1 KB):
//   - "If you write a new item to the table that defines an indexed attribute,
//     or you update an existing item to define a previously undefined indexed
//     attribute, one write operation is required to put the item into the
//     index."
//   - "If an update to the table changes the value of an indexed key attribute
//     (from A to B), two writes are required, one to delete the previous item
//     from the index and another write to put the new item into the index."
//   - "If an item was present in the index, but a write to the table caused the
//     indexed attribute to be deleted, one write is required to delete the old
//     item projection from the index."
//   - "If an item is not present in the index before or after the item is
//     updated, there is no additional write cost for the index."
//   - "If an update to the table only changes the value of projected attributes
//     in the index key schema, but does not change the value of any indexed key
//     attribute, one write is required to update the values of the projected
//     attributes into the index." (An entry that does not change at all costs
//     nothing.)
func (t *table) writeUnits(old, now attrs) (float64, map[Partition]float64) {
	parts := map[Partition]float64{}
	item := now
	if item == nil {
		item = old
	}
	u := writeUnits(max(ItemSize(old), ItemSize(now)))
	parts[partitionOf(t.name, "", t.keys[0], item)] += u
	for _, ix := range t.indexes {
		o, n := ix.entry(t, old), ix.entry(t, now)
		at := func(e attrs, units float64) {
			parts[partitionOf(t.name, ix.name, ix.keys[0], e)] += units
			u += units
		}
		switch {
		case o == nil && n == nil:
		case o == nil:
			at(n, writeUnits(ItemSize(n)))
		case n == nil:
			at(o, writeUnits(ItemSize(o)))
		case !reflect.DeepEqual(pick(o, ix.keys), pick(n, ix.keys)):
			at(o, writeUnits(ItemSize(o)))
			at(n, writeUnits(ItemSize(n)))
		case !reflect.DeepEqual(o, n):
			at(n, writeUnits(max(ItemSize(o), ItemSize(n))))
		}
	}
	return u, parts
}

// writeUnits is 1 unit per KB of size, rounded up, at least 1.
func writeUnits(size int) float64 { return math.Max(1, math.Ceil(float64(size)/1024)) }

// readUnits is 1 unit per 4 KB of size, rounded up, at least 1; half of that
// for an eventually consistent read: "A strongly consistent read request of
// an item up to 4 KB requires one read unit. An eventually consistent read
// request of an item up to 4 KB requires one-half read unit."
func readUnits(size int, consistent bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

// write is one item a call writes: its table and key, the item before the
// call and, for a put, the item it puts.
type write struct {
	table string
	key   attrs
	old   attrs
	put   attrs
	del   bool
}

// biller meters one call: before it runs, it reads what the call will change;
// after, what it changed, and bills.
type biller struct {
	m      *Meter
	db     *dynamodb.Client
	ctx    context.Context
	writes []*write
	// failed marks a call whose reads of its own failed: it is billed as 0
	// units rather than with a guess, and the test sees the Calls count only.
	failed bool
	// parts are the requests and units by partition.
	parts map[Partition]PartitionUse
}

// get reads an item in full, strongly consistent, through the unmetered
// client; nil if there is none.
func (b *biller) get(tbl string, key attrs) attrs {
	out, err := b.db.GetItem(b.ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		b.failed = true
		return nil
	}
	return out.Item
}

// add notes a write of the item at key in tbl (put: the new item; del: a
// delete) and reads the item as it is before the call.
func (b *biller) add(tbl string, key, put attrs, del bool) {
	if put != nil {
		t, err := b.m.table(b.ctx, b.db, tbl)
		if err != nil {
			b.failed = true
			return
		}
		key = pick(put, t.keys)
	}
	b.writes = append(b.writes, &write{table: tbl, key: key, old: b.get(tbl, key), put: put, del: del})
}

func (b *biller) before(in any) {
	switch v := in.(type) {
	case *dynamodb.PutItemInput:
		b.add(aws.ToString(v.TableName), nil, v.Item, false)
	case *dynamodb.UpdateItemInput:
		b.add(aws.ToString(v.TableName), v.Key, nil, false)
	case *dynamodb.DeleteItemInput:
		b.add(aws.ToString(v.TableName), v.Key, nil, true)
	case *dynamodb.BatchWriteItemInput:
		for tbl, reqs := range v.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					b.add(tbl, nil, r.PutRequest.Item, false)
				} else if r.DeleteRequest != nil {
					b.add(tbl, r.DeleteRequest.Key, nil, true)
				}
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, t := range v.TransactItems {
			switch {
			case t.Put != nil:
				b.add(aws.ToString(t.Put.TableName), nil, t.Put.Item, false)
			case t.Update != nil:
				b.add(aws.ToString(t.Update.TableName), t.Update.Key, nil, false)
			case t.Delete != nil:
				b.add(aws.ToString(t.Delete.TableName), t.Delete.Key, nil, true)
			case t.ConditionCheck != nil:
				// A condition check changes nothing: old and new are the same item.
				b.add(aws.ToString(t.ConditionCheck.TableName), t.ConditionCheck.Key, nil, false)
			}
		}
	}
}

// billWrites bills the noted writes, each times factor. ok says the call
// wrote: the items are then billed from their old to their new state, read
// again now. Otherwise a condition failed and nothing was written: "If a
// ConditionExpression evaluates to false during a conditional write, DynamoDB
// still consumes write capacity from the table. The amount consumed is
// dependent on the size of the existing item (or a minimum of 1)": billed as
// writing the existing item (for a put, the larger of it and the new item,
// as the Guide's example bills a put of 310 KB over 300 KB at 310 KB), with no
// index writes, since no index changes.
func (b *biller) billWrites(factor float64, ok bool) float64 {
	total := 0.0
	for _, w := range b.writes {
		t, err := b.m.table(b.ctx, b.db, w.table)
		if err != nil {
			b.failed = true
			return 0
		}
		if !ok {
			u := factor * writeUnits(max(ItemSize(w.old), ItemSize(w.put)))
			item := w.put
			if item == nil {
				item = w.key
			}
			b.spend(partitionOf(t.name, "", t.keys[0], item), true, 0, u)
			total += u
			continue
		}
		var now attrs
		switch {
		case w.put != nil:
			now = w.put
		case !w.del:
			now = b.get(w.table, w.key)
		}
		u, parts := t.writeUnits(w.old, now)
		item := now
		if item == nil {
			item = w.old
		}
		if item == nil {
			item = w.key
		}
		b.spend(partitionOf(t.name, "", t.keys[0], item), true, 0, 0)
		for p, pu := range parts {
			b.spend(p, false, 0, factor*pu)
		}
		total += factor * u
	}
	return total
}

// conditionFailed says err is a write refused by its condition (billed), not
// a request DynamoDB rejected before writing (not billed).
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	return errors.As(err, &ccf) || errors.As(err, &tce)
}

// after bills the call.
func (b *biller) after(in, out any, err error) {
	var read, wrote float64
	billed := err == nil || conditionFailed(err)
	call := ""
	var actions []string
	switch v := in.(type) {
	case *dynamodb.GetItemInput:
		call = "GetItem"
		if err == nil {
			// "GetItem—Reads a single item from a table. To determine the
			// number of capacity units that GetItem will consume, take the
			// item size and round it up to the next 4 KB boundary": the whole
			// item, whatever ProjectionExpression returns.
			item := out.(*dynamodb.GetItemOutput).Item
			if v.ProjectionExpression != nil {
				item = b.get(aws.ToString(v.TableName), v.Key)
			}
			read = readUnits(ItemSize(item), aws.ToBool(v.ConsistentRead))
			if t, err := b.m.table(b.ctx, b.db, aws.ToString(v.TableName)); err == nil {
				b.spend(partitionOf(t.name, "", t.keys[0], v.Key), true, read, 0)
			}
		}
	case *dynamodb.BatchGetItemInput:
		call = "BatchGetItem"
		if err == nil {
			read = b.batchGet(v, out.(*dynamodb.BatchGetItemOutput))
		}
	case *dynamodb.QueryInput:
		call = "Query"
		if err == nil {
			read = b.page(v, out.(*dynamodb.QueryOutput).Items)
			b.spend(b.queried(v), true, read, 0)
		}
	case *dynamodb.ScanInput:
		call = "Scan"
		if err == nil {
			read = b.scanPage(v, out.(*dynamodb.ScanOutput).Items)
			b.spend(Partition{Table: aws.ToString(v.TableName), Index: aws.ToString(v.IndexName), Key: "*"}, true, read, 0)
		}
	case *dynamodb.PutItemInput:
		call = "PutItem"
		if billed {
			wrote = b.billWrites(1, err == nil)
		}
	case *dynamodb.UpdateItemInput:
		call = "UpdateItem"
		if billed {
			wrote = b.billWrites(1, err == nil)
		}
	case *dynamodb.DeleteItemInput:
		call = "DeleteItem"
		if billed {
			wrote = b.billWrites(1, err == nil)
		}
	case *dynamodb.BatchWriteItemInput:
		// "BatchWriteItem—Puts or deletes up to 25 items [...] DynamoDB
		// processes each item in the batch as an individual PutItem or
		// DeleteItem request." (moto processes every item of a batch.)
		call = "BatchWriteItem"
		if err == nil {
			wrote = b.billWrites(1, true)
		}
	case *dynamodb.TransactWriteItemsInput:
		// "Transactional write requests require two write capacity units to
		// perform one write per second for items up to 1 KB": each item of
		// the transaction, its index writes included, is billed twice. A
		// transaction cancelled by a condition is billed as failed
		// conditional writes of its items, twice.
		if billed {
			wrote = b.billWrites(2, err == nil)
		}
		for _, t := range v.TransactItems {
			switch {
			case t.Put != nil:
				actions = append(actions, "PutItem")
			case t.Update != nil:
				actions = append(actions, "UpdateItem")
			case t.Delete != nil:
				actions = append(actions, "DeleteItem")
			case t.ConditionCheck != nil:
				actions = append(actions, "ConditionCheckItem")
			}
		}
	default:
		call = "other"
	}
	if b.failed {
		read, wrote = 0, 0
	}
	m := b.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if call != "" {
		m.Calls[call]++
		m.actions[call]++
	} else {
		m.Calls["TransactWriteItems"]++
	}
	for _, a := range actions {
		m.actions[a]++
	}
	m.Read += read
	m.Write += wrote
	if !b.failed {
		for p, u := range b.parts {
			t := m.byPart[p]
			m.byPart[p] = PartitionUse{t.Requests + u.Requests, t.Read + u.Read, t.Write + u.Write}
		}
	}
}

// batchGet bills a BatchGetItem: "DynamoDB processes each item in the batch
// as an individual GetItem request", so each key it processed (every key asked
// for but the unprocessed ones) costs what a GetItem of it would: its item
// rounded up to 4 KB on its own, the whole item whatever a projection returns,
// and the minimum for a key with no item ("If you perform a read operation on
// an item that doesn't exist, DynamoDB will still consume read throughput").
func (b *biller) batchGet(v *dynamodb.BatchGetItemInput, out *dynamodb.BatchGetItemOutput) float64 {
	read := 0.0
	for tbl, ka := range v.RequestItems {
		t, err := b.m.table(b.ctx, b.db, tbl)
		if err != nil {
			b.failed = true
			return 0
		}
		got := map[string]attrs{}
		for _, item := range out.Responses[tbl] {
			got[keyString(item, t.keys)] = item
		}
		skipped := map[string]bool{}
		for _, k := range out.UnprocessedKeys[tbl].Keys {
			skipped[keyString(k, t.keys)] = true
		}
		for _, k := range ka.Keys {
			ks := keyString(k, t.keys)
			if skipped[ks] {
				continue
			}
			item := got[ks]
			if item != nil && ka.ProjectionExpression != nil {
				item = b.get(tbl, k)
			}
			u := readUnits(ItemSize(item), aws.ToBool(ka.ConsistentRead))
			read += u
			b.spend(partitionOf(t.name, "", t.keys[0], k), true, u, 0)
		}
	}
	return read
}

// page bills a Query page: "Query—Reads multiple items that have the same
// partition key value. All items returned are treated as a single read
// operation, whereby DynamoDB computes the total size of all items and then
// rounds up to the next 4 KB boundary", and "a filter expression [...] is
// applied after a Query finishes, but before the results are returned [...]
// the same amount of read capacity is consumed, regardless of whether a filter
// expression is present"; a projection or Select does not change what is read
// either. The sizes of the items evaluated are not in the answer, so the meter
// runs the same page again without filter, projection and Select: the same
// KeyConditionExpression, index, direction, ExclusiveStartKey and Limit
// ("the maximum number of items to evaluate (not necessarily the number of
// matching items)") evaluate the same items, and this time return them in
// full (index entries, for an index). ScannedCount with the returned sizes
// would not do: the filtered-out items' sizes are unknown.
func (b *biller) page(v *dynamodb.QueryInput, items []attrs) float64 {
	if v.FilterExpression != nil || v.ProjectionExpression != nil || v.Select != "" {
		q := *v
		q.FilterExpression, q.ProjectionExpression, q.Select = nil, nil, ""
		q.ExpressionAttributeNames, q.ExpressionAttributeValues = used(aws.ToString(v.KeyConditionExpression), v.ExpressionAttributeNames, v.ExpressionAttributeValues)
		out, err := b.db.Query(b.ctx, &q)
		if err != nil {
			b.failed = true
			return 0
		}
		items = out.Items
	}
	return readUnits(sizes(items), aws.ToBool(v.ConsistentRead))
}

// equality is "name = :value" in a key condition.
var equality = regexp.MustCompile(`([#A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)`)

// queried is the partition a Query reads: the value its key condition gives
// the hash key of its table or index.
func (b *biller) queried(v *dynamodb.QueryInput) Partition {
	p := Partition{Table: aws.ToString(v.TableName), Index: aws.ToString(v.IndexName)}
	t, err := b.m.table(b.ctx, b.db, p.Table)
	if err != nil {
		return p
	}
	hash := t.keys[0]
	for _, ix := range t.indexes {
		if ix.name == p.Index {
			hash = ix.keys[0]
		}
	}
	for _, m := range equality.FindAllStringSubmatch(aws.ToString(v.KeyConditionExpression), -1) {
		name := m[1]
		if n, ok := v.ExpressionAttributeNames[name]; ok {
			name = n
		}
		if name == hash {
			return partitionOf(p.Table, p.Index, hash, attrs{hash: v.ExpressionAttributeValues[m[2]]})
		}
	}
	return p
}

// scanPage bills a Scan page as page bills a Query page ("Scan—Reads all
// items in a table. DynamoDB considers the size of the items that are
// evaluated, not the size of the items returned by the scan").
func (b *biller) scanPage(v *dynamodb.ScanInput, items []attrs) float64 {
	if v.FilterExpression != nil || v.ProjectionExpression != nil || v.Select != "" {
		s := *v
		s.FilterExpression, s.ProjectionExpression, s.Select = nil, nil, ""
		s.ExpressionAttributeNames, s.ExpressionAttributeValues = nil, nil
		out, err := b.db.Scan(b.ctx, &s)
		if err != nil {
			b.failed = true
			return 0
		}
		items = out.Items
	}
	return readUnits(sizes(items), aws.ToBool(v.ConsistentRead))
}

var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

// used returns the expression attribute names and values expr uses (DynamoDB
// refuses a request that declares some it does not use).
func used(expr string, names map[string]string, values map[string]types.AttributeValue) (map[string]string, map[string]types.AttributeValue) {
	n, vs := map[string]string{}, map[string]types.AttributeValue{}
	for _, p := range placeholder.FindAllString(expr, -1) {
		if s, ok := names[p]; ok {
			n[p] = s
		}
		if v, ok := values[p]; ok {
			vs[p] = v
		}
	}
	if len(n) == 0 {
		n = nil
	}
	if len(vs) == 0 {
		vs = nil
	}
	return n, vs
}

func sizes(items []attrs) int {
	n := 0
	for _, it := range items {
		n += ItemSize(it)
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

// Requests is the number of requests of calls (a Snapshot's).
func Requests(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// ReportUnits adds the DynamoDB requests and units per operation to a
// benchmark's results.
func ReportUnits(b *testing.B, requests int, read, write float64) {
	b.ReportMetric(float64(requests)/float64(b.N), "ddb-requests/op")
	b.ReportMetric(read/float64(b.N), "read-units/op")
	b.ReportMetric(write/float64(b.N), "write-units/op")
}

// Usage is what a Meter counted: DynamoDB requests and capacity units.
type Usage struct {
	Requests    int
	Read, Write float64
}

// Usage returns what m counted so far.
func (m *Meter) Usage() Usage {
	calls, read, write := m.Snapshot()
	return Usage{Requests: Requests(calls), Read: read, Write: write}
}

// AddSince adds to u what m counted since it read from (m.Usage()): the cost
// of one measured operation, leaving out the setup around it.
func (u *Usage) AddSince(m *Meter, from Usage) {
	now := m.Usage()
	u.Requests += now.Requests - from.Requests
	u.Read += now.Read - from.Read
	u.Write += now.Write - from.Write
}

// Report adds u per operation to a benchmark's results (ReportUnits).
func (u Usage) Report(b *testing.B) { ReportUnits(b, u.Requests, u.Read, u.Write) }
