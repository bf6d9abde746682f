package testaws

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// EventSource plays a Lambda event source mapping on a DynamoDB stream with
// FunctionResponseTypes ReportBatchItemFailures: it hands the records to the
// function in batches, in order; when the answer names failed records, the
// records before the first of them are done (checkpointed) and the next batch
// starts again at it, so it and everything after it are delivered again. A
// function error retries the whole batch.
type EventSource struct {
	BatchSize int
	Handle    func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	// Invocations counts the function's invocations; Deliveries counts each
	// record's deliveries by sequence number.
	Invocations int
	Deliveries  map[string]int
}

// Run delivers recs until all are checkpointed or the function has been
// invoked max more times, and returns the records not yet checkpointed.
func (s *EventSource) Run(ctx context.Context, recs []events.DynamoDBEventRecord, max int) ([]events.DynamoDBEventRecord, error) {
	if s.Deliveries == nil {
		s.Deliveries = map[string]int{}
	}
	size := s.BatchSize
	if size <= 0 {
		size = 100
	}
	for n := 0; len(recs) > 0 && n < max; n++ {
		batch := recs[:min(size, len(recs))]
		for _, r := range batch {
			s.Deliveries[r.Change.SequenceNumber]++
		}
		s.Invocations++
		res, err := s.Handle(ctx, events.DynamoDBEvent{Records: batch})
		if err != nil {
			continue
		}
		done := len(batch)
		for _, f := range res.BatchItemFailures {
			i := indexOf(batch, f.ItemIdentifier)
			if i < 0 {
				return recs, fmt.Errorf("failure names %q, which is not in the batch", f.ItemIdentifier)
			}
			done = min(done, i)
		}
		recs = recs[done:]
	}
	return recs, nil
}

func indexOf(batch []events.DynamoDBEventRecord, seq string) int {
	for i, r := range batch {
		if r.Change.SequenceNumber == seq {
			return i
		}
	}
	return -1
}
