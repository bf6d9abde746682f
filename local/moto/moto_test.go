package moto

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/cfntemplate"
)

func start(t testing.TB) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv, err := Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func template(t *testing.T) *cfntemplate.Template {
	t.Helper()
	wd, _ := os.Getwd()
	p, err := cfntemplate.Find(wd)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := cfntemplate.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestStart_AnswersAndCloseLeavesNoProcess(t *testing.T) {
	srv := start(t)
	res, err := http.Get(srv.URL + "/moto-api/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	pid := srv.Pid()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("moto (pid %d) is not running: %v", pid, err)
	}
	srv.Close()
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("moto (pid %d) still runs after Close", pid)
	}
	if res, err := http.Get(srv.URL + "/moto-api/"); err == nil {
		res.Body.Close()
		t.Error("moto still answers after Close")
	}
}

func TestStart_GivesUpWithItsContext(t *testing.T) {
	if _, err := Binary(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if srv, err := Start(ctx, nil); err == nil {
		srv.Close()
		t.Fatal("Start with a cancelled context succeeded")
	}
}

func TestCreateResources_MakesTheTemplatesTablesBucketsAndKeys(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	cfg, err := Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t)
	res, err := CreateResources(ctx, cfg, tpl)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := res.Tables["DataTable"]
	if !ok || data.Name != "DataTable" || data.StreamArn == "" || data.TTLAttribute != "expiresAt" {
		t.Fatalf("DataTable = %+v", data)
	}
	if len(data.KeyNames) != 2 || data.KeyNames[0] != "PK" || data.KeyNames[1] != "SK" {
		t.Errorf("key names = %v", data.KeyNames)
	}
	db := dynamodb.NewFromConfig(cfg)
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(data.Name)})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tpl.TableInput("DataTable", data.Name)
	if len(d.Table.GlobalSecondaryIndexes) != len(want.GlobalSecondaryIndexes) || len(want.GlobalSecondaryIndexes) == 0 {
		t.Errorf("indexes = %d, template has %d", len(d.Table.GlobalSecondaryIndexes), len(want.GlobalSecondaryIndexes))
	}
	if aws.ToString(d.Table.LatestStreamArn) != data.StreamArn || aws.ToString(d.Table.TableArn) != data.Arn {
		t.Errorf("arns = %s %s, want %s %s", aws.ToString(d.Table.TableArn), aws.ToString(d.Table.LatestStreamArn), data.Arn, data.StreamArn)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(data.Name)})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled ||
		aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
		t.Errorf("ttl = %+v, %v", ttl, err)
	}
	if len(res.Tables) != len(tpl.OfType("AWS::DynamoDB::Table")) {
		t.Errorf("%d tables, template has %d", len(res.Tables), len(tpl.OfType("AWS::DynamoDB::Table")))
	}
	for id, name := range res.Buckets {
		if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("bucket %s (%s): %v", id, name, err)
		}
	}
	if len(res.Buckets) != len(tpl.OfType("AWS::S3::Bucket")) || len(res.Keys) != len(tpl.OfType("AWS::KMS::Key")) {
		t.Errorf("buckets %v, keys %v", res.Buckets, res.Keys)
	}
	for id, k := range res.Keys {
		if _, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.Arn)}); err != nil {
			t.Errorf("key %s: %v", id, err)
		}
	}
}

func TestCreateTables_NamesOnlyTheTablesAsked(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	cfg, err := Config(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	made, err := CreateTables(ctx, db, template(t), func(id string) string { return "mine-" + id }, "ArchiveTable")
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 1 || made["ArchiveTable"].Name != "mine-ArchiveTable" || made["ArchiveTable"].TTLAttribute != "expiresAt" {
		t.Fatalf("made = %+v", made)
	}
	list, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || len(list.TableNames) != 1 || list.TableNames[0] != "mine-ArchiveTable" {
		t.Errorf("tables = %v, %v", list.TableNames, err)
	}
	if _, err := CreateTables(ctx, db, template(t), func(id string) string { return id }, "NoSuchTable"); err == nil {
		t.Error("a table the template lacks was created")
	}
}
