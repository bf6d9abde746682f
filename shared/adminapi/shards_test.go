package adminapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// TestInboxShards_OperatorRaisesThemAndTheInboxReadsEveryShard: the operator
// gives a tenant 8 inbox shards; fewer is refused, as is a count that is not
// a power of two or a caller that is not the operator; the conversation the
// fixture opened before (shard 0) and one closed and reopened after (its own
// shard) are both in the inbox.
func TestInboxShards_OperatorRaisesThemAndTheInboxReadsEveryShard(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Big shop")
	path := "/v1/tenants/" + f.ID + "/inbox-shards"
	wantProblem(t, "owner may not set shards", e.call(http.MethodPut, path, f.OwnerKey, `{"inboxShards":8}`), http.StatusForbidden)
	wantProblem(t, "not a power of two", e.call(http.MethodPut, path, platformToken, `{"inboxShards":6}`), http.StatusBadRequest)
	wantProblem(t, "too many", e.call(http.MethodPut, path, platformToken, `{"inboxShards":128}`), http.StatusBadRequest)
	wantProblem(t, "missing", e.call(http.MethodPut, path, platformToken, `{}`), http.StatusBadRequest)
	wantProblem(t, "unknown tenant", e.call(http.MethodPut, "/v1/tenants/t0000000000000000000000000/inbox-shards", platformToken, `{"inboxShards":8}`), http.StatusNotFound)

	res := e.call(http.MethodPut, path, platformToken, `{"inboxShards":8}`)
	wantStatus(t, "set 8 shards", res, http.StatusOK)
	if b := res.json(t); b["inboxShards"] != float64(8) || b["tenantId"] != f.ID {
		t.Fatalf("answer %s", res.Body)
	}
	wantProblem(t, "fewer shards", e.call(http.MethodPut, path, platformToken, `{"inboxShards":4}`), http.StatusConflict)
	wantStatus(t, "the same again", e.call(http.MethodPut, path, platformToken, `{"inboxShards":8}`), http.StatusOK)
	tn, err := e.store.Tenant(context.Background(), f.ID)
	if err != nil || tn.InboxShards != 8 {
		t.Fatalf("tenant inbox shards %v, %v", tn, err)
	}

	// A second conversation, closed and reopened under 8 shards, moves to its shard.
	_, cv, err := e.store.OpenConversation(context.Background(), f.ID, ids.New(ids.Contact), chat.ChannelWidget, tn.Periods())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"closed", "open"} {
		wantStatus(t, st, e.call(http.MethodPatch, "/v1/conversations/"+cv, f.AgentKey, `{"status":"`+st+`"}`), http.StatusOK)
	}
	item, err := e.tt.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &e.tt.Data,
		Key: testaws.Key(store.ConversationPK(f.ID, cv), store.SKMeta)})
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := item.Item["GSI1PK"].(*types.AttributeValueMemberS); g == nil || g.Value != store.InboxKey(f.ID, chat.StatusOpen, cv, 8) {
		t.Errorf("reopened conversation in inbox partition %v, want its shard of 8", item.Item["GSI1PK"])
	}
	body := e.call(http.MethodGet, "/v1/conversations?status=open", f.AgentKey, "").Body
	for _, id := range []string{f.ConvID, cv} {
		if !contains(body, id) {
			t.Errorf("inbox %s lacks %s", body, id)
		}
	}
	if !contains(e.call(http.MethodGet, "/v1/audit-events", f.OwnerKey, "").Body, adminapi.ActTenantInboxShards) {
		t.Error("no audit event of the change")
	}
}

// TestTenantCache_AdminRequestsReadTheTenantOncePerTTL: a warm admin API
// reads the tenant of the keys it authenticates once per TenantTTL (the key
// itself on every request, so a revoke works at once); its own change of the
// tenant takes effect on its next request; a change made elsewhere within
// the TTL.
func TestTenantCache_AdminRequestsReadTheTenantOncePerTTL(t *testing.T) {
	m := testaws.NewMeter()
	now := time.Now().UTC()
	e := newMeteredEnv(t, m, func(d *adminapi.Deps) {
		d.Now = func() time.Time { return now }
		d.TenantTTL = store.AdminTenantCacheTTL
	})
	f := e.newFixture("Cached")
	tenantPart := testaws.Partition{Table: e.tt.Data, Key: store.TenantPK(f.ID)}
	keyPart := testaws.Partition{Table: e.tt.Data, Key: store.APIKeyPK(f.ID, f.AgentKeyID)}
	const inbox = "/v1/conversations?status=open"
	wantStatus(t, "warm up", e.call(http.MethodGet, inbox, f.AgentKey, ""), http.StatusOK)
	m.Reset()
	for range 5 {
		wantStatus(t, "inbox", e.call(http.MethodGet, inbox, f.AgentKey, ""), http.StatusOK)
	}
	parts := m.ByPartition()
	if u := parts[tenantPart]; u.Requests != 0 {
		t.Errorf("5 requests within the TTL read the tenant's partition %d times, want 0", u.Requests)
	}
	if u := parts[keyPart]; u.Requests != 5 {
		t.Errorf("5 requests read the key %d times, want 5 (keys are never kept)", u.Requests)
	}

	// A change through this API: its next request sees it.
	wantStatus(t, "rename", e.call(http.MethodPatch, "/v1/tenant", f.OwnerKey, `{"name":"Renamed"}`), http.StatusOK)
	if b := e.call(http.MethodGet, "/v1/tenant", f.OwnerKey, "").Body; !contains(b, "Renamed") {
		t.Errorf("after its own change the API shows %s", b)
	}
	// A change elsewhere (the tenant closed by another instance): seen once the TTL passes.
	if err := e.store.CloseTenant(context.Background(), f.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "within the TTL", e.call(http.MethodGet, inbox, f.AgentKey, ""), http.StatusOK)
	now = now.Add(store.AdminTenantCacheTTL + time.Second)
	wantProblem(t, "after the TTL", e.call(http.MethodGet, inbox, f.AgentKey, ""), http.StatusUnauthorized)
}
