package moto

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// streamTable starts moto (with env set first) and makes a table with a
// NEW_AND_OLD_IMAGES stream; it returns the clients, the table and its shard.
func streamTable(t testing.TB, env map[string]string) (*dynamodb.Client, *dynamodbstreams.Client, string, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	return streamTableOn(t, start(t))
}

// streamTableOn is streamTable on a running moto.
func streamTableOn(t testing.TB, srv *Server) (*dynamodb.Client, *dynamodbstreams.Client, string, string, string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	db, st := dynamodb.NewFromConfig(cfg), dynamodbstreams.NewFromConfig(cfg)
	out, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String("patched"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := *out.TableDescription.LatestStreamArn
	d, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return db, st, "patched", arn, *d.StreamDescription.Shards[0].ShardId
}

func item(pk, sk, v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk},
		"v": &types.AttributeValueMemberS{Value: v},
	}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

func put(t testing.TB, db *dynamodb.Client, table string, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatal(err)
	}
}

// records reads the shard from iter until it answers empty; it returns the
// records' v values (new image, else old) and the next iterator.
func records(t *testing.T, st *dynamodbstreams.Client, iter *string) ([]string, *string, error) {
	t.Helper()
	var vs []string
	for {
		res, err := st.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return vs, nil, err
		}
		for _, r := range res.Records {
			img := r.Dynamodb.NewImage
			if img == nil {
				img = r.Dynamodb.OldImage
			}
			vs = append(vs, fmt.Sprintf("%s:%s", r.EventName, img["v"].(*stypes.AttributeValueMemberS).Value))
		}
		iter = res.NextShardIterator
		if len(res.Records) == 0 {
			return vs, iter, nil
		}
	}
}

func iterator(t *testing.T, st *dynamodbstreams.Client, arn, shard string, typ stypes.ShardIteratorType, seq string) (*string, error) {
	t.Helper()
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = aws.String(seq)
	}
	out, err := st.GetShardIterator(context.Background(), in)
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

// A cancelled transaction changes no item and writes no stream record, and the
// stream goes on where it was: moto used to put back a deep copy of the whole
// table, so a reader's iterator was left on a shard nothing wrote to again.
func TestPatch_CancelledTransactionRollsBackItemsOnly(t *testing.T) {
	db, st, table, arn, shard := streamTable(t, nil)
	ctx := context.Background()
	put(t, db, table, item("a", "1", "first"))
	iter, err := iterator(t, st, arn, shard, stypes.ShardIteratorTypeTrimHorizon, "")
	if err != nil {
		t.Fatal(err)
	}
	got, iter, err := records(t, st, iter)
	if err != nil || len(got) != 1 {
		t.Fatalf("before: %v %v", got, err)
	}
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: item("b", "1", "rolled back")}},
		{Update: &types.Update{TableName: aws.String(table), Key: key("a", "1"),
			UpdateExpression: aws.String("SET v = :v"), ConditionExpression: aws.String("v = :old"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": &types.AttributeValueMemberS{Value: "changed"}, ":old": &types.AttributeValueMemberS{Value: "not first"}}}},
	}})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		t.Fatalf("transaction: %v, want cancelled", err)
	}
	for pk, want := range map[string]string{"a": "first", "b": ""} {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk, "1"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		v := ""
		if out.Item != nil {
			v = out.Item["v"].(*types.AttributeValueMemberS).Value
		}
		if v != want {
			t.Errorf("item %s after the cancelled transaction: %q, want %q", pk, v, want)
		}
	}
	put(t, db, table, item("c", "1", "after"))
	got, _, err = records(t, st, iter)
	if err != nil || len(got) != 1 || got[0] != "INSERT:after" {
		t.Fatalf("the reader's iterator after the cancelled transaction read %v (%v), want [INSERT:after]", got, err)
	}
}

// A transaction sent again with its client request token (the SDK's resend
// after a lost answer) succeeds without being applied again, as on AWS: no
// second stream record, and its conditions are not checked against its own
// writes. The same token with other items is refused; a new token is a new
// transaction. moto used to apply the resend, which failed its conditions.
func TestPatch_TransactionResendWithItsTokenIsDoneOnce(t *testing.T) {
	db, st, table, arn, shard := streamTable(t, nil)
	ctx := context.Background()
	iter, err := iterator(t, st, arn, shard, stypes.ShardIteratorTypeLatest, "")
	if err != nil {
		t.Fatal(err)
	}
	tx := func(token, v string) error {
		it := item("once", "1", v)
		it["blob"] = &types.AttributeValueMemberB{Value: []byte{0, 1, 2}} // binary values, too
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String(token),
			TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String(table), Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			}})
		return err
	}
	if err := tx("token-1", "first"); err != nil {
		t.Fatal(err)
	}
	if err := tx("token-1", "first"); err != nil {
		t.Fatalf("the resend with its token: %v, want success", err)
	}
	var mismatch *types.IdempotentParameterMismatchException
	if err := tx("token-1", "other"); !errors.As(err, &mismatch) {
		t.Fatalf("the token with other items: %v, want IdempotentParameterMismatchException", err)
	}
	var cancelled *types.TransactionCanceledException
	if err := tx("token-2", "first"); !errors.As(err, &cancelled) {
		t.Fatalf("a new transaction: %v, want cancelled (the item exists)", err)
	}
	got, _, err := records(t, st, iter)
	if err != nil || len(got) != 1 || got[0] != "INSERT:first" {
		t.Fatalf("stream records %v (%v), want the one insert", got, err)
	}
}

// Records older than the retention are gone: TRIM_HORIZON starts after them,
// and an iterator asking for one gets TrimmedDataAccessException, as on AWS.
func TestPatch_StreamRecordsAreKeptForTheRetention(t *testing.T) {
	db, st, table, arn, shard := streamTable(t, map[string]string{"MOTO_STREAM_RETENTION_SECONDS": "1"})
	put(t, db, table, item("a", "1", "old"))
	iter, _ := iterator(t, st, arn, shard, stypes.ShardIteratorTypeTrimHorizon, "")
	res, err := st.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("fresh record: %v %v", res, err)
	}
	oldSeq := *res.Records[0].Dynamodb.SequenceNumber
	time.Sleep(1500 * time.Millisecond)
	put(t, db, table, item("a", "2", "new"))
	iter, err = iterator(t, st, arn, shard, stypes.ShardIteratorTypeTrimHorizon, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := records(t, st, iter); err != nil || len(got) != 1 || got[0] != "INSERT:new" {
		t.Fatalf("from the trim horizon: %v (%v), want [INSERT:new]", got, err)
	}
	iter, err = iterator(t, st, arn, shard, stypes.ShardIteratorTypeAtSequenceNumber, oldSeq)
	if err == nil {
		_, _, err = records(t, st, iter)
	}
	var trimmed *stypes.TrimmedDataAccessException
	if !errors.As(err, &trimmed) {
		t.Fatalf("reading the expired record: %v, want TrimmedDataAccessException", err)
	}
}

// Shard iterators expire (moto kept every one, and each GetRecords makes a
// new one): an old iterator is ExpiredIteratorException, as on AWS.
func TestPatch_ShardIteratorsExpire(t *testing.T) {
	db, st, table, arn, shard := streamTable(t, map[string]string{"MOTO_ITERATOR_LIFE_SECONDS": "1"})
	put(t, db, table, item("a", "1", "x"))
	old, _ := iterator(t, st, arn, shard, stypes.ShardIteratorTypeTrimHorizon, "")
	time.Sleep(1500 * time.Millisecond)
	if _, err := iterator(t, st, arn, shard, stypes.ShardIteratorTypeTrimHorizon, ""); err != nil {
		t.Fatal(err)
	}
	_, err := st.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: old})
	var expired *stypes.ExpiredIteratorException
	if !errors.As(err, &expired) {
		t.Fatalf("an iterator past its life: %v, want ExpiredIteratorException", err)
	}
}

// A paged scan still returns every item once, in key order, while the table
// changes between its pages (the patch starts each page at its start key and
// may reuse the sorted list for a later page).
func TestPatch_PagedScanReturnsEveryItemOnce(t *testing.T) {
	db, _, table, _, _ := streamTable(t, nil)
	ctx := context.Background()
	for i := range 250 {
		put(t, db, table, item(fmt.Sprintf("p%d", i%7), fmt.Sprintf("s%04d", i), "x"))
	}
	seen := map[string]int{}
	var start map[string]types.AttributeValue
	for page := 0; ; page++ {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(40), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			seen[it["SK"].(*types.AttributeValueMemberS).Value]++
		}
		put(t, db, table, item("other", fmt.Sprintf("w%02d", page), "x")) // a write between pages
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	for i := range 250 {
		if k := fmt.Sprintf("s%04d", i); seen[k] != 1 {
			t.Fatalf("item %s seen %d times", k, seen[k])
		}
	}
}

// Rewriting one item keeps moto's memory flat: moto as shipped keeps every
// model object it makes (each old version of the item, each stream record and
// shard iterator) in a list for its reset API, so it grows with every write.
func TestPatch_RewritesDoNotGrowMemory(t *testing.T) {
	t.Setenv("MOTO_STREAM_RETENTION_SECONDS", "1")
	t.Setenv("MOTO_ITERATOR_LIFE_SECONDS", "1")
	srv := start(t)
	db, st, table, arn, shard := streamTableOn(t, srv)
	ctx := context.Background()
	var iter *string
	rewrite := func(n int) {
		for i := range n {
			put(t, db, table, item("P", "S", fmt.Sprintf("version %d of a value long enough to weigh something: %0200d", i, i)))
			if i%10 != 0 {
				continue
			}
			// A reader polls the stream meanwhile (from its latest record
			// again when its position has expired).
			res, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if iter == nil || err != nil {
				it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: stypes.ShardIteratorTypeLatest})
				if err != nil {
					t.Fatal(err)
				}
				iter = it.ShardIterator
				continue
			}
			iter = res.NextShardIterator
		}
	}
	rewrite(500) // warm up: the allocator's pools and moto's caches
	time.Sleep(1100 * time.Millisecond)
	before := RSS(srv.Pid())
	rewrite(3000)
	time.Sleep(1100 * time.Millisecond) // past the records' and iterators' life
	rewrite(1)
	grew := RSS(srv.Pid()) - before
	t.Logf("moto grew %d KiB over 3,000 rewrites of one item", grew>>10)
	if grew > 3<<20 {
		t.Errorf("moto grew %d KiB over 3,000 rewrites of one item; want it flat (under 3 MiB)", grew>>10)
	}
}
