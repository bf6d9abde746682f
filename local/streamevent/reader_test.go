package streamevent_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/local/testaws"
)

// TestReader_ReadsWhatMotosStreamHolds writes an item with nested values and
// reads its INSERT and REMOVE back from the real stream, converted.
func TestReader_ReadsWhatMotosStreamHolds(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	item := map[string]types.AttributeValue{
		"PK":   &types.AttributeValueMemberS{Value: "T#t#X"},
		"SK":   &types.AttributeValueMemberS{Value: "A"},
		"blob": &types.AttributeValueMemberB{Value: []byte("hi")},
		"tags": &types.AttributeValueMemberSS{Value: []string{"x"}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "3"}, &types.AttributeValueMemberNULL{Value: true}}}}},
	}
	if _, err := tt.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tt.Data), Item: item}); err != nil {
		t.Fatal(err)
	}
	if _, err := tt.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tt.Data),
		Key: map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}}); err != nil {
		t.Fatal(err)
	}
	r := &streamevent.Reader{Client: dynamodbstreams.NewFromConfig(testaws.Config(t)), StreamArn: tt.StreamArn}
	recs, err := r.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].EventName != "INSERT" || recs[1].EventName != "REMOVE" {
		t.Fatalf("records = %+v", recs)
	}
	want, _ := json.Marshal(streamevent.Image(item))
	for i, img := range []any{recs[0].Change.NewImage, recs[1].Change.OldImage} {
		got, _ := json.Marshal(img)
		var g, w any
		json.Unmarshal(got, &g)
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("record %d image = %s, want %s", i, got, want)
		}
	}
	if recs[0].EventSourceArn != tt.StreamArn || recs[1].UserIdentity != nil {
		t.Errorf("source %q, identity %+v", recs[0].EventSourceArn, recs[1].UserIdentity)
	}
	if more, err := r.Read(ctx); err != nil || len(more) != 0 {
		t.Errorf("second read = %d records, %v; want none", len(more), err)
	}
}
