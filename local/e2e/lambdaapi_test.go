package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/livesupportbot/backend/shared/lambdainvoke"
)

// TestLambdaAPI_InvokesFunctionsForTheSDK checks the Invoke API the functions'
// own SDK calls reach through AWS_ENDPOINT_URL_LAMBDA, with the real client.
func TestLambdaAPI_InvokesFunctionsForTheSDK(t *testing.T) {
	s := localStack(t)
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.HTTPURL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	ctx := context.Background()
	authz := []byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:x/dev/$connect","queryStringParameters":{"token":"forged"}}`)

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("WsConnectFunction"), Payload: authz})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"Unauthorized"`) {
		t.Errorf("function error = %q %s", aws.ToString(out.FunctionError), out.Payload)
	}

	arn := "arn:aws:lambda:us-east-1:123456789012:function:WsConnectFunction"
	ev, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(arn), Payload: authz, InvocationType: types.InvocationTypeEvent})
	if err != nil || ev.StatusCode != 202 {
		t.Errorf("event invocation = %+v, %v", ev, err)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("NoSuchFunction"), Payload: []byte(`{}`)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown function = %v, want ResourceNotFoundException", err)
	}

	// The admin API's own signed call (lambdainvoke, no SDK client) is accepted too.
	inv := lambdainvoke.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.HTTPURL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, func(string) string { return "" })
	if err := inv.InvokeAsync(ctx, arn, authz); err != nil {
		t.Errorf("lambdainvoke event invocation: %v", err)
	}
	if err := inv.InvokeAsync(ctx, "NoSuchFunction", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "status 404 ResourceNotFoundException") {
		t.Errorf("lambdainvoke of an unknown function = %v", err)
	}
}
