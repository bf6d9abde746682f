package main

import (
	"context"
	"encoding/json"
	"os"
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

// fn is the function's main under test.
var fn = testaws.Main{Run: run, Serve: &serve}

func TestRun_ServesTheDailySweepUnderTheInvocationsLease(t *testing.T) {
	tt := testaws.NewTables(t)
	st := tt.Store()
	ten := &chat.Tenant{ID: ids.New(ids.Tenant), Name: "Acme", Status: "active", CreatedAt: st.Now()}
	if err := st.PutTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	h := lambda.NewHandler(fn.Start(t, testaws.FunctionEnv(t, tt, nil, nil)))
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
	fn.Refuses(t, testaws.FunctionEnv(t, tt, nil, nil), [2]string{"DATA_TABLE", ""}, [2]string{"ARCHIVE_TABLE", ""})
}
