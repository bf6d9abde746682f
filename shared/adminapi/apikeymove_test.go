package adminapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// putLegacyKey stores a key of the tenant as the store did before keys had
// partitions of their own (one raw PutItem into T#t#TENANT / APIKEY#<id>, with
// the old attributes) and returns the secret key and its id.
func (e *env) putLegacyKey(tenantID, name, role string) (string, string) {
	e.t.Helper()
	id := ids.New(ids.APIKey)
	secret := "lsb_" + tenantID + "_" + id + "_" + ids.Secret(32)
	h := sha256.Sum256([]byte(secret))
	created := time.Now().UTC()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	_, err := e.tt.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.tt.Data, Item: map[string]types.AttributeValue{
		"PK": s(store.TenantPK(tenantID)), "SK": s("APIKEY#" + id),
		"dataClass": s("personal"), "entity": s("apiKey"),
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(retention.ExpiresAt(retention.Defaults, retention.Personal, created), 10)},
		"id":        s(id), "tenantId": s(tenantID), "name": s(name), "role": s(role),
		"prefix": s("lsb_" + tenantID + "_" + id), "hash": s(hex.EncodeToString(h[:])), "createdBy": s("test"),
		"createdAt": s(created.Format(time.RFC3339Nano)),
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, id
}

// TestAPIKeys_KeysStoredBeforeTheMoveKeepWorking: keys stored in the tenant's
// partition before keys got partitions of their own authenticate, are listed
// and can be revoked; an owner key there is a witness for another's revoke.
// The first request of a key moves it; from then on its requests read the
// key's own partition, and of the tenant's partition only the tenant profile
// (eventually consistent, 0.5 RCU), which every request reads when the API
// keeps no tenants (as here; a warm admin-api keeps them for
// store.AdminTenantCacheTTL).
func TestAPIKeys_KeysStoredBeforeTheMoveKeepWorking(t *testing.T) {
	m := testaws.NewMeter()
	e := newMeteredEnv(t, m, func(d *adminapi.Deps) { d.TenantTTL = 0 })
	a := e.newTenant("Before")
	owner, ownerID := e.putLegacyKey(a.ID, "old owner", "owner")
	agent, agentID := e.putLegacyKey(a.ID, "old agent", "agent")
	tenantPart := testaws.Partition{Table: e.tt.Data, Key: store.TenantPK(a.ID)}
	keyPart := testaws.Partition{Table: e.tt.Data, Key: store.APIKeyPK(a.ID, ownerID)}

	// The inbox reads nothing of the tenant's partition itself.
	const inbox = "/v1/conversations?status=open"
	m.Reset()
	wantStatus(t, "first request of the old owner key", e.call(http.MethodGet, inbox, owner, ""), http.StatusOK)
	if u := m.ByPartition()[tenantPart]; u.Requests != 3 {
		t.Fatalf("first request: tenant's partition %+v, want the key's read and delete and the profile read", u)
	}
	for range 3 {
		m.Reset()
		wantStatus(t, "later request of the old owner key", e.call(http.MethodGet, inbox, owner, ""), http.StatusOK)
		parts := m.ByPartition()
		if u := parts[tenantPart]; u != (testaws.PartitionUse{Requests: 1, Read: 0.5}) {
			t.Fatalf("later request: tenant's partition %+v, want only the profile read (1 request, 0.5 RCU)", u)
		}
		if u := parts[keyPart]; u != (testaws.PartitionUse{Requests: 1, Read: 1}) {
			t.Fatalf("later request: key's partition %+v, want one strongly consistent read", u)
		}
	}

	// The list shows the keys of both places; the old agent key is not moved
	// yet.
	var seen []string
	for cursor := ""; ; {
		res := e.call(http.MethodGet, "/v1/api-keys?limit=1"+cursor, owner, "")
		wantStatus(t, "list page", res, http.StatusOK)
		page := res.json(t)
		for _, it := range page["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := page["next"].(string)
		if next == "" || len(seen) > 10 {
			break
		}
		cursor = "&cursor=" + next
	}
	if got, want := strings.Join(seen, " "), strings.Join([]string{a.OwnerKeyID, ownerID, agentID}, " "); got != want {
		t.Fatalf("listed %s, want %s", got, want)
	}

	// Revoke the old agent key before it was ever used; it stops working.
	wantStatus(t, "revoke the old agent key", e.call(http.MethodDelete, "/v1/api-keys/"+agentID, owner, ""), http.StatusNoContent)
	wantProblem(t, "the revoked old agent key", e.call(http.MethodGet, "/v1/conversations", agent, ""), http.StatusUnauthorized)
	// The tenant's first owner key goes with the old owner key as witness;
	// then the old owner key is the last one.
	wantStatus(t, "revoke the first owner key", e.call(http.MethodDelete, "/v1/api-keys/"+a.OwnerKeyID, owner, ""), http.StatusNoContent)
	wantProblem(t, "revoke the last owner key", e.call(http.MethodDelete, "/v1/api-keys/"+ownerID, owner, ""), http.StatusConflict)
	if n := e.liveOwnerKeys(owner); n != 1 {
		t.Fatalf("%d live owner keys, want 1", n)
	}
}
