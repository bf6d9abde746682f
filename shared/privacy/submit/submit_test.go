package submit_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/submit"
)

type fakeLambda struct{ in *lambda.InvokeInput }

func (f *fakeLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.in = in
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

func TestLambdaInvoker_QueuesAnEventWithIDsOnly(t *testing.T) {
	fl := &fakeLambda{}
	payload, _ := json.Marshal(privacy.Event{TenantID: "t1", RequestID: "r1"})
	if err := (submit.LambdaInvoker{Client: fl}).InvokeAsync(context.Background(), "erase-fn", payload); err != nil {
		t.Fatal(err)
	}
	if fl.in.InvocationType != lambdatypes.InvocationTypeEvent || *fl.in.FunctionName != "erase-fn" ||
		string(fl.in.Payload) != `{"tenantId":"t1","requestId":"r1"}` {
		t.Errorf("invoke %s %s %s", fl.in.InvocationType, *fl.in.FunctionName, fl.in.Payload)
	}
}
