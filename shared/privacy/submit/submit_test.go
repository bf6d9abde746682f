package submit_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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

func TestNewService_ReadsTheFunctionsAndTheBucket(t *testing.T) {
	env := map[string]string{"PRIVACY_EXPORT_FUNCTION": "exp"}
	getenv := func(k string) string { return env[k] }
	if _, err := submit.NewService(aws.Config{}, nil, getenv); err == nil || !strings.Contains(err.Error(), "PRIVACY_ERASE_FUNCTION") {
		t.Fatalf("missing erase function: %v", err)
	}
	env["PRIVACY_ERASE_FUNCTION"] = "era"
	s, err := submit.NewService(aws.Config{Region: "eu-west-1"}, nil, getenv)
	if err != nil || s.ExportFunction != "exp" || s.EraseFunction != "era" || s.Presign != nil {
		t.Fatalf("without bucket: %+v, %v", s, err)
	}
	env["EXPORT_BUCKET"] = "b"
	if s, err = submit.NewService(aws.Config{Region: "eu-west-1"}, nil, getenv); err != nil || s.Presign == nil || s.Bucket != "b" {
		t.Fatalf("with bucket: %+v, %v", s, err)
	}
}
