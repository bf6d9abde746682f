package adminapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/adminapi"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// clockEnv is an env on a settable clock, with a store on the same clock for
// the test's own reads.
func clockEnv(t *testing.T) (*env, *time.Time, *store.Store) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	e := newEnv(t, func(d *adminapi.Deps) { d.Now = clock; d.TenantTTL = 0 })
	return e, &now, e.store.WithClock(clock)
}

// widgetWorks reports whether the tenant's widget key resolves.
func widgetWorks(t *testing.T, st *store.Store, f fixture) bool {
	t.Helper()
	_, err := st.TenantByWidgetKey(context.Background(), f.WidgetKey)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestTenantClose_OwnerClosesWithConfirmationAndReopensWithinGrace: a wrong or
// missing confirmation is a 400 that changes nothing; agent keys and the
// operator may not call the owner's close; the owner's close answers 202 with
// closedAt and deletionAt; then the widget and every key stop working, but the
// owner key still reads the tenant; the owner's reopen within the grace period
// brings everything back; both are audited with ids only.
func TestTenantClose_OwnerClosesWithConfirmationAndReopensWithinGrace(t *testing.T) {
	e, now, st := clockEnv(t)
	f := e.newFixture("Closing")
	other := e.newFixture("Staying")
	before := e.itemCount()
	for _, body := range []string{`{"confirm":"` + other.ID + `"}`, `{"confirm":""}`, `{}`, `{"confirm":"` + strings.ToUpper(f.ID) + `"}`} {
		p := wantProblem(t, "confirm "+body, e.call(http.MethodPost, "/v1/tenant/close", f.OwnerKey, body), http.StatusBadRequest)
		if got := strings.Join(fields(t, p), ","); got != "confirm" {
			t.Errorf("%s: failing fields %q, want confirm", body, got)
		}
	}
	wantProblem(t, "agent key", e.call(http.MethodPost, "/v1/tenant/close", f.AgentKey, `{"confirm":"`+f.ID+`"}`), http.StatusForbidden)
	wantProblem(t, "operator", e.call(http.MethodPost, "/v1/tenant/close", platformToken, `{"confirm":"`+f.ID+`"}`), http.StatusForbidden)
	if after := e.itemCount(); after != before {
		t.Fatalf("items %d -> %d: a refused close wrote", before, after)
	}
	wantStatus(t, "still open", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusOK)

	res := e.call(http.MethodPost, "/v1/tenant/close", f.OwnerKey, `{"confirm":"`+f.ID+`"}`)
	wantStatus(t, "close", res, http.StatusAccepted)
	v := res.json(t)
	closedAt, _ := time.Parse(time.RFC3339, v["closedAt"].(string))
	deletionAt, _ := time.Parse(time.RFC3339, v["deletionAt"].(string))
	if v["status"] != "closed" || !closedAt.Equal(*now) || !deletionAt.Equal(now.Add(90*24*time.Hour)) {
		t.Fatalf("closed tenant %v, want status closed, closedAt now, deletionAt 90 days later", v)
	}

	wantProblem(t, "agent key of a closed account", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusUnauthorized)
	wantProblem(t, "owner key, other routes", e.call(http.MethodGet, "/v1/api-keys", f.OwnerKey, ""), http.StatusUnauthorized)
	wantProblem(t, "owner key, close again", e.call(http.MethodPost, "/v1/tenant/close", f.OwnerKey, `{"confirm":"`+f.ID+`"}`), http.StatusUnauthorized)
	wantProblem(t, "agent key, reopen", e.call(http.MethodPost, "/v1/tenant/reopen", f.AgentKey, `{}`), http.StatusUnauthorized)
	if widgetWorks(t, st, f) {
		t.Fatal("the widget key of a closed account still works")
	}
	res = e.call(http.MethodGet, "/v1/tenant", f.OwnerKey, "")
	wantStatus(t, "owner reads the closed tenant", res, http.StatusOK)
	if got := res.json(t); got["status"] != "closed" || got["deletionAt"] != v["deletionAt"] {
		t.Fatalf("GET /v1/tenant of a closed account: %v", got)
	}
	wantStatus(t, "the other tenant", e.call(http.MethodGet, "/v1/conversations", other.AgentKey, ""), http.StatusOK)

	*now = now.Add(89 * 24 * time.Hour)
	res = e.call(http.MethodPost, "/v1/tenant/reopen", f.OwnerKey, `{}`)
	wantStatus(t, "reopen within grace", res, http.StatusOK)
	if got := res.json(t); got["status"] != "active" || got["closedAt"] != nil || got["deletionAt"] != nil {
		t.Fatalf("reopened tenant %v", got)
	}
	rec, err := st.TenantRecord(context.Background(), f.ID)
	if err != nil || rec.Tenant.ClosedAt != nil || rec.ExpiresAt != now.Add(retention.TenantRenewal).Unix() {
		t.Fatalf("reopened profile %+v %v: want no closedAt and an active account's expiresAt", rec, err)
	}
	wantStatus(t, "agent key after reopen", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusOK)
	wantStatus(t, "owner key after reopen", e.call(http.MethodGet, "/v1/api-keys", f.OwnerKey, ""), http.StatusOK)
	if !widgetWorks(t, st, f) {
		t.Fatal("the widget key does not work after the reopen")
	}
	wantProblem(t, "reopen an open account", e.call(http.MethodPost, "/v1/tenant/reopen", f.OwnerKey, `{}`), http.StatusConflict)

	audit := e.auditItems(f.ID)
	for _, act := range []string{adminapi.ActTenantClose, adminapi.ActTenantReopen} {
		if !strings.Contains(audit, `"Action":"`+act+`"`) && !strings.Contains(audit, `"action":"`+act+`"`) {
			t.Errorf("no %s audit event: %s", act, audit)
		}
	}
	if strings.Contains(audit, "confirm") {
		t.Errorf("the audit trail holds the request body: %s", audit)
	}
}

// TestTenantClose_ReopenAfterGraceIsRefused: once the grace period is over
// the owner key only gets a 409 that says why from the reopen (and a 401
// elsewhere, GET /v1/tenant included), the operator's reopen is a 409 too,
// and the account stays closed.
func TestTenantClose_ReopenAfterGraceIsRefused(t *testing.T) {
	e, now, st := clockEnv(t)
	f := e.newFixture("Late")
	wantStatus(t, "shorter grace", e.call(http.MethodPatch, "/v1/tenant", f.OwnerKey, `{"retention":{"closedGraceDays":10}}`), http.StatusOK)
	wantStatus(t, "close", e.call(http.MethodPost, "/v1/tenant/close", f.OwnerKey, `{"confirm":"`+f.ID+`"}`), http.StatusAccepted)
	*now = now.Add(10 * 24 * time.Hour)
	p := wantProblem(t, "owner reopen after grace", e.call(http.MethodPost, "/v1/tenant/reopen", f.OwnerKey, `{}`), http.StatusConflict)
	if d, _ := p["detail"].(string); !strings.Contains(d, "grace period is over") {
		t.Errorf("detail %q does not say the grace period is over", d)
	}
	wantProblem(t, "operator reopen after grace", e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/reopen", platformToken, `{}`), http.StatusConflict)
	wantProblem(t, "owner reads after grace", e.call(http.MethodGet, "/v1/tenant", f.OwnerKey, ""), http.StatusUnauthorized)
	if widgetWorks(t, st, f) {
		t.Fatal("widget works after a refused reopen")
	}
	rec, err := st.TenantRecord(context.Background(), f.ID)
	if err != nil || rec.Tenant.Status != "closed" {
		t.Fatalf("after refused reopens: %+v %v", rec, err)
	}
}

// TestTenantClose_OperatorClosesAndReopens: the operator closes with an
// optional reason code and reopens; a missing tenant is 404 for both; an
// unknown reason is 400; each is audited in the tenant's trail (actor
// operator, ids and the reason code only).
func TestTenantClose_OperatorClosesAndReopens(t *testing.T) {
	e, _, st := clockEnv(t)
	f := e.newFixture("Operated")
	missing := "/v1/tenants/t0000000000000000000000000"
	wantProblem(t, "close missing", e.call(http.MethodPost, missing+"/close", platformToken, `{}`), http.StatusNotFound)
	wantProblem(t, "reopen missing", e.call(http.MethodPost, missing+"/reopen", platformToken, `{}`), http.StatusNotFound)
	wantProblem(t, "bad reason", e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/close", platformToken, `{"reason":"because I said so"}`), http.StatusBadRequest)
	wantProblem(t, "owner key on the operator's route", e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/close", f.OwnerKey, `{}`), http.StatusForbidden)
	wantProblem(t, "reopen open", e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/reopen", platformToken, `{}`), http.StatusConflict)

	res := e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/close", platformToken, `{"reason":"non_payment"}`)
	wantStatus(t, "operator close", res, http.StatusAccepted)
	if v := res.json(t); v["status"] != "closed" || v["deletionAt"] == nil {
		t.Fatalf("closed by the operator: %v", v)
	}
	wantStatus(t, "close again changes nothing", e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/close", platformToken, `{}`), http.StatusAccepted)
	wantProblem(t, "agent key", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusUnauthorized)
	if widgetWorks(t, st, f) {
		t.Fatal("widget works after the operator's close")
	}
	res = e.call(http.MethodPost, "/v1/tenants/"+f.ID+"/reopen", platformToken, `{}`)
	wantStatus(t, "operator reopen", res, http.StatusOK)
	wantStatus(t, "agent key after reopen", e.call(http.MethodGet, "/v1/conversations", f.AgentKey, ""), http.StatusOK)

	evs, _, err := st.AuditEvents(context.Background(), f.ID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range evs {
		if ev.Action != adminapi.ActTenantClose && ev.Action != adminapi.ActTenantReopen {
			continue
		}
		seen[ev.Action]++
		if ev.ActorRole != "operator" || ev.Targets["tenantId"] != f.ID {
			t.Errorf("audit event %+v: want actor operator and the tenant id", ev)
		}
		for k, v := range ev.Targets {
			if k != "tenantId" && !(k == "reason" && v == "non_payment") {
				t.Errorf("audit event %+v holds %s=%s", ev, k, v)
			}
		}
	}
	if seen[adminapi.ActTenantClose] != 2 || seen[adminapi.ActTenantReopen] != 1 {
		t.Fatalf("audited %v, want 2 closes and 1 reopen", seen)
	}
}
