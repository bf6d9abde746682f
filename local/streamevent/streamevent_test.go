package streamevent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// everyTypeStream is an item with every attribute type, nested in maps and
// lists, as the Streams API gives it.
var everyTypeStream = map[string]types.AttributeValue{
	"s":    &types.AttributeValueMemberS{Value: "x"},
	"n":    &types.AttributeValueMemberN{Value: "1.5"},
	"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
	"bool": &types.AttributeValueMemberBOOL{Value: true},
	"null": &types.AttributeValueMemberNULL{Value: true},
	"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
	"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
	"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
	"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "y"},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "2"}}},
	}},
	"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"inner": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: false}, &types.AttributeValueMemberNULL{Value: true}}},
	}},
}

// everyType is the same item as the DynamoDB API gives it (the SDK's own
// conversion, not this package's).
var everyType = func() map[string]ddb.AttributeValue {
	m, err := attributevalue.FromDynamoDBStreamsMap(everyTypeStream)
	if err != nil {
		panic(err)
	}
	return m
}()

// everyTypeWire is the image as a stream-triggered function receives it.
const everyTypeWire = `{
	"s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "AAEC/w=="}, "bool": {"BOOL": true}, "null": {"NULL": true},
	"ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AQ==", "Ag=="]},
	"l": {"L": [{"S": "y"}, {"M": {"k": {"N": "2"}}}]},
	"m": {"M": {"inner": {"L": [{"BOOL": false}, {"NULL": true}]}}}
}`

func sameJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s =\n%s\nwant\n%s", what, b, want)
	}
}

func TestImage_ConvertsEveryAttributeTypeAsLambdaDeliversIt(t *testing.T) {
	img := Image(everyType)
	sameJSON(t, "image", img, everyTypeWire)

	// The values read back as a function reads them.
	if got := img["b"].Binary(); !bytes.Equal(got, []byte{0, 1, 2, 255}) {
		t.Errorf("B = %v", got)
	}
	if !img["null"].IsNull() || img["s"].IsNull() {
		t.Error("NULL is not null, or S is")
	}
	if got := img["l"].List()[1].Map()["k"].Number(); got != "2" {
		t.Errorf("nested number = %q", got)
	}
	if got := img["m"].Map()["inner"].List(); len(got) != 2 || got[0].Boolean() || !got[1].IsNull() {
		t.Errorf("nested list = %+v", got)
	}
	if got := img["bs"].BinarySet(); len(got) != 2 || got[1][0] != 2 {
		t.Errorf("BS = %v", got)
	}
	if Image(nil) != nil {
		t.Error("a nil image converts to a non-nil map")
	}
}

func TestRecord_ConvertsAStreamsAPIRecord(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 750_000_000, time.UTC)
	rec, err := Record(types.Record{
		EventID: aws.String("e1"), EventName: types.OperationTypeModify,
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &at,
			Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t"}},
			NewImage:                    everyTypeStream,
			SequenceNumber:              aws.String("000100"),
			SizeBytes:                   aws.Int64(321),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
		},
	}, "arn:aws:dynamodb:us-east-1:123456789012:table/DataTable/stream/x")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := Wire(rec)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "record", wire, `{
		"eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
		"awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/DataTable/stream/x",
		"dynamodb": {
			"ApproximateCreationDateTime": 1795946400,
			"Keys": {"PK": {"S": "T#t"}},
			"NewImage": `+everyTypeWire+`,
			"SequenceNumber": "000100", "SizeBytes": 321, "StreamViewType": "NEW_AND_OLD_IMAGES"
		}
	}`)

	// The payload decodes back to the same record, as aws-lambda-go reads it.
	b, _ := json.Marshal(wire)
	var back events.DynamoDBEventRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Change.ApproximateCreationDateTime.Equal(at.Truncate(time.Second)) || back.Change.NewImage["m"].Map()["inner"].List()[1].IsNull() != true {
		t.Errorf("decoded back = %+v", back.Change)
	}
}

func TestRecord_KeepsTheUserIdentityAndLeavesOutWhatIsUnset(t *testing.T) {
	rec, err := Record(types.Record{
		EventID: aws.String("e2"), EventName: types.OperationTypeRemove, AwsRegion: aws.String("eu-west-1"), EventVersion: aws.String("1.0"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb:     &types.StreamRecord{SequenceNumber: aws.String("7"), Keys: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "k"}}},
	}, "arn")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := Wire(rec)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "record", wire, `{
		"eventID": "e2", "eventName": "REMOVE", "eventVersion": "1.0", "eventSource": "aws:dynamodb",
		"awsRegion": "eu-west-1", "eventSourceARN": "arn",
		"userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
		"dynamodb": {"Keys": {"PK": {"S": "k"}}, "SequenceNumber": "7", "SizeBytes": 0, "StreamViewType": ""}
	}`)
}

func TestRemoveRecord_MarksOnlyTTLRemovalsAsTheService(t *testing.T) {
	item := map[string]ddb.AttributeValue{"PK": &ddb.AttributeValueMemberS{Value: "p"}, "SK": &ddb.AttributeValueMemberS{Value: "s"}, "body": &ddb.AttributeValueMemberS{Value: "b"}}
	at := time.Unix(2_000_000_000, 0)
	ttl, user := RemoveRecord(item, true, at), RemoveRecord(item, false, at)
	if ttl.UserIdentity == nil || *ttl.UserIdentity != *ServiceIdentity() {
		t.Errorf("TTL removal identity = %+v", ttl.UserIdentity)
	}
	if user.UserIdentity != nil {
		t.Errorf("user removal identity = %+v", user.UserIdentity)
	}
	if ttl.Change.SequenceNumber == user.Change.SequenceNumber {
		t.Error("two removals share a sequence number")
	}
	sameJSON(t, "keys", ttl.Change.Keys, `{"PK": {"S": "p"}, "SK": {"S": "s"}}`)
	sameJSON(t, "old image", ttl.Change.OldImage, `{"PK": {"S": "p"}, "SK": {"S": "s"}, "body": {"S": "b"}}`)
}
