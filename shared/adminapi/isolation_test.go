package adminapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/ids"
)

// routeCase says how to call one route: the path (and body) built from a
// fixture's ids. Every route the API serves must have one (see
// TestIsolation_EveryRouteHasACase), so a new route cannot skip these tests.
type routeCase struct {
	path func(f fixture) string
	body string
	// byID marks routes that name another tenant's item in the path: they must
	// answer 404 exactly as for a missing id.
	byID bool
	// redirect marks routes that answer 302 (the Slack and Dialogflow installs).
	redirect bool
	// refused is the status of a call refused on purpose (0: none): the
	// fixture's account must stay open for the other routes, so its close is
	// sent a wrong confirmation (400) and its reopen finds it open (409);
	// TestTenantClose_* close and reopen real accounts.
	refused int
}

var routeCases = map[string]routeCase{
	"POST /v1/tenants":           {path: fixed("/v1/tenants"), body: `{"name":"Another"}`},
	"GET /v1/tenant":             {path: fixed("/v1/tenant")},
	"PATCH /v1/tenant":           {path: fixed("/v1/tenant"), body: `{"name":"Renamed","allowedOrigins":["https://a.example"]}`},
	"POST /v1/api-keys":          {path: fixed("/v1/api-keys"), body: `{"name":"ci","role":"agent"}`},
	"GET /v1/api-keys":           {path: fixed("/v1/api-keys")},
	"DELETE /v1/api-keys/{id}":   {path: func(f fixture) string { return "/v1/api-keys/" + f.AgentKeyID }, byID: true},
	"GET /v1/conversations":      {path: fixed("/v1/conversations?status=open")},
	"GET /v1/conversations/{id}": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID }, byID: true},
	"PATCH /v1/conversations/{id}": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID },
		body: `{"status":"closed"}`, byID: true},
	"GET /v1/conversations/{id}/messages": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID + "/messages" }, byID: true},
	"POST /v1/conversations/{id}/messages": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID + "/messages" },
		body: `{"text":"hi there","agentName":"Eve"}`, byID: true},
	"GET /v1/contacts":      {path: func(f fixture) string { return "/v1/contacts?email=" + f.Email }},
	"GET /v1/contacts/{id}": {path: func(f fixture) string { return "/v1/contacts/" + f.ContactID }, byID: true},
	"PATCH /v1/contacts/{id}": {path: func(f fixture) string { return "/v1/contacts/" + f.ContactID },
		body: `{"name":"Mallory","email":"mallory@example.com","marketingOptOut":true}`, byID: true},
	"GET /v1/audit-events": {path: fixed("/v1/audit-events")},
	"POST /v1/privacy-requests": {path: fixed("/v1/privacy-requests"),
		body: `{"type":"export","subject":{"email":"nobody-privacy@example.com"},"reason":"legal"}`},
	"GET /v1/privacy-requests": {path: fixed("/v1/privacy-requests")},
	// Other tenants' request ids: see TestPrivacyRequests_CreateProcessAndRead.
	"GET /v1/privacy-requests/{id}": {path: func(fixture) string { return "/v1/privacy-requests/" + ids.New(ids.Request) }, byID: true},
	"GET /v1/privacy-settings":      {path: fixed("/v1/privacy-settings")},
	"PATCH /v1/privacy-settings":    {path: fixed("/v1/privacy-settings"), body: `{"reingestAfterErasure":"new_contact"}`},
	// Lifting a suppression that does not exist is not found, for any tenant.
	"POST /v1/suppressions/lift":         {path: fixed("/v1/suppressions/lift"), body: `{"email":"nobody@example.com"}`, byID: true},
	"GET /v1/integrations":               {path: fixed("/v1/integrations")},
	"GET /v1/integrations/slack/install": {path: fixed("/v1/integrations/slack/install"), redirect: true},
	"GET /v1/integrations/dialogflow/install": {path: fixed("/v1/integrations/dialogflow/install?edition=es&project=acme-support-bot&channels=widget"),
		redirect: true},
	"DELETE /v1/integrations/slack": {path: fixed("/v1/integrations/slack")},
	"PUT /v1/integrations/{channel}": {path: fixed("/v1/integrations/messenger"),
		body: `{"accountId":"1029384756","accessToken":"EAAGtesttokentesttokentest"}`},
	"DELETE /v1/integrations/{channel}": {path: fixed("/v1/integrations/messenger")},
	"POST /v1/conversations/{id}/template": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID + "/template" },
		body: `{"name":"hello_world","language":"en_US"}`, byID: true},
	"POST /v1/conversations/{id}/handoff": {path: func(f fixture) string { return "/v1/conversations/" + f.ConvID + "/handoff" },
		body: `{"to":"zendesk"}`, byID: true},
	"POST /v1/agent-tokens":               {path: fixed("/v1/agent-tokens"), body: `{"name":"Ana"}`},
	"GET /v1/agents":                      {path: fixed("/v1/agents")},
	"PUT /v1/contacts/{id}/legal-hold":    {path: func(f fixture) string { return "/v1/contacts/" + f.ContactID + "/legal-hold" }, byID: true},
	"DELETE /v1/contacts/{id}/legal-hold": {path: func(f fixture) string { return "/v1/contacts/" + f.ContactID + "/legal-hold" }, byID: true},
	// The operator is no tenant: its tenant-wide hold names any tenant. Here it
	// names one that does not exist; TestTenantLegalHold_* holds a real one.
	"PUT /v1/tenants/{id}/legal-hold":    {path: fixed("/v1/tenants/t0000000000000000000000000/legal-hold"), byID: true},
	"DELETE /v1/tenants/{id}/legal-hold": {path: fixed("/v1/tenants/t0000000000000000000000000/legal-hold"), byID: true},
	// Likewise its inbox shards; TestInboxShards_* sets a real tenant's.
	"PUT /v1/tenants/{id}/inbox-shards": {path: fixed("/v1/tenants/t0000000000000000000000000/inbox-shards"), body: `{"inboxShards":2}`, byID: true},
	// Likewise the operator's owner key for a tenant; TestOperator_* issue real ones.
	"POST /v1/tenants/{id}/api-keys": {path: fixed("/v1/tenants/t0000000000000000000000000/api-keys"), body: `{"name":"recovery"}`, byID: true},
	"POST /v1/tenant/close":          {path: fixed("/v1/tenant/close"), body: `{"confirm":"t0000000000000000000000000"}`, refused: http.StatusBadRequest},
	"POST /v1/tenant/reopen":         {path: fixed("/v1/tenant/reopen"), body: `{}`, refused: http.StatusConflict},
	// Likewise the operator's close and reopen; TestTenantClose_Operator* close real ones.
	"POST /v1/tenants/{id}/close":  {path: fixed("/v1/tenants/t0000000000000000000000000/close"), body: `{"reason":"requested"}`, byID: true},
	"POST /v1/tenants/{id}/reopen": {path: fixed("/v1/tenants/t0000000000000000000000000/reopen"), body: `{}`, byID: true},
}

func fixed(p string) func(fixture) string { return func(fixture) string { return p } }

// missing is a fixture of ids that exist nowhere.
func missing() fixture {
	return fixture{ContactID: ids.New(ids.Contact), ConvID: ids.New(ids.Conversation),
		AgentKeyID: ids.New(ids.APIKey), Email: "nobody@example.com"}
}

func TestIsolation_EveryRouteHasACase(t *testing.T) {
	for _, rt := range newAPIWithoutStore().Routes() {
		if _, ok := routeCases[rt.Method+" "+rt.Pattern]; !ok {
			t.Errorf("route %s %s has no entry in routeCases", rt.Method, rt.Pattern)
		}
	}
}

// TestIsolation_ForeignIDsAnswerAsMissing calls every route with a key of tenant
// A and the ids of tenant B: routes naming an item answer exactly as for ids
// that do not exist (404), lists show nothing of B, and nothing of B changes.
func TestIsolation_ForeignIDsAnswerAsMissing(t *testing.T) {
	e := newEnv(t)
	a, b := e.newFixture("Alpha"), e.newFixture("Bravo")
	before := e.snapshot(b)
	for _, rt := range e.api.Routes() {
		name := rt.Method + " " + rt.Pattern
		tc := routeCases[name]
		t.Run(name, func(t *testing.T) {
			key := a.OwnerKey
			if rt.Role == "operator" {
				key = platformToken
			}
			foreign := e.call(rt.Method, tc.path(b), key, tc.body)
			absent := e.call(rt.Method, tc.path(missing()), key, tc.body)
			switch {
			case tc.refused != 0:
				wantProblem(t, "own account", foreign, tc.refused)
				wantProblem(t, "own account, absent ids", absent, tc.refused)
			case tc.byID:
				pf := wantProblem(t, "foreign id", foreign, http.StatusNotFound)
				pa := wantProblem(t, "missing id", absent, http.StatusNotFound)
				for _, k := range []string{"type", "title", "detail", "code", "errors"} {
					if pf[k] != nil || pa[k] != nil {
						if !equalJSON(pf[k], pa[k]) {
							t.Errorf("%s differs: foreign %v, missing %v", k, pf[k], pa[k])
						}
					}
				}
			default:
				if foreign.Status >= 300 && !(tc.redirect && foreign.Status == http.StatusFound) {
					t.Fatalf("list/own route failed: %d %s", foreign.Status, foreign.Body)
				}
				if rt.Method == http.MethodGet && absent.Status != foreign.Status {
					t.Errorf("status for B's data %d, for absent data %d", foreign.Status, absent.Status)
				}
			}
			for _, secret := range []string{b.ID, b.ContactID, b.ConvID, b.AgentKeyID, b.OwnerKeyID, b.Email, "Bravo"} {
				if strings.Contains(foreign.Body, secret) {
					t.Errorf("answer shows tenant B's %q: %s", secret, foreign.Body)
				}
			}
			if after := e.snapshot(b); after != before {
				t.Fatalf("tenant B changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// B's keys still work after A tried to revoke them.
	wantStatus(t, "B's agent key", e.call(http.MethodGet, "/v1/conversations", b.AgentKey, ""), http.StatusOK)
}
