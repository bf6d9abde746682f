// Package streams plays Lambda's DynamoDB event source mappings for the local
// stack: it polls a table's stream through the DynamoDB Streams API, filters
// records with the mapping's patterns, and invokes the function with batches,
// honouring BatchSize, ParallelizationFactor (concurrent batches of a shard,
// in order per partition key), ReportBatchItemFailures (retry from the first
// failed record), MaximumRetryAttempts and BisectBatchOnFunctionError. It
// reports its lag (Lag): the age of the oldest record read and not yet
// handled, logged while over LagThreshold.
package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/livesupportbot/backend/local/streamevent"
)

// Invoker invokes the mapping's function.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// ServiceRemovals tells removals done by the TTL process apart: Removed
// reports whether it deleted the item of table with these keys around time at.
type ServiceRemovals interface {
	Removed(table string, keys map[string]events.DynamoDBAttributeValue, at time.Time) bool
}

// Client is the part of the DynamoDB Streams API the poller uses.
type Client interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Mapping is one DynamoDB event source mapping.
type Mapping struct {
	Name      string // for logs: "DispatchFunction/NewMessages"
	StreamArn string
	Function  Invoker
	// BatchSize is the most records per invocation (default 100).
	BatchSize int
	// ParallelizationFactor is how many batches of a shard run at once
	// (default 1, at most 10). As Lambda does, records are spread over them
	// by partition key, so each key's records stay in order.
	ParallelizationFactor int
	// PartitionKey is the name of the table's partition key attribute
	// (default "PK").
	PartitionKey string
	// StartingPosition is LATEST (default) or TRIM_HORIZON.
	StartingPosition string
	Filters          []Filter
	// ReportBatchItemFailures makes the poller read batchItemFailures.
	ReportBatchItemFailures bool
	// MaximumRetryAttempts bounds retries of a failing batch; -1 is unbounded.
	MaximumRetryAttempts       int
	BisectBatchOnFunctionError bool
	// OnFailure gets the records given up on (the on-failure destination).
	OnFailure func(records []map[string]any, reason string)
	// Removals marks REMOVE records of the TTL process (may be nil).
	Removals ServiceRemovals
	// PollInterval is the wait between empty polls (default 100ms).
	PollInterval time.Duration
	// RetryBackoff is the first wait before a retry (default 100ms, doubling).
	RetryBackoff time.Duration
	Log          *slog.Logger

	lagMu  sync.Mutex
	oldest map[string]time.Time // by shard: creation of its oldest record not yet handled
}

// LagThreshold is the lag above which a mapping logs it (at most every
// lagLogEvery).
const LagThreshold = time.Second

const lagLogEvery = 10 * time.Second

// Lag returns the age of the oldest record read from the stream and not yet
// handled (0 when none waits): what Lambda reports as IteratorAge.
func (m *Mapping) Lag() time.Duration {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	var lag time.Duration
	for _, t := range m.oldest {
		lag = max(lag, time.Since(t))
	}
	return lag
}

func (m *Mapping) pending(shard string, oldest time.Time) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.oldest == nil {
		m.oldest = map[string]time.Time{}
	}
	if oldest.IsZero() {
		delete(m.oldest, shard)
	} else {
		m.oldest[shard] = oldest
	}
}

// watchLag logs the lag while it is over LagThreshold, at most every
// lagLogEvery.
func (m *Mapping) watchLag(ctx context.Context) {
	var logged time.Time
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if lag := m.Lag(); lag > LagThreshold && time.Since(logged) >= lagLogEvery {
			logged = time.Now()
			m.Log.Warn("stream lag", "mapping", m.Name, "lagMs", lag.Milliseconds())
		}
	}
}

// Run polls the stream until ctx ends.
func (m *Mapping) Run(ctx context.Context, c Client) error {
	if m.BatchSize <= 0 {
		m.BatchSize = 100
	}
	if m.PollInterval == 0 {
		m.PollInterval = 100 * time.Millisecond
	}
	if m.RetryBackoff == 0 {
		m.RetryBackoff = 100 * time.Millisecond
	}
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if m.StartingPosition == "" {
		m.StartingPosition = "LATEST"
	}
	m.ParallelizationFactor = min(max(m.ParallelizationFactor, 1), 10)
	if m.PartitionKey == "" {
		m.PartitionKey = "PK"
	}
	seen := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { m.watchLag(ctx) })
	first := true
	for {
		shards, err := describe(ctx, c, m.StreamArn)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.Log.Error("describe stream failed", "mapping", m.Name, "error", err)
		}
		for _, s := range shards {
			id := aws.ToString(s.ShardId)
			if seen[id] {
				continue
			}
			seen[id] = true
			// Shards that exist at start begin at the mapping's position; shards
			// born later are read from their start, so nothing is skipped.
			pos := types.ShardIteratorTypeTrimHorizon
			if first && m.StartingPosition == "LATEST" && s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber == nil {
				pos = types.ShardIteratorTypeLatest
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.pollShard(ctx, c, id, pos)
			}()
		}
		first = false
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

func describe(ctx context.Context, c Client, arn string) ([]types.Shard, error) {
	var out []types.Shard
	var start *string
	for {
		res, err := c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn), ExclusiveStartShardId: start})
		if err != nil {
			return nil, fmt.Errorf("describe stream: %w", err)
		}
		out = append(out, res.StreamDescription.Shards...)
		if res.StreamDescription.LastEvaluatedShardId == nil {
			return out, nil
		}
		start = res.StreamDescription.LastEvaluatedShardId
	}
}

func (m *Mapping) pollShard(ctx context.Context, c Client, shard string, pos types.ShardIteratorType) {
	// lastSeq is the sequence number of the last record read ("" before any).
	// LATEST is played as "after the last record there is now", found by
	// reading the shard from its start, so a fresh iterator can always say
	// where to go on from.
	lastSeq, latest := "", pos == types.ShardIteratorTypeLatest
	iterator := func() (*string, error) {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(m.StreamArn), ShardId: aws.String(shard),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if lastSeq != "" {
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(lastSeq)
		}
		it, err := c.GetShardIterator(ctx, in)
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &trimmed) {
			// Records past the retention went unread (as Lambda does, go on
			// from the oldest kept).
			m.Log.Error("stream records expired before they were read", "mapping", m.Name, "shard", shard, "after", lastSeq)
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
			it, err = c.GetShardIterator(ctx, in)
		}
		if err != nil {
			return nil, err
		}
		return it.ShardIterator, nil
	}
	iter, err := iterator()
	if err != nil {
		if ctx.Err() == nil {
			m.Log.Error("shard iterator failed", "mapping", m.Name, "shard", shard, "error", err)
		}
		return
	}
	for iter != nil && ctx.Err() == nil {
		res, err := c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.Log.Error("get records failed", "mapping", m.Name, "shard", shard, "error", err)
			sleep(ctx, time.Second)
			if iter, err = iterator(); err != nil && ctx.Err() == nil {
				m.Log.Error("shard iterator failed", "mapping", m.Name, "shard", shard, "error", err)
				return
			}
			continue
		}
		iter = res.NextShardIterator
		var batch []map[string]any
		var oldest time.Time
		for _, r := range res.Records {
			if r.Dynamodb != nil && r.Dynamodb.SequenceNumber != nil {
				lastSeq = *r.Dynamodb.SequenceNumber
			}
			if latest {
				continue // there before the mapping started
			}
			if r.Dynamodb != nil && r.Dynamodb.ApproximateCreationDateTime != nil && oldest.IsZero() {
				oldest = *r.Dynamodb.ApproximateCreationDateTime
			}
			rec, err := m.record(r)
			if err != nil {
				m.Log.Error("unreadable stream record", "mapping", m.Name, "shard", shard, "error", err)
				continue
			}
			if !m.matches(rec) {
				continue
			}
			batch = append(batch, rec)
		}
		m.pending(shard, oldest)
		m.deliverAll(ctx, batch)
		m.pending(shard, time.Time{})
		if len(res.Records) > 0 {
			continue
		}
		latest = false
		sleep(ctx, m.PollInterval)
	}
}

// deliverAll hands records to the function in batches: with a
// ParallelizationFactor over 1, spread by partition key over that many lanes
// that run at once, each lane's batches one after another in stream order.
func (m *Mapping) deliverAll(ctx context.Context, recs []map[string]any) {
	lanes := make([][]map[string]any, m.ParallelizationFactor)
	for _, r := range recs {
		i := 0
		if len(lanes) > 1 {
			h := fnv.New32a()
			k, _ := json.Marshal(keyOf(r, m.PartitionKey))
			h.Write(k)
			i = int(h.Sum32() % uint32(len(lanes)))
		}
		lanes[i] = append(lanes[i], r)
	}
	var wg sync.WaitGroup
	for _, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		wg.Go(func() {
			for len(lane) > 0 && ctx.Err() == nil {
				n := min(len(lane), m.BatchSize)
				m.deliver(ctx, lane[:n], 0)
				lane = lane[n:]
			}
		})
	}
	wg.Wait()
}

func keyOf(r map[string]any, attr string) any {
	d, _ := r["dynamodb"].(map[string]any)
	keys, _ := d["Keys"].(map[string]any)
	return keys[attr]
}

func (m *Mapping) matches(rec map[string]any) bool {
	if len(m.Filters) == 0 {
		return true
	}
	for _, f := range m.Filters {
		if f.Match(rec) {
			return true
		}
	}
	return false
}

// deliver invokes the function with recs until they are handled or given up.
func (m *Mapping) deliver(ctx context.Context, recs []map[string]any, attempts int) {
	backoff := m.RetryBackoff
	for len(recs) > 0 && ctx.Err() == nil {
		failedFrom, err := m.invoke(ctx, recs)
		if err == nil && failedFrom == len(recs) {
			return
		}
		if err != nil && m.BisectBatchOnFunctionError && len(recs) > 1 {
			half := len(recs) / 2
			m.Log.Info("bisecting failed batch", "mapping", m.Name, "records", len(recs))
			m.deliver(ctx, recs[:half], attempts)
			m.deliver(ctx, recs[half:], attempts)
			return
		}
		reason := "function error"
		if err != nil {
			reason = err.Error()
		} else {
			reason = "batch item failures"
		}
		attempts++
		if m.MaximumRetryAttempts >= 0 && attempts > m.MaximumRetryAttempts {
			m.Log.Error("giving up on records", "mapping", m.Name, "records", len(recs)-failedFrom, "reason", reason)
			if m.OnFailure != nil {
				m.OnFailure(recs[failedFrom:], reason)
			}
			return
		}
		recs = recs[failedFrom:]
		m.Log.Info("retrying records", "mapping", m.Name, "records", len(recs), "attempt", attempts)
		sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// invoke sends one batch and returns the index of the first record to retry
// (len(recs) when all succeeded) or the function error.
func (m *Mapping) invoke(ctx context.Context, recs []map[string]any) (int, error) {
	payload, err := json.Marshal(map[string]any{"Records": recs})
	if err != nil {
		return 0, fmt.Errorf("encode batch: %w", err)
	}
	out, err := m.Function.Invoke(ctx, payload)
	if err != nil {
		return 0, err
	}
	if !m.ReportBatchItemFailures {
		return len(recs), nil
	}
	var res struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if len(out) == 0 || string(out) == "null" {
		return len(recs), nil
	}
	if err := json.Unmarshal(out, &res); err != nil {
		// An answer Lambda cannot read fails the whole batch.
		return 0, errors.New("unreadable batch response")
	}
	first := len(recs)
	for _, f := range res.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return 0, errors.New("batch item failure without an identifier")
		}
		found := false
		for i, r := range recs {
			if seqOf(r) == *f.ItemIdentifier {
				first, found = min(first, i), true
			}
		}
		if !found {
			return 0, errors.New("batch item failure names no record of the batch")
		}
	}
	return first, nil
}

func seqOf(r map[string]any) string {
	d, _ := r["dynamodb"].(map[string]any)
	s, _ := d["SequenceNumber"].(string)
	return s
}

// record converts a Streams API record to the Lambda event record's JSON
// form, with the service identity on a removal by the TTL process.
func (m *Mapping) record(r types.Record) (map[string]any, error) {
	rec, err := streamevent.Record(r, m.StreamArn)
	if err != nil {
		return nil, err
	}
	if rec.UserIdentity == nil && r.EventName == types.OperationTypeRemove && m.Removals != nil &&
		m.Removals.Removed(TableOf(m.StreamArn), rec.Change.Keys, rec.Change.ApproximateCreationDateTime.Time) {
		rec.UserIdentity = streamevent.ServiceIdentity()
	}
	return streamevent.Wire(rec)
}

// TableOf returns the table name of a stream ARN
// (arn:aws:dynamodb:region:account:table/NAME/stream/LABEL).
func TableOf(streamArn string) string {
	_, rest, ok := strings.Cut(streamArn, ":table/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
