package testaws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Sizes used below (an attribute costs its name's bytes plus its value's):
//
//	PK "T#a" 2+3 = 5, SK "X#1" 2+3 = 5                       table key: 10
//	GSI1PK "C#a" 6+3 = 9, GSI1SK "1" 6+1 = 7                  GSI1 key: 16 (GSI1 projects ALL)
//	GSI2PK "R#a" 6+3 = 9, GSI2SK "2024" 6+4 = 10              GSI2 key: 19
//	expiresAt N "1700000000" 9 + (10+1)/2+1 = 15              (GSI2 projects it)
//	body S of n bytes: 4+n                                     (projected by GSI1 only)
//
// A GSI2 entry is table key + GSI2 key + expiresAt = 10+19+15 = 44 bytes: 1 WCU.

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// base is an item with the table key and a body of n bytes.
func base(pk, sk string, n int) attrs {
	return attrs{"PK": s(pk), "SK": s(sk), "body": s(strings.Repeat("b", n))}
}

// inGSI2 adds GSI2 keys and expiresAt to it.
func inGSI2(it attrs) attrs {
	it["GSI2PK"], it["GSI2SK"] = s("R#a"), s("2024")
	it["expiresAt"] = &types.AttributeValueMemberN{Value: "1700000000"}
	return it
}

// inGSI1 adds GSI1 keys to it.
func inGSI1(it attrs) attrs {
	it["GSI1PK"], it["GSI1SK"] = s("C#a"), s("1")
	return it
}

type meterFixture struct {
	t     *testing.T
	m     *Meter
	db    *dynamodb.Client // metered
	raw   *dynamodb.Client
	table string
}

func newMeterFixture(t *testing.T) *meterFixture {
	tt := NewTables(t)
	m := NewMeter()
	return &meterFixture{t: t, m: m, db: m.Client(Config(t)), raw: tt.DB, table: tt.Data}
}

// seed writes items without the meter, checking each one's size first.
func (f *meterFixture) seed(size int, items ...attrs) {
	f.t.Helper()
	for _, it := range items {
		if got := ItemSize(it); got != size {
			f.t.Fatalf("fixture item is %d bytes, want %d", got, size)
		}
		if _, err := f.raw.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &f.table, Item: it}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// bill resets the meter, runs call and checks the units it cost and that the
// only call counted is want (the meter's own reads are not counted).
func (f *meterFixture) bill(want string, rcu, wcu float64, call func(context.Context, *dynamodb.Client) error, wantErr bool) {
	f.t.Helper()
	f.m.Reset()
	err := call(context.Background(), f.db)
	if (err != nil) != wantErr {
		f.t.Fatalf("call error %v, want error: %v", err, wantErr)
	}
	calls, read, write := f.m.Snapshot()
	if got := fmt.Sprint(calls); got != fmt.Sprintf("map[%s:1]", want) {
		f.t.Errorf("calls %s, want one %s", got, want)
	}
	if read != rcu || write != wcu {
		f.t.Errorf("billed %.1f RCU %.1f WCU, want %.1f RCU %.1f WCU", read, write, rcu, wcu)
	}
}

func (f *meterFixture) put(it attrs) func(context.Context, *dynamodb.Client) error {
	return func(ctx context.Context, db *dynamodb.Client) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &f.table, Item: it})
		return err
	}
}

func (f *meterFixture) update(pk, sk, expr string, values attrs) func(context.Context, *dynamodb.Client) error {
	return func(ctx context.Context, db *dynamodb.Client) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &f.table, Key: attrs{"PK": s(pk), "SK": s(sk)},
			UpdateExpression: aws.String(expr), ExpressionAttributeValues: values})
		return err
	}
}

func TestMeter_Writes(t *testing.T) {
	f := newMeterFixture(t)
	t.Run("0.5 KB put in both indexes", func(t *testing.T) {
		f.t = t
		// 10 + 16 + 19 + 15 + 4+448 = 512 bytes: 1 WCU; GSI1 entry (ALL) 512
		// bytes: 1 put; GSI2 entry 44 bytes: 1 put. 3 WCU.
		it := inGSI1(inGSI2(base("T#a", "P#1", 448)))
		if ItemSize(it) != 512 {
			t.Fatalf("item is %d bytes", ItemSize(it))
		}
		f.bill("PutItem", 0, 3, f.put(it), false)
	})
	t.Run("1.5 KB put outside the indexes", func(t *testing.T) {
		f.t = t
		// 10 + 4+1522 = 1536 bytes = 1.5 KB: 2 WCU, no index entry.
		f.bill("PutItem", 0, 2, f.put(base("T#a", "P#2", 1522)), false)
	})
	t.Run("put over a larger item", func(t *testing.T) {
		f.t = t
		// A 3 KB item (10 + 4+3058 = 3072) replaced by a 14-byte one: the
		// larger of the two, 3 WCU.
		f.seed(3072, base("T#a", "P#3", 3058))
		f.bill("PutItem", 0, 3, f.put(base("T#a", "P#3", 0)), false)
	})
	t.Run("update shrinking 3 KB to 1 KB", func(t *testing.T) {
		f.t = t
		// 10 + 4+3058 = 3072 bytes before, 10 + 4+1010 = 1024 after: the
		// larger, 3 KB = 3 WCU (the old meter billed any update 1).
		f.seed(3072, base("T#a", "U#1", 3058))
		f.bill("UpdateItem", 0, 3, f.update("T#a", "U#1", "SET body = :b", attrs{":b": s(strings.Repeat("b", 1010))}), false)
	})
	t.Run("update of a projected attribute", func(t *testing.T) {
		f.t = t
		// 10 + 19 + 15 + 4+100 = 148 bytes: 1 WCU; SET expiresAt changes
		// GSI2's entry (it projects expiresAt), key unchanged: 1 index
		// update of 44 bytes. 2 WCU (the old meter: 1).
		f.seed(148, inGSI2(base("T#a", "U#2", 100)))
		f.bill("UpdateItem", 0, 2, f.update("T#a", "U#2", "SET expiresAt = :e",
			attrs{":e": &types.AttributeValueMemberN{Value: "1700000001"}}), false)
	})
	t.Run("update of an attribute no index projects", func(t *testing.T) {
		f.t = t
		// 148 bytes as above; body is not in GSI2's entry: no index write. 1 WCU.
		f.seed(148, inGSI2(base("T#a", "U#3", 100)))
		f.bill("UpdateItem", 0, 1, f.update("T#a", "U#3", "SET body = :b", attrs{":b": s(strings.Repeat("c", 100))}), false)
	})
	t.Run("update of an attribute GSI1 projects (ALL)", func(t *testing.T) {
		f.t = t
		// 10 + 16 + 4+100 = 130 bytes: 1 WCU; GSI1 projects ALL, so the new
		// body updates its entry: 1 more. 2 WCU.
		f.seed(130, inGSI1(base("T#a", "U#4", 100)))
		f.bill("UpdateItem", 0, 2, f.update("T#a", "U#4", "SET body = :b", attrs{":b": s(strings.Repeat("c", 100))}), false)
	})
	t.Run("update moving GSI2 keys", func(t *testing.T) {
		f.t = t
		// 148 bytes: 1 WCU; GSI2SK 2024 -> 2025 moves the entry: a delete (44
		// bytes, 1) and a put (44 bytes, 1). 3 WCU.
		f.seed(148, inGSI2(base("T#a", "U#5", 100)))
		f.bill("UpdateItem", 0, 3, f.update("T#a", "U#5", "SET GSI2SK = :k", attrs{":k": s("2025")}), false)
	})
	t.Run("update taking an item out of GSI2", func(t *testing.T) {
		f.t = t
		// 148 bytes before, 148-19 = 129 after: 1 WCU; the entry leaves GSI2: 1 delete. 2 WCU.
		f.seed(148, inGSI2(base("T#a", "U#6", 100)))
		f.bill("UpdateItem", 0, 2, f.update("T#a", "U#6", "REMOVE GSI2PK, GSI2SK", nil), false)
	})
	t.Run("delete of an indexed item", func(t *testing.T) {
		f.t = t
		// 148 bytes: 1 WCU; its GSI2 entry is deleted: 1. 2 WCU (the old meter: 1).
		f.seed(148, inGSI2(base("T#a", "D#1", 100)))
		f.bill("DeleteItem", 0, 2, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &f.table, Key: attrs{"PK": s("T#a"), "SK": s("D#1")}})
			return err
		}, false)
	})
	t.Run("delete of a 2.5 KB item", func(t *testing.T) {
		f.t = t
		// 10 + 4+2546 = 2560 bytes: 3 WCU (the old meter: 1).
		f.seed(2560, base("T#a", "D#2", 2546))
		f.bill("DeleteItem", 0, 3, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &f.table, Key: attrs{"PK": s("T#a"), "SK": s("D#2")}})
			return err
		}, false)
	})
	t.Run("transaction of two 1 KB puts", func(t *testing.T) {
		f.t = t
		// Each: 10 + 19 + 15 + 4+976 = 1024 bytes, 1 WCU, and a GSI2 put of
		// 44 bytes, 1 WCU; twice in a transaction: 4 each, 8 WCU (the old
		// meter: 4, no index writes).
		a, b := inGSI2(base("T#a", "X#1", 976)), inGSI2(base("T#a", "X#2", 976))
		if ItemSize(a) != 1024 {
			t.Fatalf("item is %d bytes", ItemSize(a))
		}
		f.bill("TransactWriteItems", 0, 8, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &f.table, Item: a}}, {Put: &types.Put{TableName: &f.table, Item: b}}}})
			return err
		}, false)
	})
	t.Run("batch of two indexed puts", func(t *testing.T) {
		f.t = t
		// Each 148 bytes (1 WCU) with a GSI2 put (1 WCU): 4 WCU (the old meter: 2).
		f.bill("BatchWriteItem", 0, 4, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{f.table: {
				{PutRequest: &types.PutRequest{Item: inGSI2(base("T#a", "B#1", 100))}},
				{PutRequest: &types.PutRequest{Item: inGSI2(base("T#a", "B#2", 100))}}}}})
			return err
		}, false)
	})
	t.Run("failed conditional put", func(t *testing.T) {
		f.t = t
		// The existing item is 10 + 4+1522 = 1536 bytes, the refused one 14:
		// a failed condition is billed on the existing item's size, 2 WCU,
		// and writes no index.
		f.seed(1536, inGSI2(base("T#a", "F#1", 1522-19-15)))
		f.bill("PutItem", 0, 2, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &f.table, Item: base("T#a", "F#1", 0),
				ConditionExpression: aws.String("attribute_not_exists(PK)")})
			if ccf := (*types.ConditionalCheckFailedException)(nil); !errors.As(err, &ccf) {
				t.Errorf("put error %v, want a failed condition", err)
			}
			return err
		}, true)
	})
	t.Run("failed conditional update of a missing item", func(t *testing.T) {
		f.t = t
		// No item: the minimum, 1 WCU.
		f.bill("UpdateItem", 0, 1, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &f.table, Key: attrs{"PK": s("T#a"), "SK": s("F#2")},
				UpdateExpression: aws.String("SET body = :b"), ConditionExpression: aws.String("attribute_exists(PK)"),
				ExpressionAttributeValues: attrs{":b": s("x")}})
			return err
		}, true)
	})
	t.Run("cancelled transaction", func(t *testing.T) {
		f.t = t
		// A put onto the 1536-byte item of "failed conditional put" under
		// attribute_not_exists: 2 WCU, and a 14-byte put: 1 WCU; twice: 6 WCU.
		f.bill("TransactWriteItems", 0, 6, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &f.table, Item: base("T#a", "F#1", 0), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
				{Put: &types.Put{TableName: &f.table, Item: base("T#a", "F#3", 0)}}}})
			return err
		}, true)
	})
	t.Run("request refused before writing", func(t *testing.T) {
		f.t = t
		// A validation error (no key) writes nothing and is not billed.
		f.bill("PutItem", 0, 0, f.put(attrs{"body": s("x")}), true)
	})
}

func TestMeter_Reads(t *testing.T) {
	f := newMeterFixture(t)
	// Ten items of partition Q: 2+1 + 2+2 + 4+989 = 1000 bytes, the fifth
	// with hit (3+1 = 4): 1004 bytes. 10,004 bytes in all.
	var total int
	for i := range 10 {
		it := base("Q", fmt.Sprintf("%02d", i), 989)
		if i == 4 {
			it["hit"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		f.seed(ItemSize(it), it)
		total += ItemSize(it)
	}
	if total != 10004 {
		t.Fatalf("partition Q holds %d bytes, want 10004", total)
	}
	query := func(consistent bool, limit int32, filter bool) func(context.Context, *dynamodb.Client) error {
		return func(ctx context.Context, db *dynamodb.Client) error {
			in := &dynamodb.QueryInput{TableName: &f.table, KeyConditionExpression: aws.String("PK = :p"),
				ExpressionAttributeValues: attrs{":p": s("Q")}, ConsistentRead: aws.Bool(consistent)}
			if filter {
				in.FilterExpression = aws.String("#h = :t")
				in.ExpressionAttributeNames = map[string]string{"#h": "hit"}
				in.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberBOOL{Value: true}
			}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			out, err := db.Query(ctx, in)
			if err == nil && filter && limit == 0 && len(out.Items) != 1 {
				t.Errorf("filtered query returned %d items, want 1", len(out.Items))
			}
			return err
		}
	}
	t.Run("query filtering 1 of 10", func(t *testing.T) {
		f.t = t
		// Billed on the 10 items read, 10,004 bytes: 3 x 4 KB = 3 RCU
		// strongly consistent (the old meter: the 1,004 returned, 1).
		f.bill("Query", 3, 0, query(true, 0, true), false)
	})
	t.Run("eventually consistent query filtering 1 of 10", func(t *testing.T) {
		f.t = t
		// Half of 3: 1.5 RCU.
		f.bill("Query", 1.5, 0, query(false, 0, true), false)
	})
	t.Run("query with a limit and a filter", func(t *testing.T) {
		f.t = t
		// Limit 5 evaluates 5 items, 5,004 bytes: 2 RCU.
		f.bill("Query", 2, 0, query(true, 5, true), false)
	})
	t.Run("query without filter", func(t *testing.T) {
		f.t = t
		f.bill("Query", 3, 0, query(true, 0, false), false)
	})
	t.Run("query with a projection", func(t *testing.T) {
		f.t = t
		// Returns only the keys, but reads the 10,004 bytes: 3 RCU.
		f.bill("Query", 3, 0, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.Query(ctx, &dynamodb.QueryInput{TableName: &f.table, KeyConditionExpression: aws.String("PK = :p"),
				ExpressionAttributeValues: attrs{":p": s("Q")}, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("SK")})
			return err
		}, false)
	})
	t.Run("query of a sparse index", func(t *testing.T) {
		f.t = t
		// Two items in GSI2 partition R#b, entries of 10 + 19 + 15 = 44 bytes
		// (their 400-byte bodies are not projected): 88 bytes, 1 unit,
		// eventually consistent: 0.5 RCU.
		for _, sk := range []string{"G#1", "G#2"} {
			it := inGSI2(base("T#a", sk, 400))
			it["GSI2PK"] = s("R#b")
			f.seed(448, it)
		}
		f.bill("Query", 0.5, 0, func(ctx context.Context, db *dynamodb.Client) error {
			out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: &f.table, IndexName: aws.String("GSI2"),
				KeyConditionExpression: aws.String("GSI2PK = :p"), ExpressionAttributeValues: attrs{":p": s("R#b")},
				FilterExpression: aws.String("attribute_exists(expiresAt)")})
			if err == nil && len(out.Items) != 2 {
				t.Errorf("index query returned %d items, want 2", len(out.Items))
			}
			return err
		}, false)
	})
	t.Run("get with a projection", func(t *testing.T) {
		f.t = t
		// A 5 KB item (10 + 4+5106 = 5120) read for its key alone: billed on
		// the whole item, 2 x 4 KB = 2 RCU strongly consistent.
		f.seed(5120, base("T#a", "G#5", 5106))
		f.bill("GetItem", 2, 0, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: attrs{"PK": s("T#a"), "SK": s("G#5")},
				ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("PK")})
			return err
		}, false)
	})
	t.Run("get of a missing item", func(t *testing.T) {
		f.t = t
		// The minimum, eventually consistent: 0.5 RCU.
		f.bill("GetItem", 0.5, 0, func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: attrs{"PK": s("T#a"), "SK": s("none")}})
			return err
		}, false)
	})
	t.Run("batch get with a missing key", func(t *testing.T) {
		f.t = t
		// Each key as its own eventually consistent GetItem: Q/00 (1,000
		// bytes) 0.5, G#5 (5,120 bytes, 2 x 4 KB) 1, the missing key the
		// minimum 0.5: 2 RCU.
		f.bill("BatchGetItem", 2, 0, func(ctx context.Context, db *dynamodb.Client) error {
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{f.table: {Keys: []attrs{
				{"PK": s("Q"), "SK": s("00")}, {"PK": s("T#a"), "SK": s("G#5")}, {"PK": s("T#a"), "SK": s("none")}}}}})
			if err == nil && len(out.Responses[f.table]) != 2 {
				t.Errorf("batch get returned %d items, want 2", len(out.Responses[f.table]))
			}
			return err
		}, false)
	})
	t.Run("scan with a filter", func(t *testing.T) {
		f.t = t
		// A scan reads every item of the table: billed on all of them,
		// not on the one returned; at least the 10,004 bytes of Q: 3 RCU
		// or more strongly consistent.
		f.m.Reset()
		_, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &f.table, ConsistentRead: aws.Bool(true),
			FilterExpression: aws.String("attribute_exists(hit)")})
		if err != nil {
			t.Fatal(err)
		}
		if _, read, _ := f.m.Snapshot(); read < 3 {
			t.Errorf("scan billed %.1f RCU, want at least 3", read)
		}
	})
}

// TestMeter_ByPartition: each call's requests and units land on the
// partition key values it addressed; a table write's index entries on their
// index partitions (units, no request); a transaction on each item's
// partition, twice.
func TestMeter_ByPartition(t *testing.T) {
	f := newMeterFixture(t)
	ctx := context.Background()
	f.seed(510, base("T#b", "X#1", 496)) // 10 + 4+496
	f.m.Reset()
	// A put into GSI1 (C#a) and GSI2 (R#a): 1 WCU each.
	if err := f.put(inGSI1(inGSI2(base("T#a", "X#1", 10))))(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: attrs{"PK": s("T#b"), "SK": s("X#1")},
		ConsistentRead: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Query(ctx, &dynamodb.QueryInput{TableName: &f.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("#p = :p AND GSI1SK >= :s"),
		ExpressionAttributeNames:  map[string]string{"#p": "GSI1PK"},
		ExpressionAttributeValues: attrs{":p": s("C#a"), ":s": s("0")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: &f.table, Key: attrs{"PK": s("T#b"), "SK": s("X#1")},
			ConditionExpression: aws.String("attribute_exists(PK)")}},
		{Put: &types.Put{TableName: &f.table, Item: base("T#c", "X#1", 0)}},
	}}); err != nil {
		t.Fatal(err)
	}
	got := f.m.ByPartition()
	want := map[Partition]PartitionUse{
		{Table: f.table, Key: "T#a"}:                {Requests: 1, Write: 1},
		{Table: f.table, Index: "GSI1", Key: "C#a"}: {Requests: 1, Read: 0.5, Write: 1},
		{Table: f.table, Index: "GSI2", Key: "R#a"}: {Write: 1},
		{Table: f.table, Key: "T#b"}:                {Requests: 2, Read: 1, Write: 2},
		{Table: f.table, Key: "T#c"}:                {Requests: 1, Write: 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by partition:\n%v\nwant\n%v", got, want)
	}
}
