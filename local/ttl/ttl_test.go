package ttl

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/testaws"
)

func TestSweep_DeletesOnlyItemsPastTheirTTL(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	now := time.Unix(2_000_000_000, 0)
	put := func(sk string, exp types.AttributeValue) {
		item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t#X"}, "SK": &types.AttributeValueMemberS{Value: sk}}
		if exp != nil {
			item["expiresAt"] = exp
		}
		if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put("past", &types.AttributeValueMemberN{Value: "1999999999"})
	put("now", &types.AttributeValueMemberN{Value: "2000000000"})
	put("future", &types.AttributeValueMemberN{Value: "2000000100"})
	put("no-ttl", nil)
	put("text-ttl", &types.AttributeValueMemberS{Value: "1"})
	ledger := NewLedger()
	p := &Process{DB: tt.DB, Ledger: ledger, Now: func() time.Time { return now },
		Tables: []Table{{Name: tt.Data, Attribute: "expiresAt", KeyNames: []string{"PK", "SK"}}}}
	n, err := p.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	for _, sk := range []string{"now", "future", "no-ttl", "text-ttl"} {
		out, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.Data),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t#X"}, "SK": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			t.Errorf("%s was deleted (%v)", sk, err)
		}
	}
	key := map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("T#t#X"), "SK": events.NewStringAttribute("past")}
	for i := range 2 { // every mapping of the stream asks
		if !ledger.Removed(tt.Data, key, time.Now()) {
			t.Errorf("asker %d: the ledger does not know the deletion", i)
		}
	}
	if ledger.Removed(tt.Data, key, time.Now().Add(2*time.Minute)) {
		t.Error("a removal long after the TTL deletion counts as the TTL's")
	}
	other := map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("T#t#X"), "SK": events.NewStringAttribute("future")}
	if ledger.Removed(tt.Data, other, time.Time{}) {
		t.Error("a key the TTL process kept counts as removed")
	}
	if n, _ := p.Sweep(ctx); n != 0 {
		t.Errorf("second sweep deleted %d", n)
	}
}

// countingDB counts the requests a sweep makes.
type countingDB struct {
	DB
	mu             sync.Mutex
	scans, deletes int
}

func (c *countingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.mu.Lock()
	c.scans++
	c.mu.Unlock()
	return c.DB.Scan(ctx, in, opts...)
}

func (c *countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.mu.Lock()
	c.deletes++
	c.mu.Unlock()
	return c.DB.DeleteItem(ctx, in, opts...)
}

// A streamed table's sweep costs one conditional delete per expired item:
// it reads no item of a table that grows, and follows renewals and removals.
func TestSweep_StreamedTableDeletesWhatTheStreamShowsExpired(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Unix(2_000_000_000, 0)
	key := func(sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t#X"}, "SK": &types.AttributeValueMemberS{Value: sk}}
	}
	put := func(sk string, exp types.AttributeValue) {
		item := key(sk)
		if exp != nil {
			item["expiresAt"] = exp
		}
		if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	past, future := &types.AttributeValueMemberN{Value: "1999999999"}, &types.AttributeValueMemberN{Value: "2000000100"}
	for i := range 300 { // the table grows; none of these expire
		put(fmt.Sprintf("keep-%03d", i), future)
	}
	put("past", past)
	put("now", &types.AttributeValueMemberN{Value: "2000000000"})
	put("no-ttl", nil)
	put("text-ttl", &types.AttributeValueMemberS{Value: "1"})
	put("renewed", past)
	put("renewed", future)
	put("dropped-ttl", past)
	put("dropped-ttl", nil)
	put("gone", past)
	if _, err := tt.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tt.Data), Key: key("gone")}); err != nil {
		t.Fatal(err)
	}
	put("last", future) // the stream's last record: once seen, every record is

	db := &countingDB{DB: tt.DB}
	ledger := NewLedger()
	p := &Process{DB: db, Ledger: ledger, Now: func() time.Time { return now },
		Tables: []Table{{Name: tt.Data, Attribute: "expiresAt", KeyNames: []string{"PK", "SK"}, Streamed: true}}}
	m := &streams.Mapping{Name: "ttl", StreamArn: tt.StreamArn, Function: p, BatchSize: 1000,
		StartingPosition: "TRIM_HORIZON", MaximumRetryAttempts: -1, PollInterval: 20 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler)}
	go m.Run(ctx, dynamodbstreams.NewFromConfig(testaws.Config(t)))
	lastKey := keyString(tt.Data, streamevent.Image(key("last")))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		_, seen := p.due[lastKey]
		p.mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process never saw the stream's last record")
		}
	}

	n, err := p.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	if db.scans != 0 || db.deletes != 1 {
		t.Errorf("the sweep made %d scans and %d deletes; want 0 and 1 (the expired item only)", db.scans, db.deletes)
	}
	if out, _ := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.Data), Key: key("past")}); out == nil || out.Item != nil {
		t.Error("the expired item is still there")
	}
	for _, sk := range []string{"now", "no-ttl", "text-ttl", "renewed", "dropped-ttl", "keep-000", "last"} {
		out, err := tt.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.Data), Key: key(sk)})
		if err != nil || out.Item == nil {
			t.Errorf("%s was deleted (%v)", sk, err)
		}
	}
	if !ledger.Removed(tt.Data, streamevent.Image(key("past")), time.Now()) {
		t.Error("the ledger does not know the deletion")
	}
	if n, _ := p.Sweep(ctx); n != 0 || db.deletes != 1 {
		t.Errorf("second sweep deleted %d (%d deletes in all)", n, db.deletes)
	}
}

func TestInvoke_RefusesAnUnreadableBatch(t *testing.T) {
	p := &Process{Tables: []Table{{Name: "T", Attribute: "expiresAt", KeyNames: []string{"PK"}, Streamed: true}}}
	if _, err := p.Invoke(context.Background(), []byte(`{"Records":[`)); err == nil {
		t.Error("an unreadable batch was accepted")
	}
}
