package adminapi_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
)

// adminFunction returns the AdminApiFunction's HttpApi routes and its policy's
// DynamoDB actions per resource.
func adminRoutes(t *testing.T) (routes map[string]bool) {
	t.Helper()
	tpl := testaws.Template(t)
	fn, ok := tpl.Resources["AdminApiFunction"]
	if !ok {
		t.Fatal("template.yaml has no AdminApiFunction")
	}
	routes = map[string]bool{}
	events, _ := fn.Properties["Events"].(map[string]any)
	for name, ev := range events {
		e := ev.(map[string]any)
		p := e["Properties"].(map[string]any)
		if e["Type"] != "HttpApi" {
			t.Errorf("event %s is %v, want HttpApi", name, e["Type"])
		}
		routes[fmt.Sprint(p["Method"])+" "+fmt.Sprint(p["Path"])] = true
	}
	return routes
}

// TestTemplate_RoutesMatchTheAPI keeps the HttpApi routes of AdminApiFunction in
// step with the routes the handler serves (explicit routes, no proxy).
func TestTemplate_RoutesMatchTheAPI(t *testing.T) {
	tplRoutes := adminRoutes(t)
	served := map[string]bool{}
	for _, rt := range newAPIWithoutStore().Routes() {
		served[rt.Method+" "+rt.Pattern] = true
		if !tplRoutes[rt.Method+" "+rt.Pattern] {
			t.Errorf("served route %s %s is not routed to AdminApiFunction in template.yaml", rt.Method, rt.Pattern)
		}
	}
	for r := range tplRoutes {
		if !served[r] {
			t.Errorf("template routes %s to AdminApiFunction, which does not serve it", r)
		}
	}
}

// TestTemplate_PolicyIsExactlyWhatTheAPIUses drives every route through a
// metered client and compares the IAM actions its DynamoDB calls need (a
// transaction needs those of its items) with the policy: every one is allowed,
// and every allowed action is used.
func TestTemplate_PolicyIsExactlyWhatTheAPIUses(t *testing.T) {
	m := testaws.NewMeter()
	e := newMeteredEnv(t, m)
	f := e.newFixture("Policy")
	m.Reset() // the fixture writes through the store, not the API
	for _, rt := range e.api.Routes() {
		tc := routeCases[rt.Method+" "+rt.Pattern]
		key := f.OwnerKey
		if rt.Role == "operator" {
			key = platformToken
		}
		if res := e.call(rt.Method, tc.path(f), key, tc.body); res.Status >= 500 {
			t.Fatalf("%s %s: %d %s", rt.Method, rt.Pattern, res.Status, res.Body)
		}
	}
	e.call(http.MethodGet, "/v1/contacts?email="+f.Email, f.OwnerKey, "")
	// Revoking an owner key checks another owner key in a transaction.
	_, ownerID := e.createKey(f.OwnerKey, "second owner", "owner")
	wantStatus(t, "revoke an owner key", e.call(http.MethodDelete, "/v1/api-keys/"+ownerID, f.OwnerKey, ""), http.StatusNoContent)
	calls, _, _ := m.Snapshot()
	tpl := testaws.Template(t)
	table := map[string]bool{}
	for _, a := range tpl.Allowed("AdminApiFunction", "DataTable.Arn", "dynamodb") {
		table[a] = true
	}
	used := map[string]bool{}
	for name := range m.Actions() {
		used[name] = true
		if !table[name] {
			t.Errorf("the API calls %s, which the policy does not allow", name)
		}
	}
	var unused []string
	for a := range table {
		if !used[a] {
			unused = append(unused, a)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("the policy allows %v, which the API never calls", unused)
	}
	if gsi := tpl.Allowed("AdminApiFunction", "${DataTable.Arn}/index/GSI1", "dynamodb"); fmt.Sprint(gsi) != "[Query]" {
		t.Errorf("GSI1 statement allows %v, want only Query", gsi)
	}
	if calls["Scan"] != 0 {
		t.Errorf("the API scanned %d times", calls["Scan"])
	}
}

// TestTemplate_KeyMintingRoutesAreThrottled: the operator routes that mint
// credentials have their own low throttle on the HTTP API.
func TestTemplate_KeyMintingRoutesAreThrottled(t *testing.T) {
	api, ok := testaws.Template(t).Resources["HttpApi"]
	if !ok {
		t.Fatal("template.yaml has no HttpApi")
	}
	settings, _ := api.Properties["RouteSettings"].(map[string]any)
	for _, route := range []string{"POST /v1/tenants", "POST /v1/tenants/{id}/api-keys"} {
		s, _ := settings[route].(map[string]any)
		if fmt.Sprint(s["ThrottlingBurstLimit"]) != "5" || fmt.Sprint(s["ThrottlingRateLimit"]) != "1" {
			t.Errorf("%s: route settings %v, want burst 5 and rate 1", route, s)
		}
	}
}
