package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
	"github.com/livesupportbot/backend/shared/sweep"
)

// start runs run with the test's environment and returns the handler it
// serves, as the Lambda runtime would call it.
func start(t *testing.T, getenv func(string) string) lambda.Handler {
	t.Helper()
	var served any
	old := serve
	serve = func(h any) error { served = h; return nil }
	t.Cleanup(func() { serve = old })
	if err := run(context.Background(), getenv); err != nil {
		t.Fatal(err)
	}
	return lambda.NewHandler(served)
}

func TestRun_ServesTheDailySweepUnderTheInvocationsLease(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Acme", Status: "active", CreatedAt: st.Now()}
	if err := st.PutTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	h := start(t, testaws.FunctionEnv(t, tt, nil, nil))
	payload, err := os.ReadFile("../../events/retention-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	var sum sweep.Summary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	if sum.Tenants != 1 || sum.Skipped != 0 || sum.Stopped {
		t.Fatalf("summary %s, want the one tenant swept", out)
	}
	// The tenant's sweep state names the invocation that held its lease.
	res, err := tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(tt.Data),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.TenantPK(ten.ID)},
			"SK": &types.AttributeValueMemberS{Value: store.SKSweep},
		}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if owner, _ := res.Item["leaseOwner"].(*types.AttributeValueMemberS); owner == nil || owner.Value != "req-1" {
		t.Errorf("sweep state lease owner %v, want the request id req-1", res.Item["leaseOwner"])
	}
}

func TestRun_RefusesToStartWithoutItsSettings(t *testing.T) {
	tt := testaws.NewTables(t)
	old := serve
	t.Cleanup(func() { serve = old })
	for _, missing := range []string{"DATA_TABLE", "ARCHIVE_TABLE"} {
		getenv := testaws.FunctionEnv(t, tt, nil, map[string]string{missing: ""})
		serve = func(any) error { t.Fatal("served without " + missing); return nil }
		err := run(context.Background(), getenv)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v, want an error naming it", missing, err)
		}
	}
}
