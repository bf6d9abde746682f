// Package ttl plays DynamoDB's Time to Live process for the local stack (moto
// has none): it deletes items whose TTL attribute, a Number of epoch seconds,
// has passed, and remembers their keys so the stream poller can mark their
// REMOVE records as the service's own (userIdentity type Service, principal
// dynamodb.amazonaws.com), as DynamoDB does.
//
// It finds expired items with a Scan: it stands in for DynamoDB's internal
// background process, never a request path of the product.
package ttl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/streamevent"
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
		// DynamoDB's TTL ignores an attribute that is not a Number.
		cond := "attribute_type(#ttl, :n) AND #ttl < :now"
		names := map[string]string{"#ttl": t.Attribute}
		var start map[string]types.AttributeValue
		for {
			nowV := &types.AttributeValueMemberN{Value: strconv.FormatInt(now().Unix(), 10)}
			proj := "#ttl"
			for i, k := range t.KeyNames {
				alias := fmt.Sprintf("#k%d", i)
				names[alias] = k
				proj += ", " + alias
			}
			res, err := p.DB.Scan(ctx, &dynamodb.ScanInput{
				TableName: aws.String(t.Name), FilterExpression: aws.String(cond),
				ProjectionExpression: aws.String(proj), ExpressionAttributeNames: names,
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": nowV, ":n": &types.AttributeValueMemberS{Value: "N"}},
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
				streamKey := streamevent.Image(key)
				// Record first: the stream record may be read before DeleteItem returns.
				if p.Ledger != nil {
					p.Ledger.Add(t.Name, streamKey)
				}
				_, err := p.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
					TableName: aws.String(t.Name), Key: key,
					ConditionExpression:       aws.String(cond),
					ExpressionAttributeNames:  map[string]string{"#ttl": t.Attribute},
					ExpressionAttributeValues: map[string]types.AttributeValue{":now": nowV, ":n": &types.AttributeValueMemberS{Value: "N"}},
				})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					n++
				case errors.As(err, &ccf):
					if p.Ledger != nil {
						p.Ledger.Forget(t.Name, streamKey)
					}
				default:
					return n, fmt.Errorf("delete expired item of %s: %w", t.Name, err)
				}
			}
			if res.LastEvaluatedKey == nil {
				break
			}
			start = res.LastEvaluatedKey
		}
	}
	return n, nil
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
