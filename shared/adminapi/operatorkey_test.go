package adminapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/adminapi"
)

// lockOut makes the tenant's only owner key unusable straight in the table, as
// a tenant locked out before revokes were checked: revoked, or expired.
func (e *env) lockOut(a tenant, how string) {
	e.t.Helper()
	switch how {
	case "revoked":
		e.setKeyAttr(a.ID, a.OwnerKeyID, "revokedAt", &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)})
	case "expired":
		e.setKeyAttr(a.ID, a.OwnerKeyID, "expiresAt", &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)})
	}
	wantProblem(e.t, "the locked-out tenant's key", e.call(http.MethodGet, "/v1/tenant", a.OwnerKey, ""), http.StatusUnauthorized)
}

func TestOperator_IssuesOwnerKeyThatWorksAtOnce(t *testing.T) {
	for _, how := range []string{"revoked", "expired"} {
		t.Run("only owner key "+how, func(t *testing.T) {
			e := newEnv(t)
			a := e.newTenant("Locked")
			e.lockOut(a, how)
			res := e.call(http.MethodPost, "/v1/tenants/"+a.ID+"/api-keys", platformToken, `{"name":"recovered owner"}`)
			wantStatus(t, "issue", res, http.StatusCreated)
			var k struct {
				ID, Name, Role, Prefix, CreatedBy, Key, Hash string
				CreatedAt                                    time.Time
				RevokedAt                                    *time.Time
			}
			if err := json.Unmarshal([]byte(res.Body), &k); err != nil {
				t.Fatal(err)
			}
			if k.Role != "owner" || k.Name != "recovered owner" || k.CreatedBy != "operator" || k.Hash != "" || k.RevokedAt != nil ||
				!strings.HasPrefix(k.Key, "lsb_"+a.ID+"_"+k.ID+"_") || k.Prefix != "lsb_"+a.ID+"_"+k.ID || k.CreatedAt.IsZero() {
				t.Fatalf("issued key %s", res.Body)
			}
			// It works at once, as an owner key.
			wantStatus(t, "read the tenant with the new key", e.call(http.MethodGet, "/v1/tenant", k.Key, ""), http.StatusOK)
			if n := e.liveOwnerKeys(k.Key); n != 1 {
				t.Fatalf("%d live owner keys, want 1", n)
			}
			// Audited in the tenant's trail, ids only.
			res = e.call(http.MethodGet, "/v1/audit-events?limit=100", k.Key, "")
			wantStatus(t, "audit events", res, http.StatusOK)
			var evs struct {
				Items []struct {
					ActorKeyID, ActorRole, Action string
					Targets                       map[string]string
				}
			}
			json.Unmarshal([]byte(res.Body), &evs)
			found := 0
			for _, ev := range evs.Items {
				if ev.Action != adminapi.ActAPIKeyIssue {
					continue
				}
				found++
				if ev.ActorKeyID != "operator" || ev.ActorRole != "operator" || len(ev.Targets) != 2 ||
					ev.Targets["tenantId"] != a.ID || ev.Targets["apiKeyId"] != k.ID {
					t.Errorf("audit event %+v", ev)
				}
			}
			if found != 1 {
				t.Fatalf("%d %s events, want 1: %s", found, adminapi.ActAPIKeyIssue, res.Body)
			}
			if raw := e.auditItems(a.ID); strings.Contains(raw, "recovered owner") || strings.Contains(raw, k.Key) {
				t.Fatalf("the audit trail holds the key's name or secret: %s", raw)
			}
		})
	}
}

func TestOperator_IssueOwnerKeyRefusals(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Refusals")
	closed := e.newTenant("Closed")
	if err := e.store.CloseTenant(context.Background(), closed.ID); err != nil {
		t.Fatal(err)
	}
	before := e.itemCount()
	body := `{"name":"x"}`
	wantProblem(t, "missing tenant", e.call(http.MethodPost, "/v1/tenants/t0000000000000000000000000/api-keys", platformToken, body), http.StatusNotFound)
	wantProblem(t, "malformed tenant id", e.call(http.MethodPost, "/v1/tenants/nope/api-keys", platformToken, body), http.StatusNotFound)
	wantProblem(t, "closed tenant", e.call(http.MethodPost, "/v1/tenants/"+closed.ID+"/api-keys", platformToken, body), http.StatusNotFound)
	wantProblem(t, "an owner key", e.call(http.MethodPost, "/v1/tenants/"+a.ID+"/api-keys", a.OwnerKey, body), http.StatusForbidden)
	p := wantProblem(t, "no name", e.call(http.MethodPost, "/v1/tenants/"+a.ID+"/api-keys", platformToken, `{"name":"  "}`), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "name" {
		t.Errorf("failing fields %q, want name", got)
	}
	p = wantProblem(t, "a role", e.call(http.MethodPost, "/v1/tenants/"+a.ID+"/api-keys", platformToken, `{"name":"x","role":"agent"}`), http.StatusBadRequest)
	if got := strings.Join(fields(t, p), ","); got != "role" {
		t.Errorf("failing fields %q, want role (the operator issues owner keys only)", got)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("items %d -> %d: a refused issue wrote", before, after)
	}
}
