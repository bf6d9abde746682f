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

// TestClaimState_AnSDKRetryOfTheClaimIsNoReplay: DynamoDB applies the claim
// of an install link's state but its answer is lost (a 500 after the write);
// the SDK sends the same PutItem again, whose condition fails on the item it
// wrote itself. That is still the first use of the install link (it was
// refused as "already used", a CI failure, for Slack and then for the bot's
// install); a real second use stays refused.
func TestClaimState_AnSDKRetryOfTheClaimIsNoReplay(t *testing.T) {
	claims := map[string]func(st *store.Store, tid, nonce string, exp time.Time) (bool, error){
		"slack": func(st *store.Store, tid, nonce string, exp time.Time) (bool, error) {
			return st.ClaimSlackState(context.Background(), tid, nonce, exp, retention.Defaults)
		},
		"channel": func(st *store.Store, tid, nonce string, exp time.Time) (bool, error) {
			return st.ClaimOAuthState(context.Background(), tid, "dialogflow", nonce, exp, retention.Defaults)
		},
	}
	tt := testaws.NewTables(t)
	for name, claim := range claims {
		t.Run(name, func(t *testing.T) {
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
			tid, nonce := ids.New(ids.Tenant), ids.Secret(16)
			exp := time.Now().Add(10 * time.Minute)
			fresh, err := claim(st, tid, nonce, exp)
			if !lost.Load() {
				t.Fatal("no answer was lost: the test did not test the retry")
			}
			if err != nil || !fresh {
				t.Fatalf("the first claim, retried by the SDK: fresh=%v %v, want fresh", fresh, err)
			}
			if again, err := claim(st, tid, nonce, exp); err != nil || again {
				t.Fatalf("a second use of the link: fresh=%v %v, want refused", again, err)
			}
		})
	}
}
