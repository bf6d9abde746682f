package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/store"
)

// createKey makes a key through the API and returns its secret and id.
func (e *env) createKey(ownerKey, name, role string) (string, string) {
	e.t.Helper()
	res := e.call(http.MethodPost, "/v1/api-keys", ownerKey, `{"name":"`+name+`","role":"`+role+`"}`)
	wantStatus(e.t, "create "+role+" key", res, http.StatusCreated)
	k := res.json(e.t)
	return k["key"].(string), k["id"].(string)
}

// liveOwnerKeys counts the tenant's unrevoked, unexpired owner keys, as the
// owner's key list shows them.
func (e *env) liveOwnerKeys(ownerKey string) int {
	e.t.Helper()
	res := e.call(http.MethodGet, "/v1/api-keys?limit=100", ownerKey, "")
	wantStatus(e.t, "list keys", res, http.StatusOK)
	var out struct {
		Items []struct {
			Role      string
			RevokedAt *time.Time
		}
	}
	if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, k := range out.Items {
		if k.Role == "owner" && k.RevokedAt == nil {
			n++
		}
	}
	return n
}

func TestAPIKeys_LastOwnerKeyCannotBeRevoked(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("LastOwner") // one owner key, one agent key
	p := wantProblem(t, "revoke the only owner key", e.call(http.MethodDelete, "/v1/api-keys/"+f.OwnerKeyID, f.OwnerKey, ""), http.StatusConflict)
	if p["code"] != "conflict" || !strings.Contains(p["detail"].(string), "last active owner key cannot be revoked") {
		t.Fatalf("problem %v", p)
	}
	wantStatus(t, "the refused key still works", e.call(http.MethodGet, "/v1/tenant", f.OwnerKey, ""), http.StatusOK)
	if strings.Contains(e.auditItems(f.ID), adminapi.ActAPIKeyRevoke) {
		t.Fatal("a refused revoke was audited as a revoke")
	}

	// With a second owner key the first may go, even revoking itself; then the
	// second is the last one.
	second, secondID := e.createKey(f.OwnerKey, "second owner", "owner")
	wantStatus(t, "revoke own key while another owner key works", e.call(http.MethodDelete, "/v1/api-keys/"+f.OwnerKeyID, f.OwnerKey, ""), http.StatusNoContent)
	wantProblem(t, "revoke the now last owner key", e.call(http.MethodDelete, "/v1/api-keys/"+secondID, second, ""), http.StatusConflict)
	// The agent key is no owner key: revoking it is fine, keeping it is no excuse.
	wantStatus(t, "revoke the agent key", e.call(http.MethodDelete, "/v1/api-keys/"+f.AgentKeyID, second, ""), http.StatusNoContent)
	if n := e.liveOwnerKeys(second); n != 1 {
		t.Fatalf("%d live owner keys, want 1", n)
	}
}

// TestAPIKeys_ExpiredOwnerKeyIsNoOwner: an owner key past its expiresAt
// authenticates nobody, so it does not make another key revocable.
func TestAPIKeys_ExpiredOwnerKeyIsNoOwner(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Expired")
	old, oldID := e.createKey(a.OwnerKey, "old owner", "owner")
	e.setKeyAttr(a.ID, oldID, "expiresAt", &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)})
	wantProblem(t, "the expired key", e.call(http.MethodGet, "/v1/tenant", old, ""), http.StatusUnauthorized)
	wantProblem(t, "revoke the last live owner key", e.call(http.MethodDelete, "/v1/api-keys/"+a.OwnerKeyID, a.OwnerKey, ""), http.StatusConflict)
}

// setKeyAttr writes one attribute of a stored key straight to the table (the
// key must be there: the update creates nothing).
func (e *env) setKeyAttr(tenantID, keyID, attr string, v types.AttributeValue) {
	e.t.Helper()
	_, err := e.tt.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: &e.tt.Data, Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: store.APIKeyPK(tenantID, keyID)},
			"SK": &types.AttributeValueMemberS{Value: store.SKAPIKey}},
		UpdateExpression:          aws.String("SET #a = :v"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": v},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// hookDB runs before once, just before the first write its when selects: a
// deterministic way to let another Lambda instance act between what a request
// read and what it writes (moto's backends are not thread-safe, so the test
// does not race real goroutines against it).
type hookDB struct {
	store.Client
	when   func(op string) bool
	before func()
}

func (h *hookDB) fire(op string) {
	if h.before != nil && h.when(op) {
		f := h.before
		h.before = nil
		f()
	}
}

func (h *hookDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	h.fire("UpdateItem")
	return h.Client.UpdateItem(ctx, in, opts...)
}

func (h *hookDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	h.fire("TransactWriteItems")
	return h.Client.TransactWriteItems(ctx, in, opts...)
}

// TestAPIKeys_TwoOwnersRevokeTheLastTwoAtOnce: owners A and B, the tenant's
// only owner keys, revoke each other's key at the same moment on two Lambda
// instances. B's request runs whole while A's is in flight: after A was
// authenticated and before A's first write, or after A read the keys and
// before A's transaction. Exactly one revoke is refused, and the key left works.
func TestAPIKeys_TwoOwnersRevokeTheLastTwoAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		when func(op string) bool
	}{
		{"B between A's authentication and A's first write", func(string) bool { return true }},
		{"B between A's read of the keys and A's transaction", func(op string) bool { return op == "TransactWriteItems" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.newFixture("Race")
			keyA, idA := f.OwnerKey, f.OwnerKeyID
			keyB, idB := e.createKey(keyA, "owner B", "owner")
			hook := &hookDB{Client: e.tt.DB, when: tc.when}
			other := &env{t: t, tt: e.tt, logs: &bytes.Buffer{}}
			other.store = store.New(hook, e.tt.Data, e.tt.Archive).WithSubjectKey(subjectKey)
			other.api = adminapi.New(withStore(other.store, adminapi.Deps{PlatformToken: platformToken,
				Logger: slog.New(slog.NewJSONHandler(other.logs, nil))}))
			var resB response
			ran := false
			hook.before = func() {
				ran = true
				resB = e.call(http.MethodDelete, "/v1/api-keys/"+idA, keyB, "")
			}
			resA := other.call(http.MethodDelete, "/v1/api-keys/"+idB, keyA, "")
			if !ran {
				resB = e.call(http.MethodDelete, "/v1/api-keys/"+idA, keyB, "")
			}
			t.Logf("A revoking B's key: %d %s; B revoking A's key: %d %s", resA.Status, resA.Body, resB.Status, resB.Body)
			wantStatus(t, "B, first to write", resB, http.StatusNoContent)
			wantProblem(t, "A, second", resA, http.StatusConflict)
			wantStatus(t, "B's key, the one left", e.call(http.MethodGet, "/v1/tenant", keyB, ""), http.StatusOK)
			if n := e.liveOwnerKeys(keyB); n != 1 {
				t.Fatalf("%d live owner keys, want 1", n)
			}
		})
	}
}

// TestAPIKeys_RevokeCost pins what a revoke costs in DynamoDB, beside the
// authentication's read of the key (its tenant is kept, store.AdminTenantCacheTTL), the key's rate-limit counter (one conditional
// update) and the audit event: an agent key one
// conditional update, as before the last-owner rule; an owner key that update
// (its condition fails on the role), a strongly consistent Query of the
// tenant's partition for keys still stored there (the transition: none here),
// a Query of the key list in GSI1 until a witness, and the two-item
// transaction; a refused one changes nothing (its failed update is still
// billed one write unit).
func TestAPIKeys_RevokeCost(t *testing.T) {
	m := testaws.NewMeter()
	now := time.Now().UTC() // the API's clock stands still: its tenant stays kept
	e := newMeteredEnv(t, m, func(d *adminapi.Deps) { d.Now = func() time.Time { return now } })
	f := e.newFixture("Cost")
	_, second := e.createKey(f.OwnerKey, "second owner", "owner")
	for _, tc := range []struct {
		name, id string
		status   int
		calls    string
	}{
		{"agent key", f.AgentKeyID, http.StatusNoContent, "GetItem=1 PutItem=1 UpdateItem=2"},
		{"owner key", second, http.StatusNoContent, "GetItem=1 PutItem=1 Query=2 TransactWriteItems=1 UpdateItem=2"},
		{"last owner key", f.OwnerKeyID, http.StatusConflict, "GetItem=1 Query=2 UpdateItem=2"},
	} {
		m.Reset()
		wantStatus(t, tc.name, e.call(http.MethodDelete, "/v1/api-keys/"+tc.id, f.OwnerKey, ""), tc.status)
		calls, read, write := m.Snapshot()
		var names []string
		for k, v := range calls {
			names = append(names, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(names)
		t.Logf("%-15s %-70s read %.1f write %.1f", tc.name, strings.Join(names, " "), read, write)
		if got := strings.Join(names, " "); got != tc.calls {
			t.Errorf("%s: calls %s, want %s", tc.name, got, tc.calls)
		}
	}
}
