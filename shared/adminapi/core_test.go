package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestHandler_RoutingAndAuthentication(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Acme")
	tests := []struct {
		name, method, path, key string
		status                  int
	}{
		{"unknown path is 404", http.MethodGet, "/v1/nothing", a.OwnerKey, 404},
		{"wrong method is 405", http.MethodDelete, "/v1/tenant", a.OwnerKey, 405},
		{"missing key is 401", http.MethodGet, "/v1/tenant", "", 401},
		{"malformed key is 401", http.MethodGet, "/v1/tenant", "nonsense", 401},
		{"wrong secret is 401", http.MethodGet, "/v1/tenant", a.OwnerKey[:len(a.OwnerKey)-2] + "zz", 401},
		{"operator token on tenant route is 403", http.MethodGet, "/v1/tenant", platformToken, 403},
		{"owner key on operator route is 403", http.MethodPost, "/v1/tenants", a.OwnerKey, 403},
		{"owner key reads its tenant", http.MethodGet, "/v1/tenant", a.OwnerKey, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(tc.method, tc.path, tc.key, "")
			if tc.status >= 400 {
				wantProblem(t, tc.name, res, tc.status)
			} else {
				wantStatus(t, tc.name, res, tc.status)
			}
			if tc.status == 405 && res.Headers["Allow"] == "" {
				t.Fatal("405 without Allow header")
			}
			if tc.status == 401 && !strings.HasPrefix(res.Headers["WWW-Authenticate"], "Bearer") {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHandler_StagePrefixIsStripped(t *testing.T) {
	e := newEnv(t)
	a := e.newTenant("Acme")
	res := e.callStage("dev", http.MethodGet, "/dev/v1/tenant", a.OwnerKey)
	wantStatus(t, "staged path", res, 200)
}
