// Package testaws gives tests real AWS clients pointed at a local moto server:
// the endpoint in AWS_ENDPOINT_URL when it is set, or a
// moto_server this package starts on a free loopback port. Tables are created from
// template.yaml under names unique to the test, so tests never share state.
package testaws

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/shared/cfntemplate"
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
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", fmt.Errorf("AWS_ENDPOINT_URL is not set and moto_server is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test binary
	if err := cmd.Start(); err != nil {
		return "", err
	}
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(ep + "/moto-api/"); err == nil {
			res.Body.Close()
			return ep, nil
		}
	}
	return "", fmt.Errorf("moto_server did not start on %s", ep)
}

// Config returns an AWS config for the moto endpoint with static test credentials.
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	ep := Endpoint(tb)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(ep),
	)
	if err != nil {
		tb.Fatalf("aws config: %v", err)
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
	ctx := context.Background()
	d, err := tpl.CreateTable(ctx, db, "DataTable", tt.Data)
	if err != nil {
		tb.Fatal(err)
	}
	tt.DataArn, tt.StreamArn = aws.ToString(d.TableArn), aws.ToString(d.LatestStreamArn)
	if _, err := tpl.CreateTable(ctx, db, "ArchiveTable", tt.Archive); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, n := range []string{tt.Data, tt.Archive} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(n)})
		}
	})
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
