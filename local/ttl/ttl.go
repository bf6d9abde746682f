// Package ttl plays DynamoDB's Time to Live process for the local stack (moto
// has none): it deletes items whose TTL attribute, a Number of epoch seconds,
// has passed, and remembers their keys so the stream poller can mark their
// REMOVE records as the service's own (userIdentity type Service, principal
// dynamodb.amazonaws.com), as DynamoDB does.
//
// It learns which items expire when from the table's stream (Process.Invoke,
// run by a stream mapping of its own), so a sweep costs one conditional delete
// per expired item however large the table grows; a table without a stream
// is found with a Scan (Sweep). Either stands in for DynamoDB's internal
// background process, never a request path of the product.
package ttl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/streamevent"
	"github.com/livesupportbot/backend/shared/store"
)

// Ledger remembers the keys the TTL process deleted and when, for every
// stream mapping that reads the table's stream to recognise them.
type Ledger struct {
	mu   sync.Mutex
	keys map[string]time.Time
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{keys: map[string]time.Time{}} }

// window is how far apart a deletion and its stream record may be.
const window = time.Minute

// Add records a deletion of the item of table with keys.
func (l *Ledger) Add(table string, keys map[string]events.DynamoDBAttributeValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for k, t := range l.keys { // forget deletions every stream has long read
		if now.Sub(t) > time.Hour {
			delete(l.keys, k)
		}
	}
	l.keys[keyString(table, keys)] = now
}

// Forget drops a deletion that did not happen.
func (l *Ledger) Forget(table string, keys map[string]events.DynamoDBAttributeValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, keyString(table, keys))
}

// Removed reports whether the TTL process deleted the item of table with keys
// around time at (the stream record's creation time; zero: any time). Every
// mapping of the stream gets the same answer.
func (l *Ledger) Removed(table string, keys map[string]events.DynamoDBAttributeValue, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.keys[keyString(table, keys)]
	if !ok {
		return false
	}
	return at.IsZero() || (at.Sub(t) < window && t.Sub(at) < window)
}

func keyString(table string, keys map[string]events.DynamoDBAttributeValue) string {
	b, _ := json.Marshal(keys) // map keys marshal sorted: canonical
	return table + "|" + string(b)
}

// Table is a table with TTL enabled.
type Table struct {
	Name      string
	Attribute string   // "expiresAt"
	KeyNames  []string // the primary key's attribute names
	// Streamed says the table's stream feeds Process.Invoke from its start, so
	// a sweep deletes what the stream showed to expire instead of scanning.
	Streamed bool
}

// DB is the part of the DynamoDB API the process uses.
type DB interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Process deletes expired items of tables.
type Process struct {
	DB     DB
	Tables []Table
	Ledger *Ledger
	Now    func() time.Time
	Log    *slog.Logger

	mu  sync.Mutex
	due map[string]dueItem // by table and key: each streamed item with a TTL
}

// dueItem is an item of a streamed table and when it expires.
type dueItem struct {
	table string
	key   map[string]types.AttributeValue
	at    int64 // epoch seconds
}

// Invoke takes a batch of a streamed table's records, as a stream mapping
// sends them to a function, and notes when each item written expires: the
// item's TTL attribute if it is a Number, otherwise never.
func (p *Process) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("ttl: unreadable stream batch: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.due == nil {
		p.due = map[string]dueItem{}
	}
	for _, r := range ev.Records {
		t, ok := p.tableOf(r.EventSourceArn)
		if !ok {
			continue
		}
		k := keyString(t.Name, r.Change.Keys)
		at, ok := expiry(r.Change.NewImage[t.Attribute])
		if r.EventName == "REMOVE" || !ok {
			delete(p.due, k)
			continue
		}
		key, err := store.FromStreamImage(r.Change.Keys)
		if err != nil {
			return nil, fmt.Errorf("ttl: %w", err)
		}
		p.due[k] = dueItem{table: t.Name, key: key, at: at}
	}
	return nil, nil
}

// tableOf is the streamed table of a stream ARN
// (arn:aws:dynamodb:region:account:table/NAME/stream/LABEL).
func (p *Process) tableOf(streamArn string) (Table, bool) {
	for _, t := range p.Tables {
		if t.Streamed && strings.Contains(streamArn, ":table/"+t.Name+"/stream/") {
			return t, true
		}
	}
	return Table{}, false
}

// expiry reads a TTL attribute as DynamoDB does: a Number of epoch seconds.
func expiry(v events.DynamoDBAttributeValue) (int64, bool) {
	if v.DataType() != events.DataTypeNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Number(), 64)
	return int64(f), err == nil
}

// Sweep deletes every item past its TTL once and returns how many it deleted.
// A delete is conditional on the item still being expired, so an item renewed
// meanwhile stays.
func (p *Process) Sweep(ctx context.Context) (int, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	n := 0
	for _, t := range p.Tables {
		sweep := p.scan
		if t.Streamed {
			sweep = p.sweepDue
		}
		k, err := sweep(ctx, t, now().Unix())
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sweepDue deletes the items of t the stream showed to expire before now.
func (p *Process) sweepDue(ctx context.Context, t Table, now int64) (int, error) {
	type expiring struct {
		k string // its key in p.due
		dueItem
	}
	p.mu.Lock()
	var due []expiring
	for k, d := range p.due {
		if d.table == t.Name && d.at < now {
			due = append(due, expiring{k, d})
		}
	}
	p.mu.Unlock()
	n := 0
	for _, d := range due {
		start := time.Now()
		deleted, err := p.delete(ctx, t, d.key, now)
		if err != nil {
			return n, err
		}
		// Paced: the local moto serves one request at a time, and a burst of
		// deletes would hold up every request behind it (DynamoDB's own TTL
		// runs in the background). Deletes take at most a third of its time.
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(2 * time.Since(start)):
		}
		if deleted {
			n++
		}
		// Gone, or renewed: its next record (if any) says what comes next.
		p.mu.Lock()
		if p.due[d.k].at == d.at {
			delete(p.due, d.k)
		}
		p.mu.Unlock()
	}
	return n, nil
}

// scan finds the expired items of t with a Scan and deletes them.
func (p *Process) scan(ctx context.Context, t Table, now int64) (int, error) {
	// DynamoDB's TTL ignores an attribute that is not a Number.
	names := map[string]string{"#ttl": t.Attribute}
	proj := "#ttl"
	for i, k := range t.KeyNames {
		alias := fmt.Sprintf("#k%d", i)
		names[alias] = k
		proj += ", " + alias
	}
	n := 0
	var start map[string]types.AttributeValue
	for {
		res, err := p.DB.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(t.Name), FilterExpression: aws.String(expired),
			ProjectionExpression: aws.String(proj), ExpressionAttributeNames: names,
			ExpressionAttributeValues: expiredValues(now),
			ExclusiveStartKey:         start, Limit: aws.Int32(scanPage),
		})
		if err != nil {
			return n, fmt.Errorf("scan %s for expired items: %w", t.Name, err)
		}
		for _, item := range res.Items {
			key := map[string]types.AttributeValue{}
			for _, k := range t.KeyNames {
				key[k] = item[k]
			}
			deleted, err := p.delete(ctx, t, key, now)
			if err != nil {
				return n, err
			}
			if deleted {
				n++
			}
		}
		if res.LastEvaluatedKey == nil {
			return n, nil
		}
		start = res.LastEvaluatedKey
	}
}

// expired is the condition of an expired item: DynamoDB's TTL ignores an
// attribute that is not a Number.
const expired = "attribute_type(#ttl, :n) AND #ttl < :now"

func expiredValues(now int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)},
		":n":   &types.AttributeValueMemberS{Value: "N"},
	}
}

// delete removes the item of t with key if it is still expired at now, and
// reports whether it did.
func (p *Process) delete(ctx context.Context, t Table, key map[string]types.AttributeValue, now int64) (bool, error) {
	streamKey := streamevent.Image(key)
	// Record first: the stream record may be read before DeleteItem returns.
	if p.Ledger != nil {
		p.Ledger.Add(t.Name, streamKey)
	}
	_, err := p.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(t.Name), Key: key,
		ConditionExpression:       aws.String(expired),
		ExpressionAttributeNames:  map[string]string{"#ttl": t.Attribute},
		ExpressionAttributeValues: expiredValues(now),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		if p.Ledger != nil {
			p.Ledger.Forget(t.Name, streamKey)
		}
		return false, nil
	default:
		return false, fmt.Errorf("delete expired item of %s: %w", t.Name, err)
	}
}

// scanPage is the items a sweep's Scan reads per page. The local moto serves
// one request at a time, so each page holds up every other request: short
// pages keep the sweep in the background (a 1 MB page of a large table took a
// quarter of a second; 500 items, 30 ms at 40,000 items, which every request
// behind it waited out).
const scanPage = 100

// Run sweeps every interval until ctx ends.
func (p *Process) Run(ctx context.Context, interval time.Duration) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := p.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Error("ttl sweep failed", "error", err)
		} else if n > 0 {
			log.Info("ttl deleted expired items", "items", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
