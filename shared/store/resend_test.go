package store_test

import (
	"context"
	"errors"
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
// held, a refreshed token stored under it is stored, a question to the bot,
// a handoff (to people or a desk), a LINE reply token, a reopen and a Slack
// post's ts are this call's, a privacy request's attempt and counts are
// counted once and its completion is no lost lease, and a touch says what it
// recorded. A real second caller is still
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
		"revoke an owner key (a transaction)": func(t *testing.T, tid string) {
			putKey(t, plain, tid, "owner", plain.Now())
			owner := putKey(t, plain, tid, "owner", plain.Now())
			if err := lossy.RevokeAPIKey(ctx, tid, owner, time.Now(), retention.Defaults); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if k, err := plain.APIKey(ctx, tid, owner); err != nil || k.RevokedAt == nil {
				t.Fatalf("the key after its revoke: %+v %v", k, err)
			}
		},
		"open a conversation (a transaction)": func(t *testing.T, tid string) {
			vid := ids.New(ids.Contact)
			_, first, err := lossy.OpenConversation(ctx, tid, vid, chat.ChannelWidget, retention.Defaults)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if _, again, err := plain.OpenConversation(ctx, tid, vid, chat.ChannelWidget, retention.Defaults); err != nil || again != first {
				t.Fatalf("the visitor's next message: %s %v, want the conversation %s", again, err, first)
			}
		},
		"reopen a closed account": func(t *testing.T, tid string) {
			if err := plain.PutTenant(ctx, &chat.Tenant{ID: tid, Status: "active", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := plain.CloseTenant(ctx, tid); err != nil {
				t.Fatal(err)
			}
			if err := lossy.ReopenTenant(ctx, tid); err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if err := plain.ReopenTenant(ctx, tid); !errors.Is(err, store.ErrNotClosed) {
				t.Fatalf("a reopen of the open account: %v, want not closed", err)
			}
		},
		"take a LINE reply token": func(t *testing.T, tid string) {
			u := &chat.ChannelUser{Channel: "line", Account: "2001", UserID: "U1", ContactID: ids.New(ids.Contact), ReplyToken: "reply-1"}
			if _, err := plain.TouchChannelUser(ctx, tid, u, time.Now(), retention.Defaults); err != nil {
				t.Fatal(err)
			}
			if took, err := lossy.TakeReplyToken(ctx, tid, u, "reply-1"); err != nil || !took {
				t.Fatalf("take: %v %v, want taken", took, err)
			}
			if again, err := plain.TakeReplyToken(ctx, tid, u, "reply-1"); err != nil || again {
				t.Fatalf("a second sender: %v %v, want it taken already", again, err)
			}
		},
		"record a Slack post and its ts": func(t *testing.T, tid string) {
			cv, msg := ids.New(ids.Conversation), ids.New(ids.Message)
			post := &chat.SlackPost{MessageID: msg, ChannelID: "C1", ThreadTS: "1.1"}
			if _, begun, err := lossy.BeginSlackPost(ctx, tid, cv, post, time.Now(), retention.Defaults); err != nil || !begun {
				t.Fatalf("begin: %v %v, want begun by this attempt (no lookup in Slack)", begun, err)
			}
			if _, begun, err := plain.BeginSlackPost(ctx, tid, cv, post, time.Now(), retention.Defaults); err != nil || begun {
				t.Fatalf("a retry of the delivery: %v %v, want the earlier record", begun, err)
			}
			if ok, err := lossy.FinishSlackPost(ctx, tid, cv, msg, "1700000000.000002"); err != nil || !ok {
				t.Fatalf("finish: %v %v, want this post recorded (else its caller deletes it from Slack)", ok, err)
			}
			if ok, err := plain.FinishSlackPost(ctx, tid, cv, msg, "1700000000.000003"); err != nil || ok {
				t.Fatalf("a concurrent attempt's post: %v %v, want refused", ok, err)
			}
		},
		"work on a privacy request": func(t *testing.T, tid string) {
			now := plain.Now()
			req := &chat.PrivacyRequest{ID: ids.New(ids.Request), TenantID: tid, Type: chat.PrivacyExport, Reason: chat.ReasonLegal,
				Subject: &chat.PrivacySubject{Email: "ada@example.com"}, Status: chat.PrivacyReceived, ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}
			if err := plain.PutPrivacyRequest(ctx, req); err != nil {
				t.Fatal(err)
			}
			got, err := lossy.ClaimPrivacyRequest(ctx, tid, req.ID, "run-1", time.Minute)
			if err != nil || got.Status != chat.PrivacyProcessing || got.Attempts != 1 {
				t.Fatalf("claim: %+v %v, want processing, one attempt", got, err)
			}
			if err := lossy.UpdatePrivacyRequest(ctx, tid, req.ID, "run-1", chat.PrivacyUpdate{Add: map[string]int{"contacts": 2}}); err != nil {
				t.Fatalf("count: %v", err)
			}
			done := now.Add(time.Second)
			if err := lossy.UpdatePrivacyRequest(ctx, tid, req.ID, "run-1", chat.PrivacyUpdate{Status: chat.PrivacyCompleted, CompletedAt: &done}); err != nil {
				t.Fatalf("complete: %v, want done (not a lost lease)", err)
			}
			if got, err := plain.PrivacyRequest(ctx, tid, req.ID); err != nil || got.Status != chat.PrivacyCompleted || got.Attempts != 1 || got.Counts["contacts"] != 2 {
				t.Fatalf("the request: %+v %v, want completed, one attempt, contacts counted once", got, err)
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
		"ask the bot once per message": func(t *testing.T, tid string) {
			cv, msg, at := ids.New(ids.Conversation), ids.New(ids.Message), time.Now()
			if claimed, _, _, err := lossy.ClaimBotQuery(ctx, tid, cv, msg, at, retention.Defaults); err != nil || !claimed {
				t.Fatalf("the first claim: %v %v, want claimed", claimed, err)
			}
			if again, state, _, err := plain.ClaimBotQuery(ctx, tid, cv, msg, at, retention.Defaults); err != nil || again || state != store.BotAsked {
				t.Fatalf("a redelivery: %v %q %v, want refused, asked", again, state, err)
			}
		},
		"hand a conversation to people": func(t *testing.T, tid string) {
			cv := ids.New(ids.Conversation)
			if did, err := lossy.HandToPeople(ctx, tid, cv, "handoff", time.Now(), retention.Defaults); err != nil || !did {
				t.Fatalf("the handoff: %v %v, want done by this call", did, err)
			}
			if again, err := plain.HandToPeople(ctx, tid, cv, "handoff", time.Now(), retention.Defaults); err != nil || again {
				t.Fatalf("a second handoff: %v %v, want refused", again, err)
			}
		},
		"hand a conversation to a desk": func(t *testing.T, tid string) {
			h := &chat.Handoff{TenantID: tid, ConversationID: ids.New(ids.Conversation), To: "zendesk", TicketID: "5001", By: "Eve", At: time.Now()}
			if got, created, err := lossy.PutHandoff(ctx, h, retention.Defaults); err != nil || !created || got.TicketID != "5001" {
				t.Fatalf("the handoff: %+v %v %v, want created", got, created, err)
			}
			again := *h
			again.TicketID, again.At = "5002", time.Now()
			if got, created, err := plain.PutHandoff(ctx, &again, retention.Defaults); err != nil || created || got.TicketID != "5001" {
				t.Fatalf("a second handoff: %+v %v %v, want the first one", got, created, err)
			}
		},
		"store a refreshed channel token": func(t *testing.T, tid string) {
			now := time.Now()
			if ok, err := plain.LeaseChannelToken(ctx, tid, "x", "owner-1", now, now.Add(30*time.Second)); err != nil || !ok {
				t.Fatalf("the lease: %v %v", ok, err)
			}
			tok := store.ChannelToken{Integration: "wh1", Blob: []byte(ids.Secret(24)), Expires: store.TimeKey(now.Add(time.Hour))}
			if err := lossy.PutChannelToken(ctx, tid, "x", "owner-1", tok, now, retention.Defaults); err != nil {
				t.Fatalf("put: %v", err)
			}
			if got, err := plain.ChannelTokenOf(ctx, tid, "x"); err != nil || string(got.Blob) != string(tok.Blob) || got.LeaseOwner != "" {
				t.Fatalf("the token after its put: %+v %v, want it stored and the lease free", got, err)
			}
			other := store.ChannelToken{Integration: "wh1", Blob: []byte(ids.Secret(24)), Expires: tok.Expires}
			if err := plain.PutChannelToken(ctx, tid, "x", "owner-2", other, now, retention.Defaults); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("a put without the lease: %v, want the lease lost", err)
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
