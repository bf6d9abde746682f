package testaws

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LostAnswers is a DynamoDB client option under which the first answer to
// each write (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
// TransactWriteItems) is lost after DynamoDB applied the write: the SDK sees a
// 500 and sends the same request again, as it does when DynamoDB answers
// InternalServerError for a write it applied, or the connection drops on the
// way back. (A transaction's resend carries the ClientRequestToken the SDK
// filled in, which DynamoDB, and local/moto's patched moto, answer with
// success without applying it again.) Lost counts the answers lost.
type LostAnswers struct{ Lost atomic.Int64 }

type invocationKey struct{}

// Option returns the client option (for dynamodb.NewFromConfig).
func (l *LostAnswers) Option() func(*dynamodb.Options) {
	mark := middleware.InitializeMiddlewareFunc("markInvocation", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		return next.HandleInitialize(context.WithValue(ctx, invocationKey{}, new(atomic.Bool)), in)
	})
	// After the retry middleware: it runs once per attempt.
	lose := middleware.FinalizeMiddlewareFunc("loseFirstAnswer", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleFinalize(ctx, in)
		switch middleware.GetOperationName(ctx) {
		case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
		default:
			return out, md, err
		}
		if once, ok := ctx.Value(invocationKey{}).(*atomic.Bool); ok && err == nil && once.CompareAndSwap(false, true) {
			l.Lost.Add(1)
			return out, md, &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusInternalServerError}},
				Err: errors.New("injected: the answer was lost after the write was applied")}
		}
		return out, md, err
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			if err := s.Initialize.Add(mark, middleware.Before); err != nil {
				return err
			}
			return s.Finalize.Add(lose, middleware.After)
		})
	}
}
