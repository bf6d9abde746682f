// Package lambdainvoke queues events for Lambda functions (Invoke with
// InvocationType Event) with one signed REST call, so the admin API does not
// link the Lambda SDK client, whose package inits alone cost more than half a
// millisecond of every cold start.
package lambdainvoke

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/livesupportbot/backend/shared/awscall"
)

// Invoker queues events through the Lambda API.
type Invoker struct{ c *awscall.Client }

// New returns the invoker of cfg; its endpoint is AWS_ENDPOINT_URL_LAMBDA, else
// the base endpoint (AWS_ENDPOINT_URL), else Lambda's in the region.
func New(cfg aws.Config, getenv func(string) string) Invoker {
	return Invoker{c: awscall.New(cfg, getenv, "lambda", "LAMBDA")}
}

// request is the Invoke call of function (a name, a partial or a full ARN,
// escaped as the SDK escapes it) with InvocationType Event.
func request(function string, payload []byte) awscall.Request {
	return awscall.Request{
		Method:     http.MethodPost,
		EscapedURI: "/2015-03-31/functions/" + httpbinding.EscapePath(function, true) + "/invocations",
		Header:     http.Header{"X-Amz-Invocation-Type": {"Event"}, "Content-Type": {"application/octet-stream"}},
		Body:       payload,
	}
}

// InvokeAsync queues payload for the function: Lambda answers 202 once it has
// the event, then runs it, retries it and sends what keeps failing to the
// function's on-failure destination. Errors name the function and the status,
// never the payload.
func (i Invoker) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	res, err := i.c.Do(ctx, request(function, payload))
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	if res.Status != http.StatusAccepted {
		return fmt.Errorf("invoke %s: status %d", function, res.Status)
	}
	return nil
}
