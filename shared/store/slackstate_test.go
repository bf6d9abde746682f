package store_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestClaimSlackState_AnSDKRetryOfTheClaimIsNoReplay: DynamoDB applies the
// claim but its answer is lost (a 500 after the write); the SDK sends the same
// PutItem again, whose condition fails on the item it wrote itself. That is
// still the first use of the install link (it was refused as "already used",
// a CI failure); a real second use stays refused.
func TestClaimSlackState_AnSDKRetryOfTheClaimIsNoReplay(t *testing.T) {
	tt := testaws.NewTables(t)
	var lost atomic.Bool
	loseFirstPut := middleware.FinalizeMiddlewareFunc("loseFirstPutAnswer", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleFinalize(ctx, in)
		if err == nil && middleware.GetOperationName(ctx) == "PutItem" && lost.CompareAndSwap(false, true) {
			return out, md, &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusInternalServerError}},
				Err: errors.New("the answer was lost")}
		}
		return out, md, err
	})
	db := dynamodb.NewFromConfig(testaws.Config(t), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Finalize.Add(loseFirstPut, middleware.After) })
	})
	st := store.New(db, tt.Data, tt.Archive)
	ctx := context.Background()
	tid, nonce := ids.New(ids.Tenant), ids.Secret(16)
	exp := time.Now().Add(10 * time.Minute)
	fresh, err := st.ClaimSlackState(ctx, tid, nonce, exp, retention.Defaults)
	if !lost.Load() {
		t.Fatal("no answer was lost: the test did not test the retry")
	}
	if err != nil || !fresh {
		t.Fatalf("the first claim, retried by the SDK: fresh=%v %v, want fresh", fresh, err)
	}
	if again, err := st.ClaimSlackState(ctx, tid, nonce, exp, retention.Defaults); err != nil || again {
		t.Fatalf("a second use of the link: fresh=%v %v, want refused", again, err)
	}
}
