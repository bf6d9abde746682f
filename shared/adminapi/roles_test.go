package adminapi_test

import (
	"net/http"
	"testing"

	"github.com/livesupportbot/backend/shared/adminapi"
)

// TestRoles_EveryRoute checks, for every route, who may call it: no key and a
// revoked key are 401; the operator token only creates tenants; an agent key
// reads the inbox, replies and closes, and nothing else; an owner key does
// everything but create tenants.
func TestRoles_EveryRoute(t *testing.T) {
	e := newEnv(t)
	f := e.newFixture("Roles")
	res := e.call(http.MethodPost, "/v1/api-keys", f.OwnerKey, `{"name":"to revoke","role":"owner"}`)
	wantStatus(t, "create key", res, http.StatusCreated)
	revoked := res.json(t)
	wantStatus(t, "revoke", e.call(http.MethodDelete, "/v1/api-keys/"+revoked["id"].(string), f.OwnerKey, ""), http.StatusNoContent)
	// A spare key for the revoke route, so the owner's call does not revoke the
	// agent key the later cases use.
	res = e.call(http.MethodPost, "/v1/api-keys", f.OwnerKey, `{"name":"spare","role":"agent"}`)
	spare := f
	spare.AgentKeyID = res.json(t)["id"].(string)

	for _, rt := range e.api.Routes() {
		tc := routeCases[rt.Method+" "+rt.Pattern]
		path := tc.path(spare)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			wantProblem(t, "no key", e.call(rt.Method, path, "", tc.body), http.StatusUnauthorized)
			wantProblem(t, "revoked key", e.call(rt.Method, path, revoked["key"].(string), tc.body), http.StatusUnauthorized)
			for _, who := range []struct {
				role adminapi.Role
				key  string
			}{{"agent", f.AgentKey}, {"owner", f.OwnerKey}, {"operator", platformToken}} {
				res := e.call(rt.Method, path, who.key, tc.body)
				allowed := rt.Role == who.role || (rt.Role == adminapi.RoleAgent && who.role == adminapi.RoleOwner)
				if !allowed {
					wantProblem(t, string(who.role)+" key", res, http.StatusForbidden)
					continue
				}
				if res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden || res.Status >= 500 {
					t.Errorf("%s key: status %d: %s", who.role, res.Status, res.Body)
				}
			}
		})
	}
}

func TestRoles_RouteTableGivesAgentsOnlyTheInbox(t *testing.T) {
	want := map[string]bool{
		"GET /v1/conversations": true, "GET /v1/conversations/{id}": true, "PATCH /v1/conversations/{id}": true,
		"GET /v1/conversations/{id}/messages": true, "POST /v1/conversations/{id}/messages": true,
		"POST /v1/conversations/{id}/template": true, "POST /v1/conversations/{id}/handoff": true,
		"GET /v1/contacts/{id}": true, "POST /v1/agent-tokens": true, "GET /v1/agents": true,
	}
	for _, rt := range newAPIWithoutStore().Routes() {
		name := rt.Method + " " + rt.Pattern
		if got := rt.Role == adminapi.RoleAgent; got != want[name] {
			t.Errorf("%s: open to agents %v, want %v", name, got, want[name])
		}
	}
}
