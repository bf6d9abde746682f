// Package store is the DynamoDB store of LiveSupportBot: the Data table (single
// table, every partition and index key starting with the tenant) and the Archive
// table. It takes a client of just the calls it uses (there is no Scan in it), never
// loads configuration, and filters out items whose expiresAt has passed.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Client is the subset of the DynamoDB API the store uses. It has no Scan: no
// request path may scan a table.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Store reads and writes the Data and Archive tables.
type Store struct {
	db      Client
	data    string
	archive string
	now     func() time.Time
	// subjectKey gives the key that salts the hashes of erased subjects'
	// identifiers (suppression.go); nil when none was configured.
	subjectKey func() ([]byte, error)
	// sharded caches whether the suppression entries are all in their shards
	// (suppressmigrate.go); shared by the copies of a store.
	sharded *shardedCache
}

// New returns a Store over the two tables.
func New(db Client, dataTable, archiveTable string) *Store {
	return &Store{db: db, data: dataTable, archive: archiveTable, now: time.Now, sharded: &shardedCache{}}
}

// WithClock returns a copy of s that reads the time from now (for tests).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now().UTC() }

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return true
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if r.Code != nil && *r.Code == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	return false
}

func asCondition(err error, cf **types.ConditionalCheckFailedException) bool {
	return errors.As(err, cf)
}

// IsConditionFailed reports whether err is a failed condition of a write.
func IsConditionFailed(err error) bool { return isConditionFailed(err) }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
