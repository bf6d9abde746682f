package cfntemplate_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
)

// TestTransformedTemplate_CreatesInMotoCloudFormation creates the transformed
// stack in moto's CloudFormation, with each function's code zip in moto's S3,
// and reads back what it made. Moto creates the tables, roles, functions,
// permissions, stream mappings, queues, bucket, key, log groups and schedule;
// it skips the types it does not implement (API Gateway v2, Secrets Manager,
// alarms, event-invoke configs, the bucket policy), and it does not detect
// dependency cycles: the SAM-translator graph test is the guard for those. What
// it adds: the functions' configuration as Lambda stores it holds no secret
// given to the stack, and the tables and mappings come out as the template says.
func TestTransformedTemplate_CreatesInMotoCloudFormation(t *testing.T) {
	root := testaws.RepoRoot(t)
	tpl, err := cfntemplate.Transform(root, filepath.Join(root, "template.yaml"))
	if errors.Is(err, cfntemplate.ErrNoTranslator) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := testaws.Config(t)
	bucket := testaws.NewBucket(t)
	resources := tpl["Resources"].(map[string]any)
	var fnIDs []string
	for id, r := range resources {
		res := r.(map[string]any)
		if res["Type"] != "AWS::Lambda::Function" {
			continue
		}
		fnIDs = append(fnIDs, id)
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		w, _ := zw.Create("bootstrap")
		w.Write([]byte("#!/bin/sh\n"))
		zw.Close()
		if _, err := bucket.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket.Name, Key: aws.String(id + ".zip"), Body: bytes.NewReader(zb.Bytes())}); err != nil {
			t.Fatal(err)
		}
		res["Properties"].(map[string]any)["Code"] = map[string]any{"S3Bucket": bucket.Name, "S3Key": id + ".zip"}
	}
	body, _ := json.Marshal(tpl)
	// Canary values for the secrets the stack is given: none may reach a
	// function's configuration.
	canaries := map[string]string{"SlackClientSecret": "canaryClientSecret0123456789", "SlackSigningSecret": "canarySigningSecret0123456789"}
	var params []cftypes.Parameter
	for k, v := range canaries {
		params = append(params, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	cf := cloudformation.NewFromConfig(cfg)
	name := "lsb-" + strings.ToLower(ids.New("s"))
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: &name, TemplateBody: aws.String(string(body)),
		Parameters: params, Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam}}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	t.Cleanup(func() { cf.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: &name}) })
	st, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Stacks[0].StackStatus; s != cftypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", s, aws.ToString(st.Stacks[0].StackStatusReason))
	}
	physical := map[string]string{}
	created := map[string]int{}
	p := cloudformation.NewListStackResourcesPaginator(cf, &cloudformation.ListStackResourcesInput{StackName: &name})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.StackResourceSummaries {
			id := aws.ToString(r.LogicalResourceId)
			physical[id] = aws.ToString(r.PhysicalResourceId)
			if typ := aws.ToString(r.ResourceType); typ != "" { // moto leaves the type of what it skipped empty
				created[typ]++
			}
		}
	}
	var skipped []string
	for id, r := range resources {
		typ := r.(map[string]any)["Type"].(string)
		if created[typ] == 0 {
			skipped = append(skipped, typ+" "+id)
		}
	}
	sort.Strings(skipped)
	t.Logf("moto created %d resource types %v; skipped %d resources: %v", len(created), created, len(skipped), skipped)

	if len(fnIDs) < 10 {
		t.Fatalf("%d functions", len(fnIDs))
	}
	for _, id := range fnIDs {
		// Read as raw JSON: moto keeps a number parameter's value as a JSON
		// number (MAX_MESSAGE_CHARS), which the SDK's strict decoder refuses.
		req, _ := http.NewRequest(http.MethodGet, testaws.Endpoint(t)+"/2015-03-31/functions/"+physical[id]+"/configuration", nil)
		// moto routes by the credential scope's service; it checks no signature.
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var fc struct {
			Environment struct{ Variables map[string]any }
		}
		if err := json.Unmarshal(b, &fc); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %s %v", id, res.StatusCode, b, err)
		}
		for param, v := range canaries {
			if strings.Contains(string(b), v) {
				t.Errorf("%s's configuration holds the %s", id, param)
			}
		}
		if fc.Environment.Variables["DATA_TABLE"] != physical["DataTable"] {
			t.Errorf("%s: DATA_TABLE not resolved to the stack's table: %v", id, fc.Environment.Variables)
		}
	}
	lc := lambda.NewFromConfig(cfg)
	db := dynamodb.NewFromConfig(cfg)
	for _, id := range []string{"DataTable", "ArchiveTable"} {
		d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(physical[id])})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		want := len(resources[id].(map[string]any)["Properties"].(map[string]any)["GlobalSecondaryIndexes"].([]any))
		if len(d.Table.GlobalSecondaryIndexes) != want {
			t.Errorf("%s: %d indexes, want %d", id, len(d.Table.GlobalSecondaryIndexes), want)
		}
	}
	maps, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	stream := 0
	for _, m := range maps.EventSourceMappings {
		if strings.Contains(aws.ToString(m.EventSourceArn), physical["DataTable"]) {
			stream++
		}
	}
	if stream != 2 {
		t.Errorf("%d stream mappings on the Data table, want 2 (dispatch, archive)", stream)
	}
}
