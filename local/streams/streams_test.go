package streams

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/local/ttl"
)

// fn records every batch and answers with answer(batch, call).
type fn struct {
	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
	answer  func(recs []events.DynamoDBEventRecord, call int) ([]byte, error)
}

func (f *fn) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.batches = append(f.batches, ev.Records)
	call := len(f.batches)
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(ev.Records, call)
	}
	return []byte(`{"batchItemFailures":[]}`), nil
}

func (f *fn) sks() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, b := range f.batches {
		var s []string
		for _, r := range b {
			s = append(s, r.Change.Keys["SK"].String())
		}
		out = append(out, s)
	}
	return out
}

type env struct {
	db     *dynamodb.Client
	tables *testaws.Tables
	client *dynamodbstreams.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tt := testaws.NewTables(t)
	return &env{db: tt.DB, tables: tt, client: dynamodbstreams.NewFromConfig(testaws.Config(t))}
}

func (e *env) put(t *testing.T, sk string, extra map[string]types.AttributeValue) {
	t.Helper()
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t1#CONV#C1"}, "SK": &types.AttributeValueMemberS{Value: sk}}
	for k, v := range extra {
		item[k] = v
	}
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.tables.Data), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// run starts m and waits until it polls; it stops with the test.
func (e *env) run(t *testing.T, m *Mapping) {
	t.Helper()
	m.StreamArn = e.tables.StreamArn
	m.PollInterval = 20 * time.Millisecond
	m.RetryBackoff = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx, e.client); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(300 * time.Millisecond) // the LATEST iterator is taken
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func templateFilter(t *testing.T) []Filter {
	f, err := ParseFilter(`{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"MSG#"}]}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	return []Filter{f}
}

func TestMapping_DeliversOnlyMatchingRecords(t *testing.T) {
	e := newEnv(t)
	f := &fn{}
	e.run(t, &Mapping{Function: f, BatchSize: 100, Filters: templateFilter(t), ReportBatchItemFailures: true})
	e.put(t, "CONV#C1", nil)
	e.put(t, "MSG#01", map[string]types.AttributeValue{"text": &types.AttributeValueMemberS{Value: "hi"}})
	e.put(t, "MSG#01", map[string]types.AttributeValue{"text": &types.AttributeValueMemberS{Value: "edited"}}) // MODIFY
	e.put(t, "MSG#02", nil)
	waitFor(t, "two messages", func() bool { return len(strings.Join(flat(f.sks()), ",")) >= len("MSG#01,MSG#02") })
	time.Sleep(200 * time.Millisecond)
	if got := strings.Join(flat(f.sks()), ","); got != "MSG#01,MSG#02" {
		t.Fatalf("delivered %s, want the two message inserts", got)
	}
	r := f.batches[0][0]
	if r.EventName != "INSERT" || r.EventSource != "aws:dynamodb" || r.Change.NewImage["text"].String() != "hi" ||
		r.Change.SequenceNumber == "" || r.EventSourceArn != e.tables.StreamArn {
		t.Errorf("record = %+v", r)
	}
}

func TestMapping_BatchItemFailuresRetryFromFirstFailed(t *testing.T) {
	e := newEnv(t)
	f := &fn{answer: func(recs []events.DynamoDBEventRecord, call int) ([]byte, error) {
		if call == 1 && len(recs) == 3 {
			// The second record fails: it and the third are retried, the first is not.
			return []byte(`{"batchItemFailures":[{"itemIdentifier":"` + recs[1].Change.SequenceNumber + `"}]}`), nil
		}
		return []byte(`{}`), nil
	}}
	m := &Mapping{Function: f, BatchSize: 100, Filters: templateFilter(t), ReportBatchItemFailures: true, MaximumRetryAttempts: 5}
	// Write first, then start from TRIM_HORIZON, so the three come in one batch.
	e.put(t, "MSG#01", nil)
	e.put(t, "MSG#02", nil)
	e.put(t, "MSG#03", nil)
	m.StartingPosition = "TRIM_HORIZON"
	e.run(t, m)
	waitFor(t, "the retry", func() bool { return len(f.sks()) >= 2 })
	got := f.sks()
	if strings.Join(got[0], ",") != "MSG#01,MSG#02,MSG#03" || strings.Join(got[1], ",") != "MSG#02,MSG#03" {
		t.Fatalf("batches = %v", got)
	}
}

func TestMapping_GivesUpAfterMaximumRetryAttempts(t *testing.T) {
	e := newEnv(t)
	f := &fn{answer: func([]events.DynamoDBEventRecord, int) ([]byte, error) { return nil, errors.New("boom") }}
	var mu sync.Mutex
	var failed []string
	m := &Mapping{Function: f, Filters: templateFilter(t), MaximumRetryAttempts: 2,
		OnFailure: func(recs []map[string]any, _ string) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				failed = append(failed, r["dynamodb"].(map[string]any)["Keys"].(map[string]any)["SK"].(map[string]any)["S"].(string))
			}
		}}
	e.run(t, m)
	e.put(t, "MSG#01", nil)
	waitFor(t, "giving up", func() bool { mu.Lock(); defer mu.Unlock(); return len(failed) == 1 })
	if n := len(f.sks()); n != 3 {
		t.Errorf("invocations = %d, want 1 + 2 retries", n)
	}
}

func TestMapping_BisectIsolatesThePoisonRecord(t *testing.T) {
	e := newEnv(t)
	f := &fn{answer: func(recs []events.DynamoDBEventRecord, _ int) ([]byte, error) {
		for _, r := range recs {
			if r.Change.Keys["SK"].String() == "MSG#02" {
				return nil, errors.New("poison")
			}
		}
		return nil, nil
	}}
	var mu sync.Mutex
	var failed int
	m := &Mapping{Function: f, Filters: templateFilter(t), MaximumRetryAttempts: 0, BisectBatchOnFunctionError: true,
		StartingPosition: "TRIM_HORIZON", OnFailure: func(recs []map[string]any, _ string) { mu.Lock(); failed += len(recs); mu.Unlock() }}
	for _, sk := range []string{"MSG#01", "MSG#02", "MSG#03", "MSG#04"} {
		e.put(t, sk, nil)
	}
	e.run(t, m)
	waitFor(t, "the poison given up", func() bool { mu.Lock(); defer mu.Unlock(); return failed == 1 })
	delivered := map[string]bool{}
	for _, b := range f.sks() {
		if len(b) == 1 || !contains(b, "MSG#02") {
			for _, sk := range b {
				delivered[sk] = true
			}
		}
	}
	for _, sk := range []string{"MSG#01", "MSG#03", "MSG#04"} {
		if !delivered[sk] {
			t.Errorf("%s never delivered alone or in a good batch: %v", sk, f.sks())
		}
	}
}

func TestTTL_RemovalsCarryServiceIdentity(t *testing.T) {
	e := newEnv(t)
	ledger := ttl.NewLedger()
	f := &fn{}
	remove, err := ParseFilter(`{"eventName":["REMOVE"]}`)
	if err != nil {
		t.Fatal(err)
	}
	// The archive function's pattern: only the TTL's own removals.
	archive, err := ParseFilter(`{"eventName":["REMOVE"],"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	archived := &fn{}
	e.run(t, &Mapping{Function: f, Filters: []Filter{remove}, Removals: ledger})
	e.run(t, &Mapping{Function: archived, Filters: []Filter{archive}, Removals: ledger})
	past := &types.AttributeValueMemberN{Value: "1000"}
	future := &types.AttributeValueMemberN{Value: "99999999999"}
	e.put(t, "MSG#expired", map[string]types.AttributeValue{"expiresAt": past})
	e.put(t, "MSG#live", map[string]types.AttributeValue{"expiresAt": future})
	e.put(t, "MSG#user", map[string]types.AttributeValue{"expiresAt": future})
	p := &ttl.Process{DB: e.db, Ledger: ledger, Tables: []ttl.Table{{Name: e.tables.Data, Attribute: "expiresAt", KeyNames: []string{"PK", "SK"}}}}
	n, err := p.Sweep(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1 deleted", n, err)
	}
	if _, err := e.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(e.tables.Data),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t1#CONV#C1"}, "SK": &types.AttributeValueMemberS{Value: "MSG#user"}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two removals", func() bool { return len(flat(f.sks())) >= 2 })
	waitFor(t, "the TTL removal at the second mapping", func() bool { return len(flat(archived.sks())) >= 1 })
	time.Sleep(200 * time.Millisecond)
	if got := flat(archived.sks()); len(got) != 1 || got[0] != "MSG#expired" {
		t.Errorf("the TTL-only mapping got %v, want only MSG#expired", got)
	}
	for _, b := range f.batches {
		for _, r := range b {
			sk := r.Change.Keys["SK"].String()
			switch sk {
			case "MSG#expired":
				if r.UserIdentity == nil || r.UserIdentity.Type != "Service" || r.UserIdentity.PrincipalID != "dynamodb.amazonaws.com" {
					t.Errorf("TTL removal identity = %+v", r.UserIdentity)
				}
				if r.Change.OldImage["expiresAt"].Number() != "1000" {
					t.Errorf("TTL removal has no old image: %+v", r.Change)
				}
			case "MSG#user":
				if r.UserIdentity != nil {
					t.Errorf("a user's delete carries identity %+v", r.UserIdentity)
				}
			default:
				t.Errorf("unexpected removal of %s", sk)
			}
		}
	}
}

func flat(b [][]string) []string {
	var out []string
	for _, x := range b {
		out = append(out, x...)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestMapping_KeepsReadingAfterAFailedTransaction: a failed TransactWriteItems
// writes no record (unpatched moto put back a copy of the whole table and its
// shard, leaving readers on a dead shard; see local/moto/patch.py). The
// mapping delivers every record written after it, and nothing of it.
func TestMapping_KeepsReadingAfterAFailedTransaction(t *testing.T) {
	e := newEnv(t)
	f := &fn{}
	e.run(t, &Mapping{Function: f, BatchSize: 100, Filters: templateFilter(t), ReportBatchItemFailures: true})
	e.put(t, "MSG#01", nil)
	waitFor(t, "the first message", func() bool { return len(flat(f.sks())) == 1 })
	key := func(sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#t1#CONV#C1"}, "SK": &types.AttributeValueMemberS{Value: sk}}
	}
	_, err := e.db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(e.tables.Data), Item: key("MSG#01"), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		t.Fatalf("transaction: %v, want it cancelled", err)
	}
	e.put(t, "MSG#02", nil)
	e.put(t, "MSG#03", nil)
	waitFor(t, "the messages after the failed transaction", func() bool { return len(flat(f.sks())) == 3 })
	if got := strings.Join(flat(f.sks()), ","); got != "MSG#01,MSG#02,MSG#03" {
		t.Fatalf("delivered %s", got)
	}
}

// TestMapping_GoesOnPastExpiredRecords: records that pass the stream's
// retention while the function is busy are lost, as on AWS, and the mapping
// says so in its log and goes on from the oldest record kept.
func TestMapping_GoesOnPastExpiredRecords(t *testing.T) {
	t.Setenv("MOTO_STREAM_RETENTION_SECONDS", "1")
	srv, err := moto.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg, err := moto.Config(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	made, err := moto.CreateTables(context.Background(), db, testaws.Template(t), func(string) string { return "data" }, "DataTable")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, tables: &testaws.Tables{DB: db, Data: "data", StreamArn: made["DataTable"].StreamArn}, client: dynamodbstreams.NewFromConfig(cfg)}
	e.put(t, "WARM", nil) // moto's first stream record loads its Lambda module (about a second)
	logs := &testaws.Logs{}
	f := &fn{answer: func(recs []events.DynamoDBEventRecord, call int) ([]byte, error) {
		if recs[0].Change.Keys["SK"].String() == "MSG#01" {
			time.Sleep(2500 * time.Millisecond) // busy while MSG#02 expires
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}}
	e.run(t, &Mapping{Function: f, BatchSize: 100, Filters: templateFilter(t), StartingPosition: "TRIM_HORIZON",
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	e.put(t, "MSG#01", nil)
	waitFor(t, "the first message", func() bool { return len(flat(f.sks())) == 1 })
	e.put(t, "MSG#02", nil)
	waitFor(t, "the loss in the log", func() bool {
		return strings.Contains(logs.String(), "stream records expired before they were read")
	})
	e.put(t, "MSG#03", nil)
	waitFor(t, "the message after the expired one", func() bool { return contains(flat(f.sks()), "MSG#03") })
	if got := strings.Join(flat(f.sks()), ","); got != "MSG#01,MSG#03" {
		t.Fatalf("delivered %s, want MSG#01,MSG#03", got)
	}
}
