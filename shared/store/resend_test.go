package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestWrites_AnSDKResendIsTheSameWrite: DynamoDB applies a conditional write
// but its answer is lost (a 500 after the write, or a dropped connection);
// the SDK sends the same request again, whose condition now fails on the
// write's own result. Each write below still reports what it did: the first
// use of an install link is no replay (CI failed on both kinds when moto lost
// an answer), a revoked key is revoked (not "not found"), a lease taken is
// held, and a touch says what it recorded. A real second caller is still
// refused.
func TestWrites_AnSDKResendIsTheSameWrite(t *testing.T) {
	tt := testaws.NewTables(t)
	plain := tt.Store()
	var lost testaws.LostAnswers
	lossy := store.New(dynamodb.NewFromConfig(testaws.Config(t), lost.Option()), tt.Data, tt.Archive)
	ctx := context.Background()
	exp := time.Now().Add(10 * time.Minute)

	cases := map[string]func(t *testing.T, tid string){
		"slack install state": func(t *testing.T, tid string) {
			nonce := ids.Secret(16)
			if fresh, err := lossy.ClaimSlackState(ctx, tid, nonce, exp, retention.Defaults); err != nil || !fresh {
				t.Fatalf("the first claim: fresh=%v %v, want fresh", fresh, err)
			}
			if again, err := plain.ClaimSlackState(ctx, tid, nonce, exp, retention.Defaults); err != nil || again {
				t.Fatalf("a second use of the link: fresh=%v %v, want refused", again, err)
			}
		},
		"channel install state": func(t *testing.T, tid string) {
			nonce := ids.Secret(16)
			if fresh, err := lossy.ClaimOAuthState(ctx, tid, "dialogflow", nonce, exp, retention.Defaults); err != nil || !fresh {
				t.Fatalf("the first claim: fresh=%v %v, want fresh", fresh, err)
			}
			if again, err := plain.ClaimOAuthState(ctx, tid, "dialogflow", nonce, exp, retention.Defaults); err != nil || again {
				t.Fatalf("a second use of the link: fresh=%v %v, want refused", again, err)
			}
		},
		"revoke an agent key": func(t *testing.T, tid string) {
			agent := putKey(t, plain, tid, "agent", plain.Now())
			if err := lossy.RevokeAPIKey(ctx, tid, agent, time.Now(), retention.Defaults); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if k, err := plain.APIKey(ctx, tid, agent); err != nil || k.RevokedAt == nil {
				t.Fatalf("the key after its revoke: %+v %v", k, err)
			}
			if err := plain.RevokeAPIKey(ctx, tid, agent, time.Now(), retention.Defaults); chat.ErrorCode(err) != chat.ENotFound {
				t.Fatalf("a second revoke: %v, want not found", err)
			}
		},
		"channel token lease": func(t *testing.T, tid string) {
			now := time.Now()
			if ok, err := lossy.LeaseChannelToken(ctx, tid, "x", "owner-1", now, now.Add(30*time.Second)); err != nil || !ok {
				t.Fatalf("the lease: %v %v, want taken", ok, err)
			}
			if ok, err := plain.LeaseChannelToken(ctx, tid, "x", "owner-2", now, now.Add(30*time.Second)); err != nil || ok {
				t.Fatalf("another owner: %v %v, want refused", ok, err)
			}
		},
		"sweep lease": func(t *testing.T, tid string) {
			until := time.Now().Add(time.Hour)
			state, err := lossy.AcquireSweep(ctx, tid, "run-1", until)
			if err != nil || state == nil || state.LeaseOwner != "run-1" || state.LeaseUntil != until.Unix() {
				t.Fatalf("the lease: %+v %v, want held by run-1", state, err)
			}
			if other, err := plain.AcquireSweep(ctx, tid, "run-2", until); err != nil || other != nil {
				t.Fatalf("another run: %+v %v, want refused", other, err)
			}
		},
		"touch a conversation kept without an end": func(t *testing.T, tid string) {
			_, cvID, err := plain.OpenConversation(ctx, tid, ids.New(ids.Contact), chat.ChannelWidget, retention.Defaults)
			if err != nil {
				t.Fatal(err)
			}
			later := plain.Now().Add(time.Hour).Truncate(time.Second)
			if recorded, err := lossy.TouchConversation(ctx, tid, cvID, later, time.Time{}, time.Minute); err != nil || !recorded.Equal(later) {
				t.Fatalf("touch: %v %v, want %v recorded", recorded, err, later)
			}
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) {
			before := lost.Lost.Load()
			run(t, ids.New(ids.Tenant))
			if lost.Lost.Load() == before {
				t.Fatal("no answer was lost: the case did not test a resend")
			}
		})
	}
}
