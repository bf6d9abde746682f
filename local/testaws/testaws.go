// Package testaws gives tests real AWS clients pointed at a local moto server:
// the endpoint in AWS_ENDPOINT_URL when it is set, or one moto_server per test
// binary, started by local/moto. Tables are created from template.yaml (by
// local/moto, as the local stack creates them) under names unique to the
// test, so tests never share state.
package testaws

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

var (
	once     sync.Once
	endpoint string
	startErr error
)

// Endpoint returns the moto endpoint, starting moto if needed. It skips the test
// with a clear message when there is none and moto_server is not installed.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { endpoint, startErr = start() })
	if startErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("moto: %v", startErr)
		}
		tb.Skipf("DynamoDB-backed test needs moto: %v (run `make test`, or pip install -r requirements-dev.txt)", startErr)
	}
	return endpoint
}

func start() (string, error) {
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return ep, nil
	}
	// Never stopped: moto dies with the test binary.
	srv, err := moto.Start(context.Background(), nil)
	if err != nil {
		return "", fmt.Errorf("AWS_ENDPOINT_URL is not set and %w", err)
	}
	return srv.URL, nil
}

// Config returns an AWS config for the moto endpoint with static test credentials.
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, err := moto.Config(context.Background(), Endpoint(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// Template loads the repository's template.yaml.
func Template(tb testing.TB) *cfntemplate.Template {
	tb.Helper()
	wd, _ := os.Getwd()
	p, err := cfntemplate.Find(wd)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := cfntemplate.Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Tables holds a test's own copy of the stack's tables.
type Tables struct {
	DB        *dynamodb.Client
	Data      string
	Archive   string
	DataArn   string
	StreamArn string

	data, archive moto.Table // as the template makes them: TTL attribute, key names
}

// NewTables creates DataTable and ArchiveTable from the template under fresh names
// and deletes them when the test ends.
func NewTables(tb testing.TB) *Tables {
	tb.Helper()
	cfg := Config(tb)
	db := dynamodb.NewFromConfig(cfg)
	tpl := Template(tb)
	suffix := ids.New("")
	tt := &Tables{DB: db, Data: "data-" + suffix, Archive: "archive-" + suffix}
	tb.Cleanup(func() {
		for _, n := range []string{tt.Data, tt.Archive} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(n)})
		}
	})
	made, err := moto.CreateTables(context.Background(), db, tpl, func(id string) string {
		return map[string]string{"DataTable": tt.Data, "ArchiveTable": tt.Archive}[id]
	}, "DataTable", "ArchiveTable")
	if err != nil {
		tb.Fatal(err)
	}
	tt.DataArn, tt.StreamArn = made["DataTable"].Arn, made["DataTable"].StreamArn
	tt.data, tt.archive = made["DataTable"], made["ArchiveTable"]
	return tt
}

// SubjectKey is the test key that salts erased subjects' hashes.
var SubjectKey = []byte("test subject hash key, 32 bytes!")

// Store returns a store over the tables, with the test subject key.
func (tt *Tables) Store() *store.Store {
	return store.New(tt.DB, tt.Data, tt.Archive).WithSubjectKey(SubjectKey)
}

// RepoRoot returns the folder of template.yaml.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	wd, _ := os.Getwd()
	p, err := cfntemplate.Find(wd)
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(p)
}

// Key is the primary key of an item, for tests that read or write the tables
// directly to set up or check a stored state the store's API does not show.
func Key(pk, sk string) map[string]dynamodbtypes.AttributeValue {
	return map[string]dynamodbtypes.AttributeValue{"PK": &dynamodbtypes.AttributeValueMemberS{Value: pk}, "SK": &dynamodbtypes.AttributeValueMemberS{Value: sk}}
}
