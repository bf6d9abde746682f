// Package submit wires the privacy service of the admin API to AWS: each new
// request starts its processing function through the Lambda API (InvocationType
// Event), and finished exports get freshly signed S3 download links. It links
// neither the processors nor anything the admin API does not use.
package submit

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/s3link"
)

// NewService builds the service of the admin function from the environment:
// PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION name the functions it
// invokes (InvocationType Event); EXPORT_BUCKET, when set, enables fresh links.
func NewService(cfg aws.Config, st privacy.ServiceStore, getenv func(string) string) (*privacy.Service, error) {
	exp, era := getenv("PRIVACY_EXPORT_FUNCTION"), getenv("PRIVACY_ERASE_FUNCTION")
	if exp == "" || era == "" {
		return nil, fmt.Errorf("missing environment: PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION")
	}
	s := &privacy.Service{Store: st, Invoker: LambdaInvoker{Client: lambda.NewFromConfig(cfg)}, ExportFunction: exp, EraseFunction: era}
	if b := getenv("EXPORT_BUCKET"); b != "" {
		s.Presign, s.Bucket = s3link.New(cfg, getenv), b
	}
	return s, nil
}

// LambdaClient is the call of the Lambda API the invoker uses.
type LambdaClient interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// LambdaInvoker starts functions through the Lambda API with InvocationType
// Event: Lambda queues the event, retries it and sends what keeps failing to the
// function's on-failure destination.
type LambdaInvoker struct{ Client LambdaClient }

// InvokeAsync queues payload for the function.
func (l LambdaInvoker) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	out, err := l.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(function), InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload,
	})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.StatusCode != 202 {
		return fmt.Errorf("invoke %s: status %d", function, out.StatusCode)
	}
	return nil
}
