package store

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
)

// InsertedMessage is the message a Data stream record inserted, or nil when
// the record is anything else (another item, a modify or a removal).
func InsertedMessage(rec events.DynamoDBEventRecord) (*chat.Message, error) {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return nil, nil
	}
	sk, ok := rec.Change.Keys["SK"]
	if !ok || sk.DataType() != events.DataTypeString || !isMessageKey(sk.String()) {
		return nil, nil
	}
	it, err := messageFromStream(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return it.Message(), nil
}
