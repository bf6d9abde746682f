package ttl

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
