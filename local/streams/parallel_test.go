package streams

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/livesupportbot/backend/local/testaws"
)

func (e *env) putKey(t *testing.T, pk, sk string) {
	t.Helper()
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.tables.Data), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// TestMapping_ParallelBatchesKeepOrderPerPartitionKey: with a
// ParallelizationFactor, batches of a shard run at once, and each partition
// key's records still arrive one batch after another, in the order written.
func TestMapping_ParallelBatchesKeepOrderPerPartitionKey(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	running, most := 0, 0
	got := map[string][]string{}
	f := &fn{answer: func(recs []events.DynamoDBEventRecord, _ int) ([]byte, error) {
		mu.Lock()
		running++
		most = max(most, running)
		for _, r := range recs {
			pk := r.Change.Keys["PK"].String()
			got[pk] = append(got[pk], r.Change.Keys["SK"].String())
		}
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return []byte(`{}`), nil
	}}
	e.run(t, &Mapping{Function: f, BatchSize: 2, ParallelizationFactor: 4, Filters: templateFilter(t), ReportBatchItemFailures: true})
	const keys, each = 8, 6
	for i := range each {
		for k := range keys {
			e.putKey(t, fmt.Sprintf("T#t1#CONV#C%d", k), fmt.Sprintf("MSG#%02d", i))
		}
	}
	waitFor(t, "every record", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, sks := range got {
			n += len(sks)
		}
		return n >= keys*each
	})
	mu.Lock()
	defer mu.Unlock()
	var want []string
	for i := range each {
		want = append(want, fmt.Sprintf("MSG#%02d", i))
	}
	for pk, sks := range got {
		if !slices.Equal(sks, want) {
			t.Errorf("%s got %v, want %v", pk, sks, want)
		}
	}
	if most < 2 || most > 4 {
		t.Errorf("at most %d batches ran at once, want 2..4 (the factor)", most)
	}
}

// TestMapping_ReportsLag: while a record waits longer than LagThreshold, Lag
// says how long and the mapping logs it; once handled, Lag is 0 again.
func TestMapping_ReportsLag(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	f := &fn{answer: func([]events.DynamoDBEventRecord, int) ([]byte, error) {
		<-release
		return []byte(`{}`), nil
	}}
	var logs testaws.Logs
	m := &Mapping{Function: f, BatchSize: 10, Filters: templateFilter(t), ReportBatchItemFailures: true,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	e.run(t, m)
	if lag := m.Lag(); lag != 0 {
		t.Fatalf("lag %v before any record", lag)
	}
	e.putKey(t, "T#t1#CONV#C1", "MSG#01")
	waitFor(t, "lag over the threshold", func() bool { return m.Lag() > LagThreshold })
	waitFor(t, "the lag logged", func() bool { return strings.Contains(logs.String(), "stream lag") })
	close(release)
	waitFor(t, "no lag once handled", func() bool { return m.Lag() == 0 })
}
