package adminapi_test

import (
	"net/http"
	"strconv"
	"testing"
)

// TestRateLimit_PerKey429WithRetryAfter: a key over its limit gets a 429
// problem document with Retry-After, and changes nothing; another key of the
// same tenant is not held back.
func TestRateLimit_PerKey429WithRetryAfter(t *testing.T) {
	e := newEnv(t)
	ten := e.newTenant("Limited")
	other, _ := e.createKey(ten.OwnerKey, "second owner", "owner")
	// The owner lowers the per-key limit to make the test short.
	res := e.call(http.MethodPatch, "/v1/tenant", ten.OwnerKey, `{"rateLimits":{"apiKey":{"burst":4,"perMinute":60}}}`)
	wantStatus(t, "lower the API key limit", res, http.StatusOK)
	limited, lastAccepted := 0, -1
	for i := range 12 {
		res := e.call(http.MethodPatch, "/v1/tenant", ten.OwnerKey, `{"name":"Name `+strconv.Itoa(i)+`"}`)
		if res.Status == http.StatusOK {
			lastAccepted = i // a window may turn over between calls: the accepted ones need not come first
			continue
		}
		p := wantProblem(t, "over the limit", res, http.StatusTooManyRequests)
		if p["code"] != "rate_limited" {
			t.Fatalf("problem %v, want code rate_limited", p)
		}
		if s, err := strconv.Atoi(res.Headers["Retry-After"]); err != nil || s < 1 || s > 60 {
			t.Fatalf("Retry-After %q, want whole seconds in 1..60", res.Headers["Retry-After"])
		}
		limited++
	}
	if limited == 0 {
		t.Fatal("12 requests at once: none limited")
	}
	// The other key's budget is its own, and the limited calls changed nothing:
	// the name is the last one a successful call set.
	got := e.call(http.MethodGet, "/v1/tenant", other, "")
	wantStatus(t, "another key", got, http.StatusOK)
	if name := got.json(t)["name"]; name != "Name "+strconv.Itoa(lastAccepted) {
		t.Fatalf("name %v after %d limited calls, want the last accepted one", name, limited)
	}
}

// TestTenantRateLimits_PatchShowsEffectiveAndRefusesBadValues: the owner's
// overrides are kept, the limits in force shown; a bad value is a 400 naming
// the field and changes nothing.
func TestTenantRateLimits_PatchShowsEffectiveAndRefusesBadValues(t *testing.T) {
	e := newEnv(t)
	ten := e.newTenant("Limits")
	res := e.call(http.MethodPatch, "/v1/tenant", ten.OwnerKey, `{"rateLimits":{"sendMessage":{"burst":100},"typing":{"burst":50,"perMinute":120}}}`)
	wantStatus(t, "raise", res, http.StatusOK)
	eff := res.json(t)["effectiveRateLimits"].(map[string]any)
	if got := eff["sendMessage"].(map[string]any); got["burst"] != float64(100) || got["perMinute"] != float64(30) {
		t.Errorf("effective sendMessage %v, want burst 100 and the default 30 a minute", got)
	}
	if got := eff["apiKey"].(map[string]any); got["burst"] != float64(300) || got["perMinute"] != float64(1800) {
		t.Errorf("effective apiKey %v, want the defaults", got)
	}
	before := e.call(http.MethodGet, "/v1/tenant", ten.OwnerKey, "").json(t)["rateLimits"]
	p := wantProblem(t, "a bad limit", e.call(http.MethodPatch, "/v1/tenant", ten.OwnerKey,
		`{"name":"Renamed","rateLimits":{"sendMessage":{"burst":1},"apiKey":{"perMinute":60001}}}`), http.StatusBadRequest)
	if got := fields(t, p); len(got) != 2 || got[0] != "rateLimits.apiKey.perMinute" || got[1] != "rateLimits.sendMessage.burst" {
		t.Errorf("failing fields %v", got)
	}
	after := e.call(http.MethodGet, "/v1/tenant", ten.OwnerKey, "").json(t)
	if !equalJSON(after["rateLimits"], before) || after["name"] != "Limits" {
		t.Errorf("a refused patch changed the tenant: %v", after)
	}
}
